/* spool.h — append-only event spool file used while PostgreSQL is unreachable (file I/O only). */
#ifndef DAZ_SPOOL_H
#define DAZ_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event;

/*
 * File format (little-endian): a sequence of records
 *   magic u32 = SPOOL_MAGIC | len u32 (payload bytes) | crc32c u32 (of payload) | payload
 * payload = one event: version u8 = 1, id[16], received_us i64, server_time_ms i64, tags u32,
 * then room, type, actor, payload as (u32 length, bytes); length 0xFFFFFFFF = NULL.
 * A record is valid only when complete and its checksum matches; reading stops at the first
 * invalid one (a crash mid-write leaves a torn tail) and reports the bytes skipped.
 */
#define SPOOL_MAGIC      0x315a5344u /* "DSZ1" */
#define SPOOL_HEADER     12u         /* magic + len + crc */
#define SPOOL_RECORD_MAX (4u << 20)  /* larger records are refused (frames are <= 1 MiB) */
#define SPOOL_FILE_NAME  "dazd.spool"

struct spool; /* opaque: an open spool file */

/*
 * Open (creating if needed) dir/file_name (file_name NULL = SPOOL_FILE_NAME; dir created with
 * mode 0700 if missing). Appends go after the last valid record: a torn tail left by a crash is
 * cut off here, its size reported in *torn_bytes (may be NULL). Caller closes with spool_close.
 */
int spool_open(const char *dir, const char *file_name, int64_t max_bytes, struct spool **out,
               int64_t *torn_bytes, char *err, size_t errlen) __attribute__((warn_unused_result));

/* fsync if dirty, close, free. spool_close(NULL) is a no-op. */
void spool_close(struct spool *sp);

/* Append one event (borrowed). -1 with err when the file is full (would pass max_bytes) or on an
 * I/O error; the file is unchanged then (a partial write is cut back). No fsync. */
int spool_append(struct spool *sp, const struct event *ev, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* fsync the file if anything was appended since the last sync. */
int spool_sync(struct spool *sp, char *err, size_t errlen) __attribute__((warn_unused_result));

int64_t spool_size(const struct spool *sp);  /* bytes in the file (all valid records) */
int64_t spool_count(const struct spool *sp); /* records in the file */
int64_t spool_max_bytes(const struct spool *sp);
const char *spool_path(const struct spool *sp); /* borrowed */

/* Bytes a record for ev would take in the file. */
size_t spool_record_size(const struct event *ev);

/* Would an event of record size rec fit under max_bytes? */
bool spool_fits(const struct spool *sp, size_t rec);

/* Empty the file (after a successful replay) and fsync it. */
int spool_truncate(struct spool *sp, char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * Make room for need_bytes by rewriting the file without the oldest events of the lowest drop
 * class (spool_drop_class), class by class, until it fits. Never drops class 2 events (chat and
 * everything else not listed) unless allow_valuable. Writes a new file and renames it over the
 * old one (fsynced). *dropped gets the number of events removed. -1 on I/O error.
 */
int spool_make_room(struct spool *sp, size_t need_bytes, bool allow_valuable, int64_t *dropped,
                    char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * Drop class of an event by its tags: 0 = dropped first (update: mediaUpdate), 1 = next
 * (presence/user, unknown), 2 = keep (chat, media changes, queue, system, ...). The same order
 * serves the in-memory buffer when it is full.
 */
int spool_drop_class(uint32_t tags);

/* ---- Reading (replay) ------------------------------------------------------------------- */

struct spool_reader; /* opaque */

/* Open path for reading from the start. Caller closes with spool_reader_close. */
int spool_reader_open(const char *path, struct spool_reader **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * Next event: 1 and *ev (caller frees with event_free), 0 at the end of the valid records, -1 on
 * an I/O error. At the end, spool_reader_skipped tells how many trailing bytes were torn or
 * corrupt (0 for a clean file).
 */
int spool_reader_next(struct spool_reader *r, struct event **ev, char *err, size_t errlen)
    __attribute__((warn_unused_result));

int64_t spool_reader_skipped(const struct spool_reader *r);
int64_t spool_reader_offset(const struct spool_reader *r); /* end of the last valid record read */
void spool_reader_close(struct spool_reader *r);           /* NULL is a no-op */

/* CRC-32C (Castagnoli) of buf, continuing from crc (start with 0). */
uint32_t spool_crc32c(uint32_t crc, const void *buf, size_t len);

/* Serialise ev into buf (the record payload, without header). Returns bytes needed; writes only
 * when buflen is large enough. */
size_t spool_encode_event(const struct event *ev, uint8_t *buf, size_t buflen);

/* Parse a record payload; new event (caller frees) or NULL when malformed. */
struct event *spool_decode_event(const uint8_t *buf, size_t len);

#endif

/* spool.c — append-only event spool file used while PostgreSQL is unreachable (file I/O only). */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "event.h"

#define SPOOL_VERSION 1
#define NULL_LEN      0xffffffffu
#define FIXED_PART    (1 + 16 + 8 + 8 + 4) /* version, id, received, server time, tags */

struct spool {
	int fd;
	char *path;
	char *dir;
	int64_t size;  /* bytes of valid records */
	int64_t count; /* records */
	int64_t max_bytes;
	bool dirty; /* appended since the last fsync */
};

struct spool_reader {
	FILE *f;
	int64_t offset;  /* end of the last valid record */
	int64_t skipped; /* bytes after it that could not be read (set at the end) */
	bool done;
	uint8_t *buf;
	size_t cap;
};

/* ---- CRC-32C ---------------------------------------------------------------------------- */

static uint32_t crc_table[256];
static bool crc_ready;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_table[i] = c;
	}
	crc_ready = true;
}

uint32_t spool_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	if (!crc_ready)
		crc_init();
	crc = ~crc;
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* ---- Record payload --------------------------------------------------------------------- */

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

size_t spool_encode_event(const struct event *ev, uint8_t *buf, size_t buflen)
{
	const char *strs[4] = {ev->room, ev->type, ev->actor, ev->payload};
	size_t need = FIXED_PART, pos;
	for (int i = 0; i < 4; i++)
		need += 4 + (strs[i] ? strlen(strs[i]) : 0);
	if (!buf || buflen < need)
		return need;
	buf[0] = SPOOL_VERSION;
	memcpy(buf + 1, ev->id, 16);
	put_u64(buf + 17, (uint64_t)ev->received_us);
	put_u64(buf + 25, (uint64_t)ev->server_time_ms);
	put_u32(buf + 33, ev->tags);
	pos = FIXED_PART;
	for (int i = 0; i < 4; i++) {
		if (!strs[i]) {
			put_u32(buf + pos, NULL_LEN);
			pos += 4;
			continue;
		}
		size_t l = strlen(strs[i]);
		put_u32(buf + pos, (uint32_t)l);
		memcpy(buf + pos + 4, strs[i], l);
		pos += 4 + l;
	}
	return need;
}

struct event *spool_decode_event(const uint8_t *buf, size_t len)
{
	char *strs[4] = {NULL, NULL, NULL, NULL};
	size_t pos = FIXED_PART;
	struct event *ev = NULL;

	if (len < FIXED_PART || buf[0] != SPOOL_VERSION)
		return NULL;
	for (int i = 0; i < 4; i++) {
		uint32_t l;
		if (len - pos < 4)
			goto out;
		l = get_u32(buf + pos);
		pos += 4;
		if (l == NULL_LEN) {
			if (i < 2)
				goto out; /* room and type are never NULL */
			continue;
		}
		if (l > len - pos || memchr(buf + pos, '\0', l))
			goto out;
		strs[i] = malloc(l + 1);
		if (!strs[i])
			goto out;
		memcpy(strs[i], buf + pos, l);
		strs[i][l] = '\0';
		pos += l;
	}
	if (pos != len)
		goto out;
	ev = event_new(buf + 1, (int64_t)get_u64(buf + 17), (int64_t)get_u64(buf + 25),
	               get_u32(buf + 33), strs[0], strs[1], strs[2], strs[3]);
out:
	for (int i = 0; i < 4; i++)
		free(strs[i]);
	return ev;
}

size_t spool_record_size(const struct event *ev)
{
	return SPOOL_HEADER + spool_encode_event(ev, NULL, 0);
}

int spool_drop_class(uint32_t tags)
{
	if (tags & EVENT_TAG_UPDATE)
		return 0;
	if (tags & (EVENT_TAG_CHAT | EVENT_TAG_SYSTEM | EVENT_TAG_QUEUE | EVENT_TAG_CHANGE))
		return 2;
	if (tags & (EVENT_TAG_PRESENCE | EVENT_TAG_USER | EVENT_TAG_UNKNOWN))
		return 1;
	return 2;
}

/* ---- Reader ----------------------------------------------------------------------------- */

static void set_err(char *err, size_t errlen, const char *what, const char *path)
{
	if (err && errlen)
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
}

int spool_reader_open(const char *path, struct spool_reader **out, char *err, size_t errlen)
{
	struct spool_reader *r = calloc(1, sizeof(*r));
	*out = NULL;
	if (!r) {
		set_err(err, errlen, "allocating reader for", path);
		return -1;
	}
	r->f = fopen(path, "rbe");
	if (!r->f) {
		set_err(err, errlen, "opening", path);
		free(r);
		return -1;
	}
	*out = r;
	return 0;
}

/* Read one valid record's payload into r->buf. 1 = record (len in *len), 0 = end/invalid. */
static int read_record(struct spool_reader *r, size_t *len, char *err, size_t errlen)
{
	uint8_t hdr[SPOOL_HEADER];
	uint32_t l, crc;
	if (fread(hdr, 1, SPOOL_HEADER, r->f) != SPOOL_HEADER)
		goto end;
	if (get_u32(hdr) != SPOOL_MAGIC)
		goto end;
	l = get_u32(hdr + 4);
	crc = get_u32(hdr + 8);
	if (l > SPOOL_RECORD_MAX || l < FIXED_PART)
		goto end;
	if (l > r->cap) {
		uint8_t *nb = realloc(r->buf, l);
		if (!nb) {
			if (err && errlen)
				snprintf(err, errlen, "out of memory reading spool");
			return -1;
		}
		r->buf = nb;
		r->cap = l;
	}
	if (fread(r->buf, 1, l, r->f) != l)
		goto end;
	if (spool_crc32c(0, r->buf, l) != crc)
		goto end;
	*len = l;
	return 1;
end:
	if (ferror(r->f)) {
		if (err && errlen)
			snprintf(err, errlen, "reading spool: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void finish(struct spool_reader *r)
{
	struct stat st;
	r->done = true;
	if (fstat(fileno(r->f), &st) == 0 && st.st_size > r->offset)
		r->skipped = st.st_size - r->offset;
}

int spool_reader_next(struct spool_reader *r, struct event **ev, char *err, size_t errlen)
{
	size_t len;
	int rc;
	*ev = NULL;
	if (r->done)
		return 0;
	rc = read_record(r, &len, err, errlen);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		finish(r);
		return 0;
	}
	*ev = spool_decode_event(r->buf, len);
	if (!*ev) {
		/* checksum fine but content malformed: treat like corruption, stop here */
		finish(r);
		return 0;
	}
	r->offset += SPOOL_HEADER + (int64_t)len;
	return 1;
}

int64_t spool_reader_skipped(const struct spool_reader *r)
{
	return r->skipped;
}

int64_t spool_reader_offset(const struct spool_reader *r)
{
	return r->offset;
}

void spool_reader_close(struct spool_reader *r)
{
	if (!r)
		return;
	if (r->f)
		fclose(r->f);
	free(r->buf);
	free(r);
}

/* Scan a spool file: valid size, record count and (optionally) per drop-class byte totals. */
static int scan(const char *path, int64_t *valid, int64_t *count, char *err, size_t errlen)
{
	struct spool_reader *r;
	size_t len;
	int rc;
	*valid = 0;
	*count = 0;
	if (spool_reader_open(path, &r, err, errlen) < 0)
		return -1;
	while ((rc = read_record(r, &len, err, errlen)) == 1) {
		r->offset += SPOOL_HEADER + (int64_t)len;
		(*count)++;
	}
	*valid = r->offset;
	spool_reader_close(r);
	return rc < 0 ? -1 : 0;
}

/* ---- Writer ----------------------------------------------------------------------------- */

static char *join_path(const char *dir, const char *name)
{
	size_t n = strlen(dir) + 1 + strlen(name) + 1;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

int spool_open(const char *dir, const char *file_name, int64_t max_bytes, struct spool **out,
               int64_t *torn_bytes, char *err, size_t errlen)
{
	struct spool *sp = NULL;
	struct stat st;
	int64_t valid, count;

	*out = NULL;
	if (torn_bytes)
		*torn_bytes = 0;
	if (!file_name)
		file_name = SPOOL_FILE_NAME;
	if (strchr(file_name, '/')) {
		if (err && errlen)
			snprintf(err, errlen, "spool file name must not contain '/': %s",
			         file_name);
		return -1;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		set_err(err, errlen, "creating spool directory", dir);
		return -1;
	}
	sp = calloc(1, sizeof(*sp));
	if (!sp)
		goto oom;
	sp->fd = -1;
	sp->max_bytes = max_bytes;
	sp->dir = strdup(dir);
	sp->path = join_path(dir, file_name);
	if (!sp->dir || !sp->path)
		goto oom;
	sp->fd = open(sp->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (sp->fd < 0) {
		set_err(err, errlen, "opening spool", sp->path);
		goto fail;
	}
	if (scan(sp->path, &valid, &count, err, errlen) < 0)
		goto fail;
	if (fstat(sp->fd, &st) < 0) {
		set_err(err, errlen, "stat of spool", sp->path);
		goto fail;
	}
	if (st.st_size > valid) {
		/* torn tail from a crash mid-write: cut it so appends follow valid records */
		if (ftruncate(sp->fd, valid) < 0) {
			set_err(err, errlen, "truncating torn tail of", sp->path);
			goto fail;
		}
		if (torn_bytes)
			*torn_bytes = st.st_size - valid;
	}
	if (lseek(sp->fd, valid, SEEK_SET) < 0) {
		set_err(err, errlen, "seeking in", sp->path);
		goto fail;
	}
	sp->size = valid;
	sp->count = count;
	*out = sp;
	return 0;
oom:
	if (err && errlen)
		snprintf(err, errlen, "out of memory opening spool");
fail:
	spool_close(sp);
	return -1;
}

void spool_close(struct spool *sp)
{
	if (!sp)
		return;
	if (sp->fd >= 0) {
		if (sp->dirty)
			(void)fdatasync(sp->fd);
		close(sp->fd);
	}
	free(sp->path);
	free(sp->dir);
	free(sp);
}

static int write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Header + payload of ev in a new buffer (caller frees). */
static uint8_t *encode_record(const struct event *ev, size_t *total)
{
	size_t plen = spool_encode_event(ev, NULL, 0);
	uint8_t *rec;
	if (plen > SPOOL_RECORD_MAX)
		return NULL;
	rec = malloc(SPOOL_HEADER + plen);
	if (!rec)
		return NULL;
	spool_encode_event(ev, rec + SPOOL_HEADER, plen);
	put_u32(rec, SPOOL_MAGIC);
	put_u32(rec + 4, (uint32_t)plen);
	put_u32(rec + 8, spool_crc32c(0, rec + SPOOL_HEADER, plen));
	*total = SPOOL_HEADER + plen;
	return rec;
}

int spool_append(struct spool *sp, const struct event *ev, char *err, size_t errlen)
{
	size_t total;
	uint8_t *rec;
	int saved;

	if (spool_record_size(ev) - SPOOL_HEADER > SPOOL_RECORD_MAX) {
		if (err && errlen)
			snprintf(err, errlen, "event too large for the spool");
		return -1;
	}
	if (!spool_fits(sp, spool_record_size(ev))) {
		if (err && errlen)
			snprintf(err, errlen, "spool full (%lld of %lld bytes)",
			         (long long)sp->size, (long long)sp->max_bytes);
		return -1;
	}
	rec = encode_record(ev, &total);
	if (!rec) {
		if (err && errlen)
			snprintf(err, errlen, "out of memory encoding spool record");
		return -1;
	}
	if (write_all(sp->fd, rec, total) < 0) {
		saved = errno;
		/* cut back a partial write so the file stays a sequence of whole records */
		if (ftruncate(sp->fd, sp->size) == 0)
			(void)lseek(sp->fd, sp->size, SEEK_SET);
		errno = saved;
		set_err(err, errlen, "writing", sp->path);
		free(rec);
		return -1;
	}
	free(rec);
	sp->size += (int64_t)total;
	sp->count++;
	sp->dirty = true;
	return 0;
}

int spool_sync(struct spool *sp, char *err, size_t errlen)
{
	if (!sp->dirty)
		return 0;
	if (fdatasync(sp->fd) < 0) {
		set_err(err, errlen, "fsync of", sp->path);
		return -1;
	}
	sp->dirty = false;
	return 0;
}

int64_t spool_size(const struct spool *sp)
{
	return sp->size;
}

int64_t spool_count(const struct spool *sp)
{
	return sp->count;
}

int64_t spool_max_bytes(const struct spool *sp)
{
	return sp->max_bytes;
}

const char *spool_path(const struct spool *sp)
{
	return sp->path;
}

bool spool_fits(const struct spool *sp, size_t rec)
{
	return sp->size + (int64_t)rec <= sp->max_bytes;
}

int spool_truncate(struct spool *sp, char *err, size_t errlen)
{
	if (ftruncate(sp->fd, 0) < 0 || lseek(sp->fd, 0, SEEK_SET) < 0) {
		set_err(err, errlen, "truncating", sp->path);
		return -1;
	}
	if (fsync(sp->fd) < 0) {
		set_err(err, errlen, "fsync of", sp->path);
		return -1;
	}
	sp->size = 0;
	sp->count = 0;
	sp->dirty = false;
	return 0;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int spool_make_room(struct spool *sp, size_t need_bytes, bool allow_valuable, int64_t *dropped,
                    char *err, size_t errlen)
{
	int64_t class_bytes[3] = {0, 0, 0}, drop_n[3] = {0, 0, 0}, seen[3] = {0, 0, 0};
	int64_t to_free, freed = 0, kept = 0, kept_count = 0;
	struct spool_reader *r = NULL;
	char *tmp = NULL;
	int tfd = -1, rc;
	size_t len;

	*dropped = 0;
	/* free a tenth of the spool beyond the need so compaction does not run for every event */
	to_free = sp->size + (int64_t)need_bytes - sp->max_bytes + sp->max_bytes / 10;
	if (to_free <= 0 || sp->count == 0)
		return 0;

	/* pass 1: bytes per class, in file order, to find how many of each class's oldest go */
	if (spool_reader_open(sp->path, &r, err, errlen) < 0)
		return -1;
	while ((rc = read_record(r, &len, err, errlen)) == 1)
		class_bytes[spool_drop_class(get_u32(r->buf + 33))] += SPOOL_HEADER + (int64_t)len;
	spool_reader_close(r);
	r = NULL;
	if (rc < 0)
		return -1;
	int64_t remain = to_free;
	for (int c = 0; c < 3 && remain > 0; c++) {
		if (c == 2 && !allow_valuable)
			break;
		/* mark as "drop up to remain bytes of this class"; exact count found in pass 2 */
		drop_n[c] = class_bytes[c] < remain ? class_bytes[c] : remain;
		remain -= drop_n[c];
	}

	/* pass 2: copy records, skipping the oldest of each class until its byte quota is met */
	size_t tl = strlen(sp->path) + 5;
	tmp = malloc(tl);
	if (!tmp)
		goto oom;
	snprintf(tmp, tl, "%s.tmp", sp->path);
	tfd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (tfd < 0) {
		set_err(err, errlen, "creating", tmp);
		goto fail;
	}
	if (spool_reader_open(sp->path, &r, err, errlen) < 0)
		goto fail;
	while ((rc = read_record(r, &len, err, errlen)) == 1) {
		int c = spool_drop_class(get_u32(r->buf + 33));
		int64_t recsz = SPOOL_HEADER + (int64_t)len;
		if (seen[c] < drop_n[c]) {
			seen[c] += recsz;
			freed += recsz;
			(*dropped)++;
			continue;
		}
		uint8_t hdr[SPOOL_HEADER];
		put_u32(hdr, SPOOL_MAGIC);
		put_u32(hdr + 4, (uint32_t)len);
		put_u32(hdr + 8, spool_crc32c(0, r->buf, len));
		if (write_all(tfd, hdr, sizeof(hdr)) < 0 || write_all(tfd, r->buf, len) < 0) {
			set_err(err, errlen, "writing", tmp);
			goto fail;
		}
		kept += recsz;
		kept_count++;
	}
	if (rc < 0)
		goto fail;
	spool_reader_close(r);
	r = NULL;
	if (fsync(tfd) < 0) {
		set_err(err, errlen, "fsync of", tmp);
		goto fail;
	}
	if (rename(tmp, sp->path) < 0) {
		set_err(err, errlen, "renaming", tmp);
		goto fail;
	}
	(void)fsync_dir(sp->dir);
	close(sp->fd);
	sp->fd = tfd; /* the renamed file is now the spool; keep appending through this fd */
	tfd = -1;
	if (lseek(sp->fd, kept, SEEK_SET) < 0) {
		set_err(err, errlen, "seeking in", sp->path);
		goto fail;
	}
	sp->size = kept;
	sp->count = kept_count;
	sp->dirty = false;
	free(tmp);
	(void)freed;
	return 0;
oom:
	if (err && errlen)
		snprintf(err, errlen, "out of memory compacting spool");
fail:
	spool_reader_close(r);
	if (tfd >= 0) {
		close(tfd);
		(void)unlink(tmp);
	}
	free(tmp);
	*dropped = 0;
	return -1;
}

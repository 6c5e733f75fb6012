/* ingest.h — batching events into daz.ingest, memory buffer, spool while the database is down. */
#ifndef DAZD_INGEST_H
#define DAZD_INGEST_H

#include <stdbool.h>
#include <stddef.h>

struct dazd;
struct event;

/* Create (reads d->cfg: ingest.batch_max, ingest.flush_ms, ingest.buffer_max, spool.*). */
struct ingest *ingest_new(struct dazd *d) __attribute__((warn_unused_result));
void ingest_free(struct ingest *in);

/* Apply changed ingest/spool settings after a reload. */
void ingest_reconfigure(struct ingest *in);

/* Take ownership of ev (freed by ingest). Never fails: over the bounds, events are spooled or
 * the oldest low-value ones dropped (counted, logged). */
void ingest_push(struct ingest *in, struct event *ev);

/* The database connection came up / went down (called from the db pg_conn's state callback). */
void ingest_db_state(struct ingest *in, bool up);

/* Draining: write what is buffered now (to the database or the spool). */
void ingest_drain(struct ingest *in);
/* Drain timed out: append everything still in memory to the spool now. */
void ingest_spool_now(struct ingest *in);
/* Nothing buffered in memory and nothing in flight. */
bool ingest_idle(const struct ingest *in);

/* Gauges for metrics. */
size_t ingest_buffered(const struct ingest *in);
size_t ingest_buffered_bytes(const struct ingest *in); /* bytes of the events queued in memory */
unsigned long long ingest_spool_bytes(const struct ingest *in);

#endif

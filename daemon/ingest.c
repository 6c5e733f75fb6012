/* ingest.c — batching events into daz.ingest, memory buffer, spool while the database is down. */
#include "ingest.h"

#include <libpqtypes.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfg.h"
#include "dazd.h"
#include "event.h"
#include "log.h"
#include "metrics.h"
#include "pg.h"
#include "spool.h"

#define SYNC_MS        1000 /* spool fsync period */
#define ERROR_RETRY_MS 1000 /* pause after a failed daz.ingest before trying again */

struct ingest {
	struct dazd *d;
	int batch_max, flush_ms, buffer_max;
	size_t buffer_max_bytes;

	/* memory FIFO (ring of owned events) */
	struct event **q;
	size_t q_cap, q_head, q_len;
	size_t q_bytes; /* event_mem_size of the events in q */

	/* the batch in flight */
	struct event **batch;
	size_t batch_n;
	bool inflight;
	bool batch_is_replay;
	int64_t batch_sent_us;
	int64_t build_us;   /* time spent encoding the last batch */
	size_t single_left; /* after an SQL error: send this many events one by one */

	bool db_up;
	bool draining;
	bool paused_after_error;

	struct spool *sp;
	struct spool_reader *rd; /* replay in progress */
	int64_t replay_read;     /* records read from the spool in this replay */
	bool replay_pending;     /* spool has records to replay before memory */

	lws_sorted_usec_list_t sul_flush, sul_sync, sul_error;
	bool flush_scheduled;
};

static void pump(struct ingest *in);

/* ---- memory FIFO ------------------------------------------------------------------------ */

static int q_grow(struct ingest *in)
{
	size_t cap = in->q_cap ? in->q_cap * 2 : 1024;
	struct event **nq = malloc(cap * sizeof(*nq));

	if (!nq)
		return -1;
	for (size_t i = 0; i < in->q_len; i++)
		nq[i] = in->q[(in->q_head + i) % in->q_cap];
	free(in->q);
	in->q = nq;
	in->q_cap = cap;
	in->q_head = 0;
	return 0;
}

static int q_push_back(struct ingest *in, struct event *ev)
{
	if (in->q_len == in->q_cap && q_grow(in) != 0)
		return -1;
	in->q[(in->q_head + in->q_len) % in->q_cap] = ev;
	in->q_len++;
	in->q_bytes += event_mem_size(ev);
	return 0;
}

static int q_push_front(struct ingest *in, struct event *ev)
{
	if (in->q_len == in->q_cap && q_grow(in) != 0)
		return -1;
	in->q_head = (in->q_head + in->q_cap - 1) % in->q_cap;
	in->q[in->q_head] = ev;
	in->q_len++;
	in->q_bytes += event_mem_size(ev);
	return 0;
}

static struct event *q_pop(struct ingest *in)
{
	struct event *ev;

	if (!in->q_len)
		return NULL;
	ev = in->q[in->q_head];
	in->q_head = (in->q_head + 1) % in->q_cap;
	in->q_len--;
	in->q_bytes -= event_mem_size(ev);
	return ev;
}

static struct event *q_peek(const struct ingest *in)
{
	return in->q_len ? in->q[in->q_head] : NULL;
}

/* ---- metrics ---------------------------------------------------------------------------- */

static void count(struct ingest *in, const char *name, const struct event *ev, const char *reason)
{
	char labels[300];

	if (reason)
		metrics_labels(labels, sizeof(labels), "room", ev->room, "type", ev->type, "reason",
		               reason, NULL);
	else
		metrics_labels(labels, sizeof(labels), "room", ev->room, "type", ev->type, NULL);
	metrics_add(in->d->metrics, name, labels, 1);
}

static void gauges(struct ingest *in)
{
	metrics_set(in->d->metrics, "dazd_ingest_buffer_events", "",
	            (double)(in->q_len + in->batch_n));
	metrics_set(in->d->metrics, "dazd_ingest_buffer_bytes", "", (double)in->q_bytes);
	metrics_set(in->d->metrics, "dazd_spool_bytes", "",
	            in->sp ? (double)spool_size(in->sp) : 0);
	metrics_set(in->d->metrics, "dazd_spool_events", "",
	            in->sp ? (double)spool_count(in->sp) : 0);
}

/* ---- spool ------------------------------------------------------------------------------ */

static void drop(struct ingest *in, struct event *ev, const char *reason)
{
	count(in, "dazd_events_dropped_total", ev, reason);
	event_free(ev);
}

/* Append one event to the spool, making room by dropping low-value events if it is full. */
static void spool_one(struct ingest *in, struct event *ev)
{
	char err[256];
	int64_t dropped = 0;

	if (!in->sp) {
		log_error("ingest", "no spool file: event %s of %s dropped", ev->type, ev->room);
		drop(in, ev, "no_spool");
		return;
	}
	if (!spool_fits(in->sp, spool_record_size(ev))) {
		if (spool_make_room(in->sp, spool_record_size(ev), false, &dropped, err,
		                    sizeof(err)) != 0 ||
		    !spool_fits(in->sp, spool_record_size(ev))) {
			int64_t more = 0;
			if (spool_make_room(in->sp, spool_record_size(ev), true, &more, err,
			                    sizeof(err)) != 0)
				log_error("ingest", "spool: %s", err);
			dropped += more;
		}
		if (dropped) {
			log_warn("ingest",
			         "spool full (%lld bytes): dropped %lld oldest low-value events",
			         (long long)spool_max_bytes(in->sp), (long long)dropped);
			metrics_add(in->d->metrics, "dazd_events_dropped_total",
			            "room=\"*\",type=\"*\",reason=\"spool_full\"", (double)dropped);
		}
		/* A replay reader counts records: the file was rewritten, start it again. */
		if (in->rd) {
			spool_reader_close(in->rd);
			in->rd = NULL;
			in->replay_read = 0;
		}
	}
	if (spool_append(in->sp, ev, err, sizeof(err)) != 0) {
		log_error("ingest", "spool append failed, event %s of %s dropped: %s", ev->type,
		          ev->room, err);
		drop(in, ev, "spool_error");
		return;
	}
	metrics_add(in->d->metrics, "dazd_spool_written_total", "", 1);
	in->replay_pending = true;
	event_free(ev);
}

/* Move every event held in memory to the spool (oldest first). */
static void spill_memory(struct ingest *in, const char *why)
{
	size_t n = in->q_len;
	bool first = !in->sp || spool_count(in->sp) == 0;
	struct event *ev;

	if (!n)
		return;
	while ((ev = q_pop(in)) != NULL)
		spool_one(in, ev);
	/* One line when spooling starts; the rest at debug level (metrics have the totals). */
	LOG_AT(first ? LOG_LVL_INFO : LOG_LVL_DEBUG, "ingest",
	       "%s: %zu events written to the spool (%lld bytes)", why, n,
	       in->sp ? (long long)spool_size(in->sp) : 0LL);
	gauges(in);
}

static void sync_cb(lws_sorted_usec_list_t *sul)
{
	struct ingest *in = lws_container_of(sul, struct ingest, sul_sync);
	char err[256];

	if (in->sp && spool_sync(in->sp, err, sizeof(err)) != 0)
		log_error("ingest", "spool fsync: %s", err);
	lws_sul_schedule(in->d->lws, 0, &in->sul_sync, sync_cb, SYNC_MS * LWS_US_PER_MS);
}

/* ---- batches ---------------------------------------------------------------------------- */

static void to_pgts(int64_t us, PGtimestamp *ts)
{
	time_t s = (time_t)(us / 1000000);
	int64_t frac = us % 1000000;
	struct tm tm;

	if (frac < 0) {
		frac += 1000000;
		s -= 1;
	}
	gmtime_r(&s, &tm);
	memset(ts, 0, sizeof(*ts));
	ts->epoch = (PGint8)s;
	ts->date.isbc = 0;
	ts->date.year = tm.tm_year + 1900;
	ts->date.mon = tm.tm_mon;
	ts->date.mday = tm.tm_mday;
	ts->date.yday = tm.tm_yday;
	ts->date.wday = tm.tm_wday;
	ts->time.hour = tm.tm_hour;
	ts->time.min = tm.tm_min;
	ts->time.sec = tm.tm_sec;
	ts->time.usec = (int)frac;
	ts->time.withtz = 1;
	ts->time.gmtoff = 0;
	snprintf(ts->time.tzabbr, sizeof(ts->time.tzabbr), "UTC");
}

/* Build the daz.event_in[] parameter and send SELECT daz.ingest($1). */
static int batch_send(PGconn *conn, void *arg)
{
	struct ingest *in = arg;
	PGparam *param = PQparamCreate(conn);
	PGarray arr;
	int ok = 0;

	memset(&arr, 0, sizeof(arr));
	arr.param = PQparamCreate(conn);
	if (!param || !arr.param)
		goto fail;
	for (size_t i = 0; i < in->batch_n; i++) {
		const struct event *ev = in->batch[i];
		char roomtag[EVENT_ROOM_MAX + 8];
		const char *tags[EVENT_N_TAGS + 1];
		size_t nt = event_tags_list(ev, roomtag, tags, EVENT_N_TAGS + 1);
		PGparam *row = PQparamCreate(conn);
		PGarray ta;
		PGtimestamp recv, st;
		int rc;

		memset(&ta, 0, sizeof(ta));
		ta.param = PQparamCreate(conn);
		if (!row || !ta.param) {
			PQparamClear(row);
			PQparamClear(ta.param);
			goto fail;
		}
		for (size_t k = 0; k < nt; k++)
			if (!PQputf(ta.param, "%text", tags[k]))
				break;
		to_pgts(ev->received_us, &recv);
		if (ev->server_time_ms != EVENT_NO_TIME)
			to_pgts(ev->server_time_ms * 1000, &st);
		rc = PQputf(row, "%uuid %timestamptz %text %text %text[] %text %timestamptz %jsonb",
		            (PGuuid)ev->id, &recv, ev->room, ev->type, &ta, ev->actor,
		            ev->server_time_ms != EVENT_NO_TIME ? &st : NULL, ev->payload);
		if (rc)
			rc = PQputf(arr.param, "%daz.event_in", row);
		PQparamClear(row);
		PQparamClear(ta.param);
		if (!rc)
			goto fail;
	}
	if (!PQputf(param, "%daz.event_in[]", &arr))
		goto fail;
	in->build_us = dazd_wall_us() - in->batch_sent_us;
	ok = PQparamSendQuery(conn, param, "SELECT daz.ingest($1)", 0);
	if (!ok)
		log_error("ingest", "sending daz.ingest failed: %s", PQgeterror());
	PQparamClear(arr.param);
	PQparamClear(param);
	return ok ? 0 : -1;
fail:
	log_error("ingest", "building the daz.ingest batch failed: %s", PQgeterror());
	PQparamClear(arr.param);
	PQparamClear(param);
	return -1;
}

static void batch_free_events(struct ingest *in)
{
	for (size_t i = 0; i < in->batch_n; i++)
		event_free(in->batch[i]);
	in->batch_n = 0;
}

/* Return the in-flight batch to the front of the memory FIFO (order kept). */
static void batch_requeue(struct ingest *in)
{
	for (size_t i = in->batch_n; i > 0; i--)
		if (q_push_front(in, in->batch[i - 1]) != 0)
			drop(in, in->batch[i - 1], "oom");
	in->batch_n = 0;
}

/* A replay batch was not stored: forget it and read the same records again next time (the
 * reader reopens and skips what was stored before it). */
static void replay_rewind(struct ingest *in)
{
	in->replay_read -= (int64_t)in->batch_n;
	if (in->replay_read < 0)
		in->replay_read = 0;
	batch_free_events(in);
	spool_reader_close(in->rd);
	in->rd = NULL;
}

static void error_retry_cb(lws_sorted_usec_list_t *sul)
{
	struct ingest *in = lws_container_of(sul, struct ingest, sul_error);

	in->paused_after_error = false;
	pump(in);
}

static bool transient_sqlstate(const char *st)
{
	/* connection, resources, operator intervention, serialization, deadlock */
	return st && (strncmp(st, "08", 2) == 0 || strncmp(st, "53", 2) == 0 ||
	              strncmp(st, "57", 2) == 0 || strcmp(st, "40001") == 0 ||
	              strcmp(st, "40P01") == 0 || strncmp(st, "55", 2) == 0);
}

static void batch_done(struct pg_conn *c, PGresult *res, void *arg)
{
	struct ingest *in = arg;
	double secs = (double)(dazd_wall_us() - in->batch_sent_us) / 1e6;
	char labels[64];

	(void)c;
	in->inflight = false;
	if (!res) {
		/* Connection lost: nothing is known to be stored (ingest is idempotent). */
		metrics_add(in->d->metrics, "dazd_ingest_batches_total",
		            metrics_labels(labels, sizeof(labels), "result", "lost", NULL), 1);
		if (in->batch_is_replay) {
			replay_rewind(in); /* still in the spool: read it again */
		} else {
			batch_requeue(in);
		}
		gauges(in);
		dazd_check_drained(in->d);
		return;
	}
	if (!pg_result_ok(res)) {
		const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		metrics_add(in->d->metrics, "dazd_ingest_batches_total",
		            metrics_labels(labels, sizeof(labels), "result", "error", NULL), 1);
		log_error("ingest", "daz.ingest of %zu events failed: %s", in->batch_n,
		          pg_result_error(res));
		if (transient_sqlstate(st) || in->batch_n > 1) {
			/* Retry; a data error is narrowed down by sending one event at a time. */
			if (!transient_sqlstate(st))
				in->single_left = in->batch_n;
			if (in->batch_is_replay) {
				replay_rewind(in);
			} else {
				batch_requeue(in);
			}
		} else {
			log_error("ingest", "event %s of %s rejected by the database and dropped",
			          in->batch[0]->type, in->batch[0]->room);
			drop(in, in->batch[0], "rejected");
			in->batch_n = 0;
		}
		in->paused_after_error = true;
		lws_sul_schedule(in->d->lws, 0, &in->sul_error, error_retry_cb,
		                 ERROR_RETRY_MS * LWS_US_PER_MS);
		gauges(in);
		return;
	}
	metrics_add(in->d->metrics, "dazd_ingest_batches_total",
	            metrics_labels(labels, sizeof(labels), "result", "ok", NULL), 1);
	metrics_observe(in->d->metrics, "dazd_ingest_batch_size", "", (double)in->batch_n);
	metrics_observe(in->d->metrics, "dazd_ingest_latency_seconds", "", secs);
	for (size_t i = 0; i < in->batch_n; i++)
		count(in, "dazd_events_stored_total", in->batch[i], NULL);
	if (in->batch_is_replay)
		metrics_add(in->d->metrics, "dazd_spool_replayed_total", "", (double)in->batch_n);
	log_debug("ingest", "stored %zu events in %.1f ms (encoding %.1f ms)%s", in->batch_n,
	          secs * 1000, (double)in->build_us / 1000,
	          in->batch_is_replay ? " (spool replay)" : "");
	batch_free_events(in);
	gauges(in);
	pump(in);
	dazd_check_drained(in->d);
}

static int send_batch(struct ingest *in, bool replay)
{
	in->batch_is_replay = replay;
	in->batch_sent_us = dazd_wall_us();
	if (pg_submit(in->d->db, batch_send, batch_done, in) != 0)
		return -1;
	in->inflight = true;
	return 0;
}

/* Read the next replay batch from the spool. Returns events read, 0 at the end. */
static size_t replay_fill(struct ingest *in, size_t limit)
{
	char err[256];
	struct event *ev;
	int rc;

	if (!in->rd) {
		if (spool_reader_open(spool_path(in->sp), &in->rd, err, sizeof(err)) != 0) {
			log_error("ingest", "spool replay: %s", err);
			return 0;
		}
		/* Skip what an earlier pass of this replay already stored. */
		for (int64_t k = 0; k < in->replay_read; k++) {
			if (spool_reader_next(in->rd, &ev, err, sizeof(err)) != 1)
				break;
			event_free(ev);
		}
		if (in->replay_read == 0)
			log_info("ingest", "replaying %lld spooled events (%lld bytes)",
			         (long long)spool_count(in->sp), (long long)spool_size(in->sp));
	}
	while (in->batch_n < limit &&
	       (rc = spool_reader_next(in->rd, &ev, err, sizeof(err))) == 1) {
		in->batch[in->batch_n++] = ev;
		in->replay_read++;
	}
	return in->batch_n;
}

/* The replay reached the end of the valid records: empty the spool. */
static void replay_finish(struct ingest *in)
{
	char err[256];
	int64_t skipped = in->rd ? spool_reader_skipped(in->rd) : 0;

	if (in->rd && in->replay_read < spool_count(in->sp)) {
		/* Records were appended during the replay: read on from where we are. */
		spool_reader_close(in->rd);
		in->rd = NULL;
		return;
	}
	spool_reader_close(in->rd);
	in->rd = NULL;
	if (skipped > 0) {
		log_warn("ingest", "spool: skipped %lld torn or corrupt bytes at the end",
		         (long long)skipped);
		metrics_add(in->d->metrics, "dazd_spool_skipped_bytes_total", "", (double)skipped);
	}
	log_info("ingest", "spool replay done: %lld events", (long long)in->replay_read);
	if (spool_truncate(in->sp, err, sizeof(err)) != 0)
		log_error("ingest", "spool truncate: %s", err);
	in->replay_read = 0;
	in->replay_pending = false;
	gauges(in);
}

static void flush_cb(lws_sorted_usec_list_t *sul)
{
	struct ingest *in = lws_container_of(sul, struct ingest, sul_flush);

	in->flush_scheduled = false;
	pump(in);
}

/* Start the next batch if the database is up and nothing is in flight. */
static void pump(struct ingest *in)
{
	size_t limit;

	if (!in->db_up || in->inflight || in->paused_after_error || !pg_conn_up(in->d->db))
		return;
	limit = (size_t)in->batch_max;
	if (in->single_left)
		limit = 1;

	/* Spooled events go first, in file order. */
	for (int pass = 0; pass < 2 && in->replay_pending && in->sp; pass++) {
		if (replay_fill(in, limit) > 0) {
			if (in->single_left)
				in->single_left--;
			if (send_batch(in, true) != 0)
				replay_rewind(in);
			return;
		}
		replay_finish(in);
		if (in->rd == NULL && in->replay_pending && in->replay_read > 0)
			continue; /* appended meanwhile: read on */
		break;
	}

	if (!in->q_len)
		return;
	{
		int64_t age_us = dazd_wall_us() - q_peek(in)->received_us;
		if (in->q_len < (size_t)in->batch_max && !in->draining && !in->single_left &&
		    age_us < (int64_t)in->flush_ms * 1000) {
			if (!in->flush_scheduled) {
				in->flush_scheduled = true;
				lws_sul_schedule(in->d->lws, 0, &in->sul_flush, flush_cb,
				                 ((int64_t)in->flush_ms * 1000 - age_us) + 1);
			}
			return;
		}
	}
	while (in->batch_n < limit && in->q_len)
		in->batch[in->batch_n++] = q_pop(in);
	if (in->single_left)
		in->single_left--;
	if (send_batch(in, false) != 0)
		batch_requeue(in);
	gauges(in);
}

/* ---- public API ------------------------------------------------------------------------- */

struct ingest *ingest_new(struct dazd *d)
{
	struct ingest *in = calloc(1, sizeof(*in));
	char err[512];
	int64_t torn = 0;

	if (!in)
		return NULL;
	in->d = d;
	in->batch_max = d->cfg->ingest_batch_max;
	in->flush_ms = d->cfg->ingest_flush_ms;
	in->buffer_max = d->cfg->ingest_buffer_max;
	in->buffer_max_bytes = (size_t)d->cfg->ingest_buffer_max_bytes;
	in->batch = calloc((size_t)in->batch_max, sizeof(*in->batch));
	if (!in->batch)
		goto fail;
	if (spool_open(d->cfg->spool_dir, NULL, d->cfg->spool_max_bytes, &in->sp, &torn, err,
	               sizeof(err)) != 0) {
		log_error("ingest", "cannot open the spool in %s: %s", d->cfg->spool_dir, err);
		goto fail;
	}
	if (torn > 0) {
		log_warn("ingest", "spool %s: cut %lld torn bytes left by a crash",
		         spool_path(in->sp), (long long)torn);
		metrics_add(d->metrics, "dazd_spool_skipped_bytes_total", "", (double)torn);
	}
	if (spool_count(in->sp) > 0) {
		in->replay_pending = true;
		log_info("ingest",
		         "spool %s holds %lld events from an earlier run: replaying them "
		         "when the database is reachable",
		         spool_path(in->sp), (long long)spool_count(in->sp));
	}
	lws_sul_schedule(d->lws, 0, &in->sul_sync, sync_cb, SYNC_MS * LWS_US_PER_MS);
	gauges(in);
	return in;
fail:
	free(in->batch);
	free(in);
	return NULL;
}

void ingest_free(struct ingest *in)
{
	struct event *ev;

	if (!in)
		return;
	lws_sul_cancel(&in->sul_flush);
	lws_sul_cancel(&in->sul_sync);
	lws_sul_cancel(&in->sul_error);
	/* Anything still in memory goes to the spool rather than being lost. */
	if (in->batch_n)
		batch_requeue(in);
	if (in->q_len && in->sp)
		spill_memory(in, "exit");
	while ((ev = q_pop(in)) != NULL)
		event_free(ev);
	spool_reader_close(in->rd);
	spool_close(in->sp);
	free(in->q);
	free(in->batch);
	free(in);
}

void ingest_reconfigure(struct ingest *in)
{
	const struct cfg *c = in->d->cfg;

	in->flush_ms = c->ingest_flush_ms;
	in->buffer_max = c->ingest_buffer_max;
	in->buffer_max_bytes = (size_t)c->ingest_buffer_max_bytes;
	if (c->ingest_batch_max != in->batch_max && !in->inflight && !in->batch_n) {
		struct event **nb = calloc((size_t)c->ingest_batch_max, sizeof(*nb));
		if (nb) {
			free(in->batch);
			in->batch = nb;
			in->batch_max = c->ingest_batch_max;
		}
	}
}

void ingest_push(struct ingest *in, struct event *ev)
{
	if (!ev)
		return;
	if (in->draining && !in->db_up) {
		spool_one(in, ev);
		return;
	}
	if (q_push_back(in, ev) != 0) {
		log_error("ingest", "out of memory: event %s of %s spooled directly", ev->type,
		          ev->room);
		spool_one(in, ev);
		return;
	}
	if (in->q_len >= (size_t)in->buffer_max || in->q_bytes >= in->buffer_max_bytes)
		spill_memory(in, in->db_up ? "database slow, memory buffer full"
		                           : "database down, memory buffer full");
	pump(in);
}

void ingest_db_state(struct ingest *in, bool up)
{
	in->db_up = up;
	if (up) {
		if (in->replay_pending)
			in->replay_read = 0;
		pump(in);
	} else if (in->draining) {
		spill_memory(in, "draining with the database down");
		dazd_check_drained(in->d);
	}
	gauges(in);
}

void ingest_drain(struct ingest *in)
{
	in->draining = true;
	if (!in->db_up || !pg_conn_up(in->d->db))
		spill_memory(in, "draining with the database down");
	else
		pump(in);
	gauges(in);
}

void ingest_spool_now(struct ingest *in)
{
	spill_memory(in, "drain timeout");
}

bool ingest_idle(const struct ingest *in)
{
	return in->q_len == 0 && !in->inflight && in->batch_n == 0;
}

size_t ingest_buffered(const struct ingest *in)
{
	return in->q_len + in->batch_n;
}

size_t ingest_buffered_bytes(const struct ingest *in)
{
	return in->q_bytes;
}

unsigned long long ingest_spool_bytes(const struct ingest *in)
{
	return in->sp ? (unsigned long long)spool_size(in->sp) : 0;
}

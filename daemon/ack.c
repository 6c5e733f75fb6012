/* ack.c — batched acknowledgements: daz.complete / daz.fail_many, one round trip per loop turn. */
#include "ack.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dazd.h"
#include "log.h"
#include "outbox.h"
#include "pg.h"

#define ACK_RETRY_US 1000000 /* after a lost connection */

struct ack {
	struct dazd *d;
	struct ack_list done, failed;         /* pending */
	struct ack_list done_fly, failed_fly; /* in flight */
	bool done_in_flight, failed_in_flight;
	bool scheduled;
	lws_sorted_usec_list_t sul;
};

/* After outbox_free: a callback arriving during teardown does nothing. */
static bool gone(const struct ack *a)
{
	struct outbound *o = outbound_of(a->d);
	return !o || o->dead;
}

static void ack_schedule(struct ack *s, lws_usec_t us);

int ack_list_push(struct ack_list *a, long long id, const char *text, bool retryable)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		long long *ids = realloc(a->ids, cap * sizeof(*ids));
		if (!ids)
			return -1;
		a->ids = ids;
		char **texts = realloc(a->texts, cap * sizeof(*texts));
		if (!texts)
			return -1;
		a->texts = texts;
		bool *rt = realloc(a->retryable, cap * sizeof(*rt));
		if (!rt)
			return -1;
		a->retryable = rt;
		a->cap = cap;
	}
	char *t = strdup(text);
	if (!t)
		return -1;
	a->ids[a->n] = id;
	a->texts[a->n] = t;
	a->retryable[a->n] = retryable;
	a->n++;
	return 0;
}

void ack_list_clear(struct ack_list *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->texts[i]);
	a->n = 0;
}

void ack_list_free(struct ack_list *a)
{
	ack_list_clear(a);
	free(a->ids);
	free(a->texts);
	free(a->retryable);
	memset(a, 0, sizeof(*a));
}

void ack_list_requeue(struct ack_list *fly, struct ack_list *pending)
{
	for (size_t i = 0; i < fly->n; i++)
		if (ack_list_push(pending, fly->ids[i], fly->texts[i], fly->retryable[i]) != 0)
			break;
	ack_list_clear(fly);
}

static void ack_done(struct ack *s, PGresult *res, struct ack_list *fly, struct ack_list *pending,
                     bool *in_flight, const char *what)
{
	if (gone(s))
		return;
	*in_flight = false;
	if (!res) {
		/* connection lost: the database never saw it; send it again once it is back */
		ack_list_requeue(fly, pending);
		ack_schedule(s, ACK_RETRY_US);
		return;
	}
	if (!pg_result_ok(res))
		log_error("outbox", "%s of %zu job(s) failed: %s (their leases will expire)", what,
		          fly->n, pg_result_error(res));
	ack_list_clear(fly);
	if (s->done.n || s->failed.n)
		ack_flush(s);
	if (s->d->phase != DAZD_RUNNING)
		dazd_check_drained(s->d);
}

static void complete_done(struct pg_conn *c, PGresult *res, void *arg)
{
	struct ack *s = arg;
	(void)c;
	ack_done(s, res, &s->done_fly, &s->done, &s->done_in_flight, "daz.complete");
}

static void fail_done(struct pg_conn *c, PGresult *res, void *arg)
{
	struct ack *s = arg;
	(void)c;
	ack_done(s, res, &s->failed_fly, &s->failed, &s->failed_in_flight, "daz.fail_many");
}

int ack_list_literals(struct ack_list *fly, char **ids, char **texts, char **flags)
{
	size_t len = 3 + fly->n * 22;
	char *p;
	*ids = malloc(len);
	*flags = malloc(3 + fly->n * 2);
	*texts = pg_text_array((const char *const *)fly->texts, fly->n);
	if (!*ids || !*flags || !*texts)
		goto fail;
	p = *ids;
	*p++ = '{';
	for (size_t i = 0; i < fly->n; i++)
		p += sprintf(p, "%s%lld", i ? "," : "", fly->ids[i]);
	strcpy(p, "}");
	p = *flags;
	*p++ = '{';
	for (size_t i = 0; i < fly->n; i++)
		p += sprintf(p, "%s%c", i ? "," : "", fly->retryable[i] ? 't' : 'f');
	strcpy(p, "}");
	return 0;
fail:
	free(*ids);
	free(*texts);
	free(*flags);
	*ids = *texts = *flags = NULL;
	return -1;
}

/* Send one kind's pending batch unless one of that kind is in flight: pending becomes the
 * flight (sql takes $1 ids, $2 texts and, with n_params 3, $3 flags). */
static void flush_kind(struct ack *s, struct pg_conn *db, struct ack_list *pending,
                       struct ack_list *fly, bool *in_flight, const char *sql, int n_params,
                       pg_result_cb cb)
{
	char *ids, *texts, *flags;

	if (*in_flight || !pending->n)
		return;
	struct ack_list t = *fly;
	*fly = *pending;
	*pending = t;
	if (ack_list_literals(fly, &ids, &texts, &flags) == 0) {
		const char *params[3] = {ids, texts, flags};
		if (pg_query(db, sql, n_params, params, cb, s) == 0)
			*in_flight = true;
		free(ids);
		free(texts);
		free(flags);
	}
	if (!*in_flight) {
		ack_list_requeue(fly, pending);
		ack_schedule(s, ACK_RETRY_US);
	}
}

void ack_flush(struct ack *s)
{
	struct pg_conn *db = outbox_db(s->d);

	if (!pg_conn_up(db)) {
		if (s->done.n || s->failed.n)
			ack_schedule(s, ACK_RETRY_US);
		return;
	}
	flush_kind(s, db, &s->done, &s->done_fly, &s->done_in_flight,
	           "SELECT daz.complete($1::bigint[], $2::jsonb[])", 2, complete_done);
	flush_kind(s, db, &s->failed, &s->failed_fly, &s->failed_in_flight,
	           "SELECT daz.fail_many($1::bigint[], $2::text[], $3::boolean[])", 3, fail_done);
}

static void ack_timer(lws_sorted_usec_list_t *sul)
{
	struct ack *s = lws_container_of(sul, struct ack, sul);
	s->scheduled = false;
	ack_flush(s);
}

/* Acks made during one loop turn go out together (us = 0: at the next turn). */
static void ack_schedule(struct ack *s, lws_usec_t us)
{
	if (s->scheduled && us > 0)
		return;
	s->scheduled = true;
	lws_sul_schedule(s->d->lws, 0, &s->sul, ack_timer, us > 0 ? us : 1);
}

/* ---- public ------------------------------------------------------------------------------- */

struct ack *ack_new(struct dazd *d)
{
	struct ack *a = calloc(1, sizeof(*a));
	if (a)
		a->d = d;
	return a;
}

void ack_complete(struct ack *a, long long id, const char *result_json)
{
	if (ack_list_push(&a->done, id, result_json, true) != 0)
		log_error("outbox",
		          "out of memory: completion of job %lld lost (its lease will expire)", id);
	ack_schedule(a, 0);
}

void ack_fail(struct ack *a, long long id, const char *error, bool retryable)
{
	if (ack_list_push(&a->failed, id, error, retryable) != 0)
		log_error("outbox",
		          "out of memory: failure of job %lld lost (its lease will expire)", id);
	ack_schedule(a, 0);
}

bool ack_idle(const struct ack *a)
{
	return !a->done.n && !a->failed.n && !a->done_in_flight && !a->failed_in_flight;
}

void ack_free(struct ack *a)
{
	if (!a)
		return;
	lws_sul_cancel(&a->sul);
	ack_list_free(&a->done);
	ack_list_free(&a->failed);
	ack_list_free(&a->done_fly);
	ack_list_free(&a->failed_fly);
	/* a itself stays: d->db / d->listen may still call complete_done / fail_done at teardown */
}

void ack_destroy(struct ack *a)
{
	if (!a)
		return;
	ack_free(a);
	free(a);
}

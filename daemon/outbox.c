/* outbox.c — outbound: claim cytube jobs, pace per room, send, confirm by echo, batch acks. */
#include "outbox.h"
#include "outbox_int.h"

#include <ctype.h>
#include <json-c/json.h>
#include <libwebsockets.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ack.h"
#include "bucket.h"
#include "cfg.h"
#include "control.h"
#include "dazd.h"
#include "event.h"
#include "lease.h"
#include "log.h"
#include "metrics.h"
#include "pg.h"
#include "room.h"
#include "split.h"
#include "worker.h"
#include "ws.h"

/*
 * How a job moves: claimed (daz.claim) → queued in its room, priority order → sent part by part
 * as the room's token bucket allows → waiting for the echo of every part (or, for emit "queue",
 * the server's answer) → completed or failed in a batch (daz.complete / daz.fail_many).
 * A job is held only by this process between claim and ack; its database lease is extended
 * every lease_s / 3 while it waits here.
 */

/* ---- small helpers ------------------------------------------------------------------------ */

const char *outbox_kind_name(enum ob_kind k)
{
	static const char *const names[] = {"chat", "pm", "emit"};
	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

struct outbound *outbound_of(const struct dazd *d)
{
	return d ? (struct outbound *)d->outbox : NULL;
}

static struct outbox_state *state_of(const struct dazd *d)
{
	struct outbound *o = outbound_of(d);
	return o && !o->dead ? o->ob : NULL;
}

bool outbox_dead(const struct outbox_state *s)
{
	struct outbound *o = outbound_of(s->d);
	return !o || o->dead;
}

struct pg_conn *outbox_db(struct dazd *d)
{
	if (d->listen && pg_conn_up(d->listen))
		return d->listen;
	return d->db;
}

char *outbox_conninfo(const char *conninfo, const char *application_name)
{
	const char *ci = conninfo ? conninfo : "";
	bool uri = strncmp(ci, "postgres://", 11) == 0 || strncmp(ci, "postgresql://", 13) == 0;
	size_t n = strlen(ci) + strlen(application_name) + 32;
	char *out = malloc(n);
	if (!out)
		return NULL;
	if (uri)
		snprintf(out, n, "%s%sapplication_name=%s", ci, strchr(ci, '?') ? "&" : "?",
		         application_name);
	else
		snprintf(out, n, "%s%sapplication_name='%s'", ci, *ci ? " " : "", application_name);
	return out;
}

int64_t outbox_mono_ms(void)
{
	return dazd_mono_us() / 1000;
}

int outbox_confirm_ms(const struct dazd *d)
{
	return d->cfg && d->cfg->outbound_confirm_ms > 0 ? d->cfg->outbound_confirm_ms : 5000;
}

static int poll_ms(const struct dazd *d)
{
	return d->cfg && d->cfg->outbound_poll_ms > 0 ? d->cfg->outbound_poll_ms : 2000;
}

static int lease_s(const struct dazd *d)
{
	return d->cfg && d->cfg->lease_s > 0 ? d->cfg->lease_s : 30;
}

static const char *labels_rk(char *buf, size_t size, const struct ob_job *j)
{
	return metrics_labels(buf, size, "room", j->o->name, "kind", outbox_kind_name(j->kind),
	                      NULL);
}

static void count(struct outbox_state *s, const char *name, const struct ob_job *j, double v)
{
	char lb[200];
	if (s->d->metrics)
		metrics_add(s->d->metrics, name, labels_rk(lb, sizeof(lb), j), v);
}

/* ---- rooms -------------------------------------------------------------------------------- */

static void room_pacing(struct ob_room *o, const struct cfg_room *cr)
{
	double burst = cr ? cr->pacing.burst : BUCKET_DEFAULT_BURST;
	double rate = cr ? cr->pacing.per_second : BUCKET_DEFAULT_RATE;
	bucket_init(&o->bucket, burst, rate, outbox_mono_ms());
	o->max_len = cr && cr->pacing.max_len >= 8 ? cr->pacing.max_len : CFG_DEFAULT_MAX_LEN;
}

static struct ob_room *ob_room_find(struct outbox_state *s, const char *name)
{
	for (struct ob_room *o = s->rooms; o; o = o->next)
		if (strcmp(o->name, name) == 0)
			return o;
	return NULL;
}

struct ob_room *outbox_room_get(struct outbox_state *s, const char *name)
{
	struct ob_room *o = ob_room_find(s, name);
	if (o || strlen(name) > EVENT_ROOM_MAX)
		return o;
	o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->s = s;
	snprintf(o->name, sizeof(o->name), "%s", name);
	room_pacing(o, s->d->cfg ? cfg_room_find(s->d->cfg, name) : NULL);
	o->next = s->rooms;
	s->rooms = o;
	return o;
}

/* Sending is possible now: joined, lease held, not paused, not shutting down. */
static bool room_sendable(struct outbox_state *s, struct ob_room *o, struct room **out)
{
	struct room *r = room_find(s->d, o->name);
	if (out)
		*out = r;
	return r && !r->removing && !o->paused && !s->draining && ws_room_joined(r) &&
	       lease_held(r);
}

static void update_depth(struct ob_room *o)
{
	char lb[120];
	struct dazd *d = o->s->d;
	if (d->metrics)
		metrics_set(d->metrics, "dazd_outbound_queue_depth",
		            metrics_labels(lb, sizeof(lb), "room", o->name, NULL),
		            (double)(o->n_queued + o->n_sent));
}

/* ---- job life ----------------------------------------------------------------------------- */

static void job_free(struct ob_job *j)
{
	if (!j)
		return;
	free(j->to);
	split_free(j->parts);
	free(j->event);
	if (j->data)
		json_object_put(j->data);
	free(j);
}

static void list_remove(struct ob_job **head, struct ob_job *j)
{
	for (struct ob_job **p = head; *p; p = &(*p)->next)
		if (*p == j) {
			*p = j->next;
			j->next = NULL;
			return;
		}
}

void outbox_wait_unlink(struct ob_room *o, struct ob_wait *prev, struct ob_wait *w)
{
	if (prev)
		prev->next = w->next;
	else
		o->waits = w->next;
	if (o->waits_tail == w)
		o->waits_tail = prev;
	w->job->n_waits--;
	free(w);
}

/* Remove the job's entries; stops as soon as the last one is gone (usually near the head). */
static void waits_drop_job(struct ob_room *o, struct ob_job *j)
{
	struct ob_wait *prev = NULL, *w = o->waits;
	while (w && j->n_waits > 0) {
		struct ob_wait *next = w->next;
		if (w->job == j)
			outbox_wait_unlink(o, prev, w);
		else
			prev = w;
		w = next;
	}
}

/* Unlink a job from its room wherever it is. */
static void job_detach(struct ob_job *j)
{
	struct ob_room *o = j->o;
	if (j->in_sent) {
		list_remove(&o->sent, j);
		o->n_sent--;
	} else {
		list_remove(&o->queue, j);
		o->n_queued--;
	}
	waits_drop_job(o, j);
	update_depth(o);
}

static void claim(struct outbox_state *s);

static void wake_timer(lws_sorted_usec_list_t *sul)
{
	struct outbox_state *s = lws_container_of(sul, struct outbox_state, sul_wake);
	s->wake_scheduled = false;
	claim(s);
}

/* Capacity was freed and the last claim left jobs behind: claim again at the next loop turn. */
static void wake_soon(struct outbox_state *s)
{
	if (!s->last_claim_full || s->wake_scheduled || s->draining)
		return;
	s->wake_scheduled = true;
	lws_sul_schedule(s->d->lws, 0, &s->sul_wake, wake_timer, 1);
}

void outbox_job_complete(struct ob_job *j, bool confirmed)
{
	struct ob_room *o = j->o;
	struct outbox_state *s = o->s;
	char result[96], lb[200];

	job_detach(j);
	if (j->kind == OB_EMIT && !j->await_reply)
		snprintf(result, sizeof(result), "{\"sent\": %zu}", j->n_sent);
	else
		snprintf(result, sizeof(result), "{\"sent\": %zu, \"confirmed\": %s}", j->n_sent,
		         confirmed ? "true" : "false");
	ack_complete(s->ack, j->id, result);
	if (confirmed) {
		count(s, "dazd_outbound_jobs_confirmed_total", j, 1);
		if (s->d->metrics && j->created_wall_us > 0) {
			double lat = (double)(dazd_wall_us() - j->created_wall_us) / 1e6;
			metrics_observe(s->d->metrics, "dazd_outbound_enqueue_to_confirm_seconds",
			                metrics_labels(lb, sizeof(lb), "room", o->name, NULL),
			                lat < 0 ? 0 : lat);
		}
	} else if (j->kind != OB_EMIT || j->await_reply) {
		count(s, "dazd_outbound_jobs_unconfirmed_total", j, 1);
		log_debug(o->name, "job %lld: no echo within %d ms, completed unconfirmed", j->id,
		          outbox_confirm_ms(s->d));
	}
	log_trace(o->name, "job %lld completed (%s)", j->id, result);
	job_free(j);
	wake_soon(s);
}

void outbox_job_fail(struct ob_job *j, const char *reason, bool retryable)
{
	struct ob_room *o = j->o;
	struct outbox_state *s = o->s;
	char lb[300], short_reason[40];

	job_detach(j);
	ack_fail(s->ack, j->id, reason, retryable);
	/* reason label: the first word, so "errorMsg: PM failed: x" stays low-cardinality */
	size_t k = strcspn(reason, " :");
	snprintf(short_reason, sizeof(short_reason), "%.*s", (int)(k < 39 ? k : 39), reason);
	if (s->d->metrics)
		metrics_add(s->d->metrics, "dazd_outbound_jobs_failed_total",
		            metrics_labels(lb, sizeof(lb), "room", o->name, "kind",
		                           outbox_kind_name(j->kind), "reason", short_reason, NULL),
		            1);
	log_info(o->name, "job %lld (%s) failed%s: %s", j->id, outbox_kind_name(j->kind),
	         retryable ? " (will retry)" : " (not retryable)", reason);
	job_free(j);
}

/* Every job this process holds for the room: fail (or, while shutting down, settle). */
void outbox_room_drop_jobs(struct ob_room *o, const char *queued_reason, const char *sent_reason)
{
	struct outbox_state *s = o->s;
	while (o->queue) {
		struct ob_job *j = o->queue;
		/* a job with parts already written may have been seen: same as a lost connection */
		outbox_job_fail(j, j->n_sent ? sent_reason : queued_reason, true);
	}
	while (o->sent) {
		struct ob_job *j = o->sent;
		if (s->d->phase != DAZD_RUNNING)
			outbox_job_complete(
			    j, false); /* written before shutdown: most likely delivered */
		else
			outbox_job_fail(j, sent_reason, true);
	}
}

/* ---- parsing claimed jobs ----------------------------------------------------------------- */

/* CyTube kicks a socket that sends these without the rank for them (protocol notes §4). */
static bool emit_allowed(const char *ev)
{
	static const char *const deny[] = {"setOptions",     "setPermissions", "setMotd",
	                                   "setChannelCSS",  "setChannelJS",   "assignLeader",
	                                   "readChanLog",    "initACP",        "joinChannel",
	                                   "login",          "chatMsg",        "pm",
	                                   "channelPassword"};
	size_t n = strlen(ev);
	if (n == 0 || n > 64 || !isalpha((unsigned char)ev[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)ev[i]) && ev[i] != '_')
			return false;
	for (size_t i = 0; i < sizeof(deny) / sizeof(deny[0]); i++)
		if (strcmp(ev, deny[i]) == 0)
			return false;
	return true;
}

const char *outbox_json_str(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/*
 * Fill j from its kind and payload text. Returns NULL on success, else why the payload is
 * malformed (static text; the job fails without retry).
 */
static const char *job_parse(struct ob_job *j, const char *kind, const char *payload)
{
	struct json_object *p = json_tokener_parse(payload);
	const char *why = NULL;

	if (!p || !json_object_is_type(p, json_type_object)) {
		why = "malformed payload: not a JSON object";
		goto out;
	}
	if (strcmp(kind, "chat") == 0 || strcmp(kind, "pm") == 0) {
		const char *text = outbox_json_str(p, "text");
		j->kind = kind[0] == 'c' ? OB_CHAT : OB_PM;
		if (!text) {
			why = "malformed payload: \"text\" must be a string";
			goto out;
		}
		if (j->kind == OB_PM) {
			const char *to = outbox_json_str(p, "to");
			if (!to || !*to || strlen(to) > 64) {
				why = "malformed payload: \"to\" must be a user name";
				goto out;
			}
			j->to = strdup(to);
			if (!j->to) {
				why = "out of memory";
				goto out;
			}
		}
		j->parts = split_text(text, (size_t)j->o->max_len, &j->n_parts);
		if (!j->parts) {
			why = "out of memory";
			goto out;
		}
		if (j->n_parts == 0)
			why = "malformed payload: empty text";
	} else if (strcmp(kind, "emit") == 0) {
		struct json_object *data = NULL;
		const char *ev = outbox_json_str(p, "event");
		j->kind = OB_EMIT;
		if (!ev || !emit_allowed(ev)) {
			why = "malformed payload: \"event\" missing or not an allowed CyTube event";
			goto out;
		}
		j->event = strdup(ev);
		if (!j->event) {
			why = "out of memory";
			goto out;
		}
		if (json_object_object_get_ex(p, "data", &data) && data)
			j->data = json_object_get(data);
		j->n_parts = 1;
		j->await_reply = strcmp(ev, "queue") == 0;
	} else {
		j->kind = OB_EMIT;
		why = "malformed job: unknown kind (chat, pm, emit)";
	}
out:
	if (p)
		json_object_put(p);
	return why;
}

/* Insert by priority (higher first), then claim order; never before a job already started. */
static void queue_insert(struct ob_room *o, struct ob_job *j)
{
	struct ob_job **p = &o->queue;
	if (*p && (*p)->n_sent > 0)
		p = &(*p)->next;
	while (*p && (*p)->priority >= j->priority)
		p = &(*p)->next;
	j->next = *p;
	*p = j;
	o->n_queued++;
	update_depth(o);
}

/* ---- sending ------------------------------------------------------------------------------ */

static void pump(struct ob_room *o);

static void pump_timer(lws_sorted_usec_list_t *sul)
{
	struct ob_room *o = lws_container_of(sul, struct ob_room, sul);
	pump(o);
}

void outbox_pump_soon(struct ob_room *o)
{
	lws_sul_schedule(o->s->d->lws, 0, &o->sul, pump_timer, 1);
}

static struct json_object *frame_payload(const struct ob_job *j, const char *text)
{
	struct json_object *m = json_object_new_object();
	if (!m)
		return NULL;
	if (j->kind == OB_PM)
		json_object_object_add(m, "to", json_object_new_string(j->to));
	json_object_object_add(m, "msg", json_object_new_string(text));
	json_object_object_add(m, "meta", json_object_new_object());
	return m;
}

static void sent_push(struct ob_room *o, struct ob_job *j)
{
	struct ob_job **p = &o->sent;
	while (*p)
		p = &(*p)->next;
	j->next = NULL;
	*p = j;
	j->in_sent = true;
	o->n_sent++;
}

static void observe_first_frame(struct outbox_state *s, struct ob_job *j)
{
	char lb[120];
	if (!s->d->metrics)
		return;
	metrics_observe(s->d->metrics, "dazd_outbound_claim_to_frame_seconds",
	                metrics_labels(lb, sizeof(lb), "room", j->o->name, NULL),
	                (double)(dazd_mono_us() - j->claimed_us) / 1e6);
}

/* Write what the bucket allows; schedule a wake-up for the rest. */
static void pump(struct ob_room *o)
{
	struct outbox_state *s = o->s;
	struct room *r;
	char lb[120];
	bool wrote = false;

	if (!room_sendable(s, o, &r))
		return;
	while (o->queue) {
		struct ob_job *j = o->queue;
		int64_t now = outbox_mono_ms();

		if (j->kind == OB_EMIT) {
			if (ws_send_event(r, j->event, j->data) != 0) {
				outbox_job_fail(j, "room offline", true);
				continue;
			}
			wrote = true;
			observe_first_frame(s, j);
			j->n_sent = 1;
			count(s, "dazd_outbound_frames_sent_total", j, 1);
			count(s, "dazd_outbound_jobs_sent_total", j, 1);
			if (!j->await_reply) {
				outbox_job_complete(j, true);
				continue;
			}
			list_remove(&o->queue, j);
			o->n_queued--;
			j->deadline_ms = now + outbox_confirm_ms(s->d);
			sent_push(o, j);
			confirm_tick_start(s);
			continue;
		}

		const char *text = j->parts[j->n_sent];
		double cost = j->kind == OB_CHAT ? bucket_cost(text) : 1;
		if (!bucket_take(&o->bucket, cost, now)) {
			int64_t wait = bucket_wait_ms(&o->bucket, cost, now);
			if (!o->bucket_wait_since_us)
				o->bucket_wait_since_us = dazd_mono_us();
			lws_sul_schedule(s->d->lws, 0, &o->sul, pump_timer,
			                 (lws_usec_t)(wait > 0 ? wait : 1) * 1000);
			return;
		}
		if (o->bucket_wait_since_us) {
			if (s->d->metrics)
				metrics_observe(
				    s->d->metrics, "dazd_outbound_bucket_wait_seconds",
				    metrics_labels(lb, sizeof(lb), "room", o->name, NULL),
				    (double)(dazd_mono_us() - o->bucket_wait_since_us) / 1e6);
			o->bucket_wait_since_us = 0;
		}
		struct json_object *m = frame_payload(j, text);
		if (!m) {
			outbox_job_fail(j, "out of memory", true);
			continue;
		}
		int rc = ws_send_event(r, j->kind == OB_CHAT ? "chatMsg" : "pm", m);
		json_object_put(m);
		if (rc != 0) {
			outbox_job_fail(j, j->n_sent ? "connection lost" : "room offline", true);
			continue;
		}
		struct ob_wait *w = calloc(1, sizeof(*w));
		if (w) {
			w->job = j;
			w->part = j->n_sent;
			j->n_waits++;
			if (o->waits_tail)
				o->waits_tail->next = w;
			else
				o->waits = w;
			o->waits_tail = w;
		}
		if (j->n_sent == 0)
			observe_first_frame(s, j);
		wrote = true;
		j->n_sent++;
		count(s, "dazd_outbound_frames_sent_total", j, 1);
		log_trace(o->name, "job %lld part %zu/%zu written", j->id, j->n_sent, j->n_parts);
		if (j->n_sent == j->n_parts) {
			list_remove(&o->queue, j);
			o->n_queued--;
			j->deadline_ms = now + outbox_confirm_ms(s->d);
			sent_push(o, j);
			count(s, "dazd_outbound_jobs_sent_total", j, 1);
			confirm_tick_start(s);
		}
	}
	/* Room for more, and the last claim left jobs behind: ask again without waiting. */
	if (wrote)
		wake_soon(s);
}

/* ---- claiming ----------------------------------------------------------------------------- */

/* Jobs the room may hold: what its bucket can send within OB_AHEAD_S seconds. */
static size_t room_capacity(struct ob_room *o)
{
	size_t want, held = o->n_queued;
	if (o->bucket.rate <= 0) {
		/* unpaced: bounded by what is written and not yet echoed, too */
		if (o->n_queued + o->n_sent >= OB_UNPACED_INFLIGHT)
			return 0;
		want = OB_UNPACED_HOLD;
	} else {
		want = (size_t)ceil(o->bucket.burst + o->bucket.rate * OB_AHEAD_S);
	}
	return want > held ? want - held : 0;
}

/*
 * Shutting down: every job claimed and not yet (fully) written is failed retryably, so the next
 * dazd sends it without waiting for its lease to expire. Jobs already written stay on o->sent
 * until their echo or deadline (or the room's close settles them).
 */
static void hand_back_queued(struct outbox_state *s)
{
	for (struct ob_room *o = s->rooms; o; o = o->next) {
		lws_sul_cancel(&o->sul);
		while (o->queue)
			outbox_job_fail(o->queue, "dazd shutting down", true);
	}
}

static void claim_done(struct pg_conn *c, PGresult *res, void *arg)
{
	struct outbox_state *s = arg;
	struct dazd *d = s->d;
	(void)c;

	if (outbox_dead(s))
		return;
	s->claim_in_flight = false;
	if (!res || !pg_result_ok(res)) {
		log_warn("outbox", "claim failed: %s",
		         res ? pg_result_error(res) : "connection lost");
		s->claim_again = false;
		if (d->phase != DAZD_RUNNING)
			dazd_check_drained(d);
		return;
	}
	int n = PQntuples(res);
	int64_t now = dazd_mono_us();
	for (int i = 0; i < n; i++) {
		const char *room = PQgetvalue(res, i, 2);
		struct ob_job *j = calloc(1, sizeof(*j));
		struct ob_room *o = outbox_room_get(s, room);
		if (!j || !o) {
			free(j);
			log_error(room, "out of memory: claimed job %s dropped (lease will expire)",
			          PQgetvalue(res, i, 0));
			continue;
		}
		j->o = o;
		j->id = atoll(PQgetvalue(res, i, 0));
		j->priority = atoi(PQgetvalue(res, i, 4));
		j->created_wall_us = atoll(PQgetvalue(res, i, 5));
		j->claimed_us = now;
		const char *why = job_parse(j, PQgetvalue(res, i, 1), PQgetvalue(res, i, 3));
		count(s, "dazd_outbound_jobs_claimed_total", j, 1);
		if (why) {
			j->next = o->queue; /* job_fail detaches it from here */
			o->queue = j;
			o->n_queued++;
			outbox_job_fail(j, why, strcmp(why, "out of memory") == 0);
			continue;
		}
		queue_insert(o, j);
	}
	if (n > 0)
		log_debug("outbox", "claimed %d job(s)", n);
	if (d->phase != DAZD_RUNNING) {
		/*
		 * The claim was sent before SIGTERM and answered during the drain: these jobs are
		 * running under this worker, and nothing would send them now. Hand them back at
		 * once, or a clean exit would leave them to the lease expiry.
		 */
		hand_back_queued(s);
		dazd_check_drained(d);
		return;
	}
	for (struct ob_room *o = s->rooms; o; o = o->next) {
		if (!o->queue)
			continue;
		if (room_sendable(s, o, NULL))
			pump(o);
		else if (!o->paused)
			outbox_room_drop_jobs(o, "room offline", "connection lost");
	}
	s->last_claim_full = (size_t)n >= s->claim_limit;
	if (s->claim_again) {
		s->claim_again = false;
		outbox_wake(d);
	}
}

static void claim(struct outbox_state *s)
{
	struct dazd *d = s->d;
	const char *names[256];
	size_t n = 0, limit = 0;
	char slimit[16], lease[32];

	if (s->draining || d->phase != DAZD_RUNNING || !pg_conn_up(outbox_db(d)))
		return;
	if (s->claim_in_flight) {
		s->claim_again = true;
		return;
	}
	for (struct room *r = d->rooms; r && n < sizeof(names) / sizeof(names[0]); r = r->next) {
		struct ob_room *o = outbox_room_get(s, r->name);
		size_t cap;
		if (!o || !room_sendable(s, o, NULL))
			continue;
		cap = room_capacity(o);
		if (cap == 0)
			continue;
		names[n++] = r->name;
		limit += cap;
	}
	if (n == 0)
		return;
	if (limit > OB_CLAIM_MAX)
		limit = OB_CLAIM_MAX;
	char *rooms = pg_text_array(names, n);
	if (!rooms)
		return;
	snprintf(slimit, sizeof(slimit), "%zu", limit);
	snprintf(lease, sizeof(lease), "%d seconds", lease_s(d));
	const char *params[4] = {d->worker, slimit, rooms, lease};
	if (pg_query(outbox_db(d),
	             "SELECT id, kind, room, payload::text, priority, "
	             "(extract(epoch FROM created_at) * 1000000)::bigint "
	             "FROM daz.claim('cytube', $1, $2::int, $3::text[], $4::interval)",
	             4, params, claim_done, s) == 0) {
		s->claim_in_flight = true;
		s->claim_again = false;
		s->claim_limit = limit;
	}
	free(rooms);
}

void outbox_wake(struct dazd *d)
{
	struct outbox_state *s = state_of(d);
	if (s)
		claim(s);
}

static void poll_timer(lws_sorted_usec_list_t *sul)
{
	struct outbox_state *s = lws_container_of(sul, struct outbox_state, sul_poll);
	claim(s);
	lws_sul_schedule(s->d->lws, 0, &s->sul_poll, poll_timer, (lws_usec_t)poll_ms(s->d) * 1000);
}

/* ---- lease extension ---------------------------------------------------------------------- */

static void extend_done(struct pg_conn *c, PGresult *res, void *arg)
{
	(void)c;
	(void)arg;
	if (res && !pg_result_ok(res))
		log_warn("outbox", "extend_lease failed: %s", pg_result_error(res));
}

static void extend_timer(lws_sorted_usec_list_t *sul)
{
	struct outbox_state *s = lws_container_of(sul, struct outbox_state, sul_extend);
	struct dazd *d = s->d;
	size_t n = 0;
	int ls = lease_s(d);

	for (struct ob_room *o = s->rooms; o; o = o->next)
		n += o->n_queued + o->n_sent;
	if (n && pg_conn_up(outbox_db(d))) {
		char *ids = malloc(3 + n * 22), *p = ids, lease[32];
		if (ids) {
			size_t k = 0;
			*p++ = '{';
			for (struct ob_room *o = s->rooms; o; o = o->next)
				for (int pass = 0; pass < 2; pass++)
					for (struct ob_job *j = pass ? o->sent : o->queue; j;
					     j = j->next)
						p += sprintf(p, "%s%lld", k++ ? "," : "", j->id);
			strcpy(p, "}");
			snprintf(lease, sizeof(lease), "%d seconds", ls);
			const char *params[2] = {ids, lease};
			if (pg_query(outbox_db(d),
			             "SELECT daz.extend_lease($1::bigint[], $2::interval)", 2,
			             params, extend_done, s) != 0)
				log_debug("outbox", "extend_lease not sent: database down");
			free(ids);
		}
	}
	lws_sul_schedule(d->lws, 0, &s->sul_extend, extend_timer,
	                 (lws_usec_t)(ls >= 3 ? ls * 1000000LL / 3 : 1000000LL));
}

/* ---- pause, reload, drain ----------------------------------------------------------------- */

bool outbox_pause(struct dazd *d, const char *room, bool paused)
{
	struct outbox_state *s = state_of(d);
	struct ob_room *o;
	char lb[120];
	if (!s || !room_find(d, room) || !(o = outbox_room_get(s, room)))
		return false;
	if (o->paused != paused)
		log_info(o->name, "sending %s by daz_control", paused ? "paused" : "resumed");
	o->paused = paused;
	if (d->metrics)
		metrics_set(d->metrics, "dazd_outbound_paused",
		            metrics_labels(lb, sizeof(lb), "room", o->name, NULL), paused ? 1 : 0);
	if (!paused) {
		pump(o);
		outbox_wake(d);
	}
	return true;
}

void outbox_room_gone(struct room *r, const char *reason)
{
	struct outbox_state *s;
	struct ob_room *o;
	if (!r || !(s = state_of(r->d)) || !(o = ob_room_find(s, r->name)))
		return;
	lws_sul_cancel(&o->sul);
	outbox_room_drop_jobs(o, reason, reason);
}

static void on_reload(struct dazd *d, const struct cfg *old_cfg, const struct cfg *new_cfg,
                      void *arg)
{
	struct outbox_state *s = arg;
	(void)old_cfg;
	for (struct ob_room *o = s->rooms; o; o = o->next) {
		const struct cfg_room *cr = cfg_room_find(new_cfg, o->name);
		if (!cr)
			continue;
		if (cr->pacing.burst != o->bucket.cfg_burst ||
		    cr->pacing.per_second != o->bucket.cfg_rate ||
		    cr->pacing.max_len != o->max_len) {
			struct room *r = room_find(d, o->name);
			room_pacing(o, cr);
			if (r)
				confirm_apply_channel_opts(o, r);
			log_info(o->name, "pacing now burst %g, %g/s, max_len %d", cr->pacing.burst,
			         cr->pacing.per_second, o->max_len);
		}
	}
	lease_beat_now(d);
	outbox_wake(d);
}

static bool drained(struct dazd *d, void *arg)
{
	struct outbox_state *s = arg;
	if (outbox_dead(s))
		return true;
	if (!s->drain_started) {
		s->drain_started = true;
		s->draining = true;
		lws_sul_cancel(&s->sul_poll);
		lws_sul_cancel(&s->sul_wake);
		confirm_tick_start(s);
	}
	hand_back_queued(s);
	ack_flush(s->ack);
	/*
	 * A claim sent before the drain began is still running in the database: its jobs are
	 * 'running' under this worker as soon as it commits. Wait for its answer (claim_done hands
	 * them back); a lost connection answers too, and the drain timeout bounds the wait.
	 */
	if (s->claim_in_flight)
		return false;
	for (struct ob_room *o = s->rooms; o; o = o->next)
		if (o->sent)
			return false; /* waiting for echoes or their deadline */
	bool db = pg_conn_up(outbox_db(d));
	if (db && !ack_idle(s->ack)) {
		ack_flush(s->ack);
		return false;
	}
	if (!room_all_closed(d)) {
		confirm_tick_start(s);
		return false;
	}
	lease_release_all(d);
	if (!lease_released(d))
		return false;
	return true;
}

/* ---- init --------------------------------------------------------------------------------- */

static int declare_metrics(struct metrics *m)
{
	static const double lat[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
	                             0.25,  0.5,    1,     2.5,  5,     10,   30};
	static const double wait[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60};
	const size_t nl = sizeof(lat) / sizeof(lat[0]), nw = sizeof(wait) / sizeof(wait[0]);
	int rc = 0;
	rc |= metrics_declare(m, "dazd_outbound_jobs_claimed_total", METRICS_COUNTER,
	                      "cytube jobs claimed, by room and kind", NULL, 0);
	rc |=
	    metrics_declare(m, "dazd_outbound_jobs_sent_total", METRICS_COUNTER,
	                    "cytube jobs whose every frame was written, by room and kind", NULL, 0);
	rc |= metrics_declare(m, "dazd_outbound_frames_sent_total", METRICS_COUNTER,
	                      "Frames written for cytube jobs (a split message counts each part)",
	                      NULL, 0);
	rc |= metrics_declare(m, "dazd_outbound_jobs_confirmed_total", METRICS_COUNTER,
	                      "Jobs completed on the server's echo (or reply)", NULL, 0);
	rc |= metrics_declare(m, "dazd_outbound_jobs_unconfirmed_total", METRICS_COUNTER,
	                      "Jobs completed after outbound.confirm_ms without an echo", NULL, 0);
	rc |= metrics_declare(m, "dazd_outbound_jobs_failed_total", METRICS_COUNTER,
	                      "Jobs reported failed, by room, kind and reason", NULL, 0);
	rc |= metrics_declare(m, "dazd_outbound_claim_to_frame_seconds", METRICS_HISTOGRAM,
	                      "Claim to first frame written", lat, nl);
	rc |= metrics_declare(m, "dazd_outbound_enqueue_to_confirm_seconds", METRICS_HISTOGRAM,
	                      "Job created_at to the server's echo of its last part", lat, nl);
	rc |= metrics_declare(m, "dazd_outbound_bucket_wait_seconds", METRICS_HISTOGRAM,
	                      "Time a room's next message waited for its token bucket", wait, nw);
	rc |= metrics_declare(m, "dazd_outbound_cooldowns_total", METRICS_COUNTER,
	                      "cooldown events received (the server dropped a message)", NULL, 0);
	rc |= metrics_declare(m, "dazd_outbound_queue_depth", METRICS_GAUGE,
	                      "Jobs held by this dazd for the room (queued or waiting for echo)",
	                      NULL, 0);
	rc |= metrics_declare(m, "dazd_outbound_paused", METRICS_GAUGE,
	                      "1 while the room's sending is paused by daz_control", NULL, 0);
	return rc ? -1 : 0;
}

int outbox_init(struct dazd *d)
{
	struct outbound *o = calloc(1, sizeof(*o));
	struct outbox_state *s = calloc(1, sizeof(*s));
	if (!o || !s)
		goto fail;
	s->d = d;
	o->ob = s;
	d->outbox = o;
	s->ack = ack_new(d);
	if (!s->ack)
		goto fail;
	if (d->metrics && declare_metrics(d->metrics) != 0)
		goto fail;
	if (ws_add_event_hook(d, confirm_event_hook, s) != 0 ||
	    ws_add_state_hook(d, confirm_state_hook, s) != 0 ||
	    dazd_add_reload_hook(d, on_reload, s) != 0 || dazd_add_drained_hook(d, drained, s) != 0)
		goto fail;
	if (lease_init(d) != 0 || worker_init(d) != 0 || control_init(d) != 0)
		goto fail;
	lws_sul_schedule(d->lws, 0, &s->sul_poll, poll_timer, (lws_usec_t)poll_ms(d) * 1000);
	lws_sul_schedule(d->lws, 0, &s->sul_extend, extend_timer,
	                 (lws_usec_t)lease_s(d) * 1000000 / 3);
	log_info("outbox", "outbound ready: poll %d ms, confirm %d ms, lease %d s", poll_ms(d),
	         outbox_confirm_ms(d), lease_s(d));
	return 0;
fail:
	log_error("outbox", "outbound start-up failed");
	return -1;
}

void outbox_free(struct dazd *d)
{
	struct outbound *o = outbound_of(d);
	struct outbox_state *s = o ? o->ob : NULL;
	if (!o || o->dead)
		return;
	if (s) {
		ws_remove_event_hook(d, confirm_event_hook, s);
		ws_remove_state_hook(d, confirm_state_hook, s);
		dazd_remove_reload_hook(d, on_reload, s);
		dazd_remove_drained_hook(d, drained, s);
	}
	control_free(d);
	worker_free(d);
	lease_free(d);
	o->dead = true;
	if (s) {
		lws_sul_cancel(&s->sul_poll);
		lws_sul_cancel(&s->sul_tick);
		lws_sul_cancel(&s->sul_extend);
		lws_sul_cancel(&s->sul_wake);
		while (s->rooms) {
			struct ob_room *r = s->rooms; /* nothing but this list points at a room */
			s->rooms = r->next;
			lws_sul_cancel(&r->sul);
			while (r->queue) {
				struct ob_job *j = r->queue;
				r->queue = j->next;
				job_free(j);
			}
			while (r->sent) {
				struct ob_job *j = r->sent;
				r->sent = j->next;
				job_free(j);
			}
			while (r->waits) {
				struct ob_wait *w = r->waits;
				r->waits = w->next;
				free(w);
			}
			if (r->channel_opts)
				json_object_put(r->channel_opts);
			free(r);
		}
		ack_free(s->ack);
	}
}

void outbox_release(struct dazd *d)
{
	struct outbound *o = outbound_of(d);

	if (!o)
		return;
	outbox_free(d); /* no-op when it ran already */
	lease_destroy(d);
	if (o->ob) {
		ack_destroy(o->ob->ack);
		free(o->ob);
	}
	free(o);
	d->outbox = NULL;
}

/* confirm.c — what the server says back: echoes confirm jobs, cooldown / noflood / errorMsg /
 * queueFail fail them, channelOpts and rank set the pacing, a lost room fails what it held. */
#include <json-c/json.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bucket.h"
#include "dazd.h"
#include "event.h"
#include "log.h"
#include "metrics.h"
#include "outbox.h"
#include "outbox_int.h"
#include "room.h"
#include "ws.h"

static void tick_timer(lws_sorted_usec_list_t *sul)
{
	struct outbox_state *s = lws_container_of(sul, struct outbox_state, sul_tick);
	int64_t now = outbox_mono_ms();
	bool any = false;

	s->tick_on = false;
	for (struct ob_room *o = s->rooms; o; o = o->next) {
		struct ob_job *j = o->sent;
		while (j) {
			struct ob_job *next = j->next;
			if (j->deadline_ms && now >= j->deadline_ms)
				outbox_job_complete(j, false);
			else
				any = true;
			j = next;
		}
	}
	if (any)
		confirm_tick_start(s);
	if (s->draining)
		dazd_check_drained(s->d);
}

void confirm_tick_start(struct outbox_state *s)
{
	if (s->tick_on)
		return;
	s->tick_on = true;
	lws_sul_schedule(s->d->lws, 0, &s->sul_tick, tick_timer, OB_TICK_US);
}

static bool wait_fits(const struct ob_wait *w, bool is_pm, const char *to)
{
	const struct ob_job *j = w->job;
	if ((j->kind == OB_PM) != is_pm)
		return false;
	return !is_pm || (to && strcasecmp(to, j->to) == 0);
}

static void confirm_part(struct ob_room *o, struct ob_wait *prev, struct ob_wait *w)
{
	struct ob_job *j = w->job;
	outbox_wait_unlink(o, prev, w);
	j->n_confirmed++;
	if (j->n_confirmed >= j->n_parts && j->n_sent == j->n_parts)
		outbox_job_complete(j, true);
}

struct ob_wait *confirm_match(struct ob_wait *waits, bool is_pm, const char *to, const char *msg,
                              size_t max_len, struct ob_wait **prev_out)
{
	struct ob_wait *prev = NULL, *w;
	size_t n = 0;

	for (w = waits; w && n < OB_ECHO_EXACT_SCAN; prev = w, w = w->next, n++)
		if (wait_fits(w, is_pm, to) && strcmp(w->job->parts[w->part], msg) == 0)
			goto found;
	prev = NULL;
	n = 0;
	for (w = waits; w && n < OB_ECHO_SCAN; prev = w, w = w->next, n++)
		if (wait_fits(w, is_pm, to) &&
		    event_echo_matches(w->job->parts[w->part], msg, max_len))
			goto found;
	return NULL;
found:
	*prev_out = prev;
	return w;
}

/* An echo of our own chatMsg / pm: confirm the oldest written part it matches. */
static void on_echo(struct ob_room *o, bool is_pm, struct json_object *args)
{
	const char *msg = outbox_json_str(args, "msg");
	const char *to = is_pm ? outbox_json_str(args, "to") : NULL;
	struct ob_wait *prev = NULL, *w;

	if (!msg)
		return;
	w = confirm_match(o->waits, is_pm, to, msg, (size_t)o->max_len, &prev);
	if (w)
		confirm_part(o, prev, w);
	else
		log_debug(o->name, "own %s echo matched no waiting job", is_pm ? "pm" : "chatMsg");
}

/* The server dropped or refused something we wrote: the oldest unconfirmed part is the victim. */
static void fail_oldest(struct ob_room *o, const char *reason, bool pm_only)
{
	for (struct ob_wait *w = o->waits; w; w = w->next)
		if (!pm_only || w->job->kind == OB_PM) {
			outbox_job_fail(w->job, reason, true);
			return;
		}
	log_debug(o->name, "%s with nothing waiting for an echo", reason);
}

static bool json_scalar_eq(struct json_object *a, struct json_object *b)
{
	if (!a || !b)
		return false;
	const char *sa = json_object_get_string(a), *sb = json_object_get_string(b);
	return sa && sb && strcmp(sa, sb) == 0;
}

/* emit "queue" answered: a queue broadcast of the same media, or queueFail. */
static void on_queue_reply(struct ob_room *o, struct json_object *args, bool failed)
{
	struct json_object *want_id, *got_id = NULL, *item, *media;
	if (failed) {
		json_object_object_get_ex(args, "id", &got_id);
	} else if (json_object_object_get_ex(args, "item", &item) &&
	           json_object_object_get_ex(item, "media", &media)) {
		json_object_object_get_ex(media, "id", &got_id);
	}
	struct ob_job *first = NULL;
	for (struct ob_job *j = o->sent; j; j = j->next) {
		if (j->kind != OB_EMIT || !j->await_reply)
			continue;
		if (!first)
			first = j;
		if (j->data && json_object_object_get_ex(j->data, "id", &want_id) &&
		    json_scalar_eq(want_id, got_id)) {
			first = j;
			break;
		}
		if (!failed)
			first = NULL; /* a broadcast must name our media; someone else may queue */
	}
	if (!first)
		return;
	if (failed) {
		char reason[300];
		const char *msg = outbox_json_str(args, "msg");
		snprintf(reason, sizeof(reason), "queueFail: %s", msg ? msg : "(no message)");
		outbox_job_fail(first, reason, true);
	} else {
		outbox_job_complete(first, true);
	}
}

static bool is_bot(const struct room *r, struct json_object *args)
{
	const char *u = outbox_json_str(args, "username");
	return u && r->username && strcasecmp(u, r->username) == 0;
}

/*
 * The channel's chat_antiflood limit applies to us (rank below moderator): pace to it, 10 % under
 * its sustained rate so that network jitter between our clock and the server's never makes a
 * message arrive early. bucket.c tightens; the margin is the outbox's policy.
 */
void confirm_apply_channel_opts(struct ob_room *o, const struct room *r)
{
	struct bucket *b = &o->bucket;
	if (!o->channel_opts ||
	    !bucket_apply_channel_opts(b, o->channel_opts, r->rank >= 2, outbox_mono_ms()))
		return;
	struct json_object *on, *params, *sus;
	if (r->rank < 2 && json_object_object_get_ex(o->channel_opts, "chat_antiflood", &on) &&
	    json_object_get_boolean(on) &&
	    json_object_object_get_ex(o->channel_opts, "chat_antiflood_params", &params) &&
	    json_object_object_get_ex(params, "sustained", &sus)) {
		double limit = json_object_get_double(sus) * OB_ANTIFLOOD_MARGIN;
		if (limit > 0 && (b->rate <= 0 || b->rate > limit))
			b->rate = limit;
	}
	log_debug(o->name, "pacing: burst %g, %.2f/s (configured %g, %g/s)", b->burst, b->rate,
	          b->cfg_burst, b->cfg_rate);
}

void confirm_event_hook(struct room *r, const char *type, struct json_object *args,
                        int64_t received_us, void *arg)
{
	struct outbox_state *s = arg;
	struct ob_room *o;
	char reason[300], lb[120];
	(void)received_us;

	if (outbox_dead(s) || !(o = outbox_room_get(s, r->name)))
		return;
	if (strcmp(type, "chatMsg") == 0 || strcmp(type, "pm") == 0) {
		if (is_bot(r, args))
			on_echo(o, type[0] == 'p', args);
	} else if (strcmp(type, "cooldown") == 0) {
		int64_t ms = args ? json_object_get_int64(args) : 0;
		bucket_cooldown(&o->bucket, ms, outbox_mono_ms());
		if (s->d->metrics)
			metrics_add(s->d->metrics, "dazd_outbound_cooldowns_total",
			            metrics_labels(lb, sizeof(lb), "room", o->name, NULL), 1);
		log_warn(o->name, "cooldown %lld ms from the server: a message was dropped",
		         (long long)ms);
		fail_oldest(o, "cooldown", false);
		outbox_pump_soon(o);
	} else if (strcmp(type, "noflood") == 0 || strcmp(type, "spamFiltered") == 0) {
		const char *m = outbox_json_str(args, "msg");
		if (!m)
			m = outbox_json_str(args, "reason");
		snprintf(reason, sizeof(reason), "%s: %s", type, m ? m : "");
		fail_oldest(o, reason, false);
	} else if (strcmp(type, "errorMsg") == 0) {
		const char *m = outbox_json_str(args, "msg");
		bool pm = m && (strncmp(m, "PM failed", 9) == 0 || strstr(m, "PM yourself"));
		snprintf(reason, sizeof(reason), "errorMsg: %s", m ? m : "");
		fail_oldest(o, reason, pm);
	} else if (strcmp(type, "queue") == 0) {
		on_queue_reply(o, args, false);
	} else if (strcmp(type, "queueFail") == 0) {
		on_queue_reply(o, args, true);
	} else if (strcmp(type, "channelOpts") == 0 && args) {
		if (o->channel_opts)
			json_object_put(o->channel_opts);
		o->channel_opts = json_object_get(args);
		confirm_apply_channel_opts(o, r);
	} else if (strcmp(type, "rank") == 0) {
		confirm_apply_channel_opts(o, r);
	}
}

void confirm_state_hook(struct room *r, enum room_state old_state, enum room_state new_state,
                        void *arg)
{
	struct outbox_state *s = arg;
	struct ob_room *o;
	if (outbox_dead(s) || !(o = outbox_room_get(s, r->name)))
		return;
	if (old_state == ROOM_JOINED && new_state != ROOM_JOINED) {
		lws_sul_cancel(&o->sul);
		outbox_room_drop_jobs(o, "room offline", "connection lost");
		if (s->draining)
			dazd_check_drained(s->d);
	} else if (new_state == ROOM_JOINED) {
		outbox_wake(s->d);
	}
}

/* outbox_int.h — outbox internals shared by outbox.c (claim, pace, send) and confirm.c (echoes,
 * server replies and refusals). Not for other modules: they use outbox.h. */
#ifndef DAZD_OUTBOX_INT_H
#define DAZD_OUTBOX_INT_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bucket.h"
#include "event.h"
#include "room.h"

struct dazd;
struct ack;
struct json_object;

#define OB_AHEAD_S          3.0   /* claim what the bucket can send within this many seconds */
#define OB_UNPACED_HOLD     200   /* jobs queued per unpaced room (moderator-like pacing) */
#define OB_UNPACED_INFLIGHT 500   /* ... counting those written and not yet echoed */
#define OB_ECHO_EXACT_SCAN  1024  /* waiting parts compared byte for byte with an echo */
#define OB_ECHO_SCAN        64    /* waiting parts compared after undoing CyTube's escaping */
#define OB_ANTIFLOOD_MARGIN 0.9   /* pace at 90 % of a channel antiflood rate */
#define OB_CLAIM_MAX        500   /* jobs per daz.claim call */
#define OB_TICK_US          50000 /* confirmation deadline check while something waits */

enum ob_kind {
	OB_CHAT = 0, /* chatMsg */
	OB_PM = 1,   /* pm */
	OB_EMIT = 2, /* any other allowed CyTube event */
};

struct ob_job {
	struct ob_job *next;
	struct ob_room *o;
	long long id;
	enum ob_kind kind;
	int priority;
	char *to;     /* pm recipient (owned) */
	char **parts; /* chat/pm text parts (split_text; owned) */
	size_t n_parts, n_sent, n_confirmed;
	char *event;              /* emit: event name (owned) */
	struct json_object *data; /* emit: payload (owned) or NULL */
	bool await_reply;         /* emit "queue": wait for queue / queueFail */
	int64_t created_wall_us;  /* enqueue time, database clock */
	int64_t claimed_us;       /* monotonic */
	int64_t deadline_ms;      /* monotonic; set once every part is written */
	bool in_sent;             /* on o->sent (else on o->queue) */
	size_t n_waits;           /* its entries on o->waits (parts written, no echo yet) */
};

/* One written chat/pm part waiting for its echo, in send order. */
struct ob_wait {
	struct ob_wait *next;
	struct ob_job *job;
	size_t part;
};

struct ob_room {
	struct ob_room *next;
	struct outbox_state *s;
	char name[EVENT_ROOM_MAX + 1];
	struct bucket bucket;
	int max_len;
	bool paused;
	struct ob_job *queue; /* not fully written; head is the one being sent */
	struct ob_job *sent;  /* fully written, waiting for echo / reply / deadline */
	struct ob_wait *waits, *waits_tail;
	size_t n_queued, n_sent;
	int64_t bucket_wait_since_us;     /* first failed take of the current wait, 0 if none */
	struct json_object *channel_opts; /* last channelOpts (owned), re-applied on rank change */
	lws_sorted_usec_list_t sul;       /* bucket refill wake-up */
};

struct outbox_state {
	struct dazd *d;
	struct ob_room *rooms;
	bool claim_in_flight, claim_again;
	bool last_claim_full; /* the last claim returned its limit: more are probably ready */
	size_t claim_limit;
	bool draining, drain_started;
	struct ack *ack;
	lws_sorted_usec_list_t sul_poll, sul_tick, sul_extend, sul_wake;
	bool tick_on, wake_scheduled;
};

/* ---- outbox.c --------------------------------------------------------------------------- */

const char *outbox_kind_name(enum ob_kind k);
bool outbox_dead(const struct outbox_state *s);
int64_t outbox_mono_ms(void);
int outbox_confirm_ms(const struct dazd *d);
const char *outbox_json_str(struct json_object *o, const char *key); /* borrowed, NULL if absent */

/* Per-room state by name, created on first use (NULL on out of memory or a name too long). */
struct ob_room *outbox_room_get(struct outbox_state *s, const char *name);

/* Settle a job: it leaves its room and its ack is queued; j is freed. */
void outbox_job_complete(struct ob_job *j, bool confirmed);
void outbox_job_fail(struct ob_job *j, const char *reason, bool retryable);

/* Fail everything held for the room (while shutting down, written jobs complete unconfirmed). */
void outbox_room_drop_jobs(struct ob_room *o, const char *queued_reason, const char *sent_reason);

/* Unlink and free one waiting part (prev is its predecessor on o->waits, NULL at the head). */
void outbox_wait_unlink(struct ob_room *o, struct ob_wait *prev, struct ob_wait *w);

/* Run the room's sender at the next loop turn (after a cooldown block, a resume, ...). */
void outbox_pump_soon(struct ob_room *o);

/* ---- confirm.c -------------------------------------------------------------------------- */

/* ws hooks (arg: struct outbox_state *). */
void confirm_event_hook(struct room *r, const char *type, struct json_object *args,
                        int64_t received_us, void *arg);
void confirm_state_hook(struct room *r, enum room_state old_state, enum room_state new_state,
                        void *arg);

/*
 * Which written part an echo of our own chatMsg (is_pm false) or pm (is_pm true, to = the
 * recipient) confirms: the oldest waiting part of that kind whose text it is. The server answers
 * in order, so the match is near the head: byte for byte first over OB_ECHO_EXACT_SCAN parts
 * (plain text comes back unchanged), then with CyTube's escaping and link wrapping undone
 * (event_echo_matches, max_len = the room's limit) over OB_ECHO_SCAN. Returns the part and its
 * predecessor in *prev_out (NULL at the head), or NULL. Pure: no I/O, changes nothing.
 */
struct ob_wait *confirm_match(struct ob_wait *waits, bool is_pm, const char *to, const char *msg,
                              size_t max_len, struct ob_wait **prev_out);

/* Check confirmation deadlines every OB_TICK_US while something waits. */
void confirm_tick_start(struct outbox_state *s);

/* Re-apply the room's last channelOpts to its bucket (after a rank change or a reload). */
void confirm_apply_channel_opts(struct ob_room *o, const struct room *r);

#endif

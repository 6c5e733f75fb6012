/* bucket.h — per-room token bucket matched to CyTube's chat flood limiter (pure, time passed in).
 */
#ifndef DAZ_BUCKET_H
#define DAZ_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

struct json_object;

/* Plain struct, no allocation. Times are monotonic milliseconds. */
struct bucket {
	double cfg_burst; /* configured burst (pacing.burst) */
	double cfg_rate;  /* configured tokens per second (pacing.per_second); <= 0: unpaced */
	double burst;     /* effective burst (configured, maybe tightened) */
	double rate;      /* effective tokens per second */
	double tokens;    /* tokens available at last_ms */
	int64_t last_ms;  /* last refill */
	int64_t blocked_until_ms; /* after a cooldown nothing is sent before this */
};

/* Safe defaults for a bot that is not a moderator. */
#define BUCKET_DEFAULT_BURST 4.0
#define BUCKET_DEFAULT_RATE  1.0

/* Start full. rate <= 0 disables pacing (every take succeeds, waits are 0; cooldowns still block).
 */
void bucket_init(struct bucket *b, double burst, double per_second, int64_t now_ms);

/* Tokens a chat text costs: 2 for "/me ", "/sp ", "/say " (and the bare commands), else 1. */
int bucket_cost(const char *text);

/* Take cost tokens if available now; false (nothing taken) otherwise. */
bool bucket_take(struct bucket *b, double cost, int64_t now_ms);

/* Milliseconds until cost tokens will be available (0 = now). Never negative. A cost above the
 * burst is treated as the burst (it would otherwise never fit). */
int64_t bucket_wait_ms(struct bucket *b, double cost, int64_t now_ms);

/* Tighten to at most burst / per_second (never loosens above the configured values). */
void bucket_tighten(struct bucket *b, double burst, double per_second, int64_t now_ms);

/* Back to the configured values (e.g. after the channel turned antiflood off). */
void bucket_restore(struct bucket *b, int64_t now_ms);

/* A `cooldown` arrived (server dropped a message): empty the bucket and block for cooldown_ms
 * (at least 1000 ms), so the job retried later does not hit the limiter again. */
void bucket_cooldown(struct bucket *b, int64_t cooldown_ms, int64_t now_ms);

/*
 * Read channelOpts (borrowed). If chat_antiflood is true and the bot is not a moderator
 * (is_moderator false), tighten to chat_antiflood_params {burst, sustained}; otherwise restore the
 * configured values. Returns true when the payload was understood.
 */
bool bucket_apply_channel_opts(struct bucket *b, struct json_object *channel_opts,
                               bool is_moderator, int64_t now_ms);

#endif

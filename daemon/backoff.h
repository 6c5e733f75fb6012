/* backoff.h — reconnect backoff with jitter and a per-room circuit breaker (pure, time passed in).
 */
#ifndef DAZ_BACKOFF_H
#define DAZ_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

enum backoff_jitter {
	BACKOFF_FULL,         /* uniform in [0, min(cap, base * 2^attempt)] */
	BACKOFF_DECORRELATED, /* uniform in [base, min(cap, previous * 3)] */
};

/* Plain struct, no allocation. */
struct backoff {
	int64_t base_ms; /* first delay scale, > 0 */
	int64_t cap_ms;  /* no delay is longer */
	int64_t kick_ms; /* floor applied after a kick (backoff_kicked) */
	enum backoff_jitter jitter;
	unsigned attempt; /* delays handed out since the last reset */
	int64_t prev_ms;  /* last delay (decorrelated jitter) */
	bool kicked;      /* next delay is at least kick_ms */
	uint64_t rng;     /* generator state (splitmix64) */
};

/* Defaults used by dazd: base 1 s, cap 60 s, kick floor 30 s. */
#define BACKOFF_BASE_MS 1000
#define BACKOFF_CAP_MS  60000
#define BACKOFF_KICK_MS 30000

/* seed chooses the jitter sequence (tests pass a constant; dazd passes something random). */
void backoff_init(struct backoff *b, int64_t base_ms, int64_t cap_ms, int64_t kick_ms,
                  enum backoff_jitter jitter, uint64_t seed);

/* Delay before the next attempt; counts an attempt. Always in [0, cap_ms] (or kick_ms when
 * kicked, which may exceed the cap only if kick_ms > cap_ms). Never infinite: no attempt limit. */
int64_t backoff_next_ms(struct backoff *b);

/* The connection was kicked: the next delay is at least kick_ms. */
void backoff_kicked(struct backoff *b);

/* Joined successfully: start again from base. */
void backoff_reset(struct backoff *b);

/* ---- Circuit breaker -------------------------------------------------------------------- */

enum breaker_state {
	BREAKER_CLOSED,    /* normal: attempts allowed */
	BREAKER_OPEN,      /* too many failures in a row: no attempts until open_ms passed */
	BREAKER_HALF_OPEN, /* one probe attempt allowed; its result closes or re-opens */
};

struct breaker {
	enum breaker_state state;
	unsigned threshold;  /* consecutive failures that open the circuit */
	unsigned failures;   /* consecutive failures so far */
	int64_t open_ms;     /* how long the circuit stays open before a probe */
	int64_t max_open_ms; /* open_ms doubles on each failed probe up to this */
	int64_t cur_open_ms; /* current open period */
	int64_t opened_at_ms;
	unsigned trips; /* times the circuit opened (metric) */
};

#define BREAKER_THRESHOLD   8
#define BREAKER_OPEN_MS     120000
#define BREAKER_MAX_OPEN_MS 600000

void breaker_init(struct breaker *br, unsigned threshold, int64_t open_ms, int64_t max_open_ms);

/* May an attempt start now? Moves OPEN → HALF_OPEN once the open period passed. */
bool breaker_allow(struct breaker *br, int64_t now_ms);

/* The attempt succeeded (room joined): CLOSED, counters reset. */
void breaker_success(struct breaker *br);

/* The attempt failed: counts, and opens the circuit at the threshold or after a failed probe. */
void breaker_failure(struct breaker *br, int64_t now_ms);

/* When an OPEN circuit allows the next probe (absolute ms); now_ms when not OPEN. */
int64_t breaker_retry_at_ms(const struct breaker *br, int64_t now_ms);

const char *breaker_state_name(enum breaker_state s); /* "closed", "open", "half-open" */

#endif

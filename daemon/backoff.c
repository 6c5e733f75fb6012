/* backoff.c — reconnect backoff with jitter and a per-room circuit breaker (pure, time passed in).
 */
#include "backoff.h"

/* splitmix64: small, seedable, good enough for jitter. */
static uint64_t next_rand(struct backoff *b)
{
	uint64_t z = (b->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform integer in [lo, hi] (hi >= lo). */
static int64_t uniform(struct backoff *b, int64_t lo, int64_t hi)
{
	if (hi <= lo)
		return lo;
	return lo + (int64_t)(next_rand(b) % (uint64_t)(hi - lo + 1));
}

void backoff_init(struct backoff *b, int64_t base_ms, int64_t cap_ms, int64_t kick_ms,
                  enum backoff_jitter jitter, uint64_t seed)
{
	b->base_ms = base_ms > 0 ? base_ms : 1;
	b->cap_ms = cap_ms >= b->base_ms ? cap_ms : b->base_ms;
	b->kick_ms = kick_ms > 0 ? kick_ms : 0;
	b->jitter = jitter;
	b->attempt = 0;
	b->prev_ms = b->base_ms;
	b->kicked = false;
	b->rng = seed;
}

int64_t backoff_next_ms(struct backoff *b)
{
	int64_t d;
	if (b->jitter == BACKOFF_DECORRELATED) {
		int64_t hi = b->prev_ms > b->cap_ms / 3 ? b->cap_ms : b->prev_ms * 3;
		d = uniform(b, b->base_ms, hi);
		b->prev_ms = d;
	} else {
		/* base * 2^attempt without overflow */
		int64_t ceil = b->base_ms;
		for (unsigned i = 0; i < b->attempt && ceil < b->cap_ms; i++)
			ceil = ceil > b->cap_ms / 2 ? b->cap_ms : ceil * 2;
		if (ceil > b->cap_ms)
			ceil = b->cap_ms;
		d = uniform(b, 0, ceil);
	}
	if (b->attempt < 1000000)
		b->attempt++;
	if (b->kicked) {
		if (d < b->kick_ms)
			d = uniform(b, b->kick_ms, b->kick_ms + b->kick_ms / 2);
		b->kicked = false;
	}
	return d;
}

void backoff_kicked(struct backoff *b)
{
	b->kicked = true;
}

void backoff_reset(struct backoff *b)
{
	b->attempt = 0;
	b->prev_ms = b->base_ms;
	b->kicked = false;
}

void breaker_init(struct breaker *br, unsigned threshold, int64_t open_ms, int64_t max_open_ms)
{
	br->state = BREAKER_CLOSED;
	br->threshold = threshold ? threshold : 1;
	br->failures = 0;
	br->open_ms = open_ms > 0 ? open_ms : 1;
	br->max_open_ms = max_open_ms >= br->open_ms ? max_open_ms : br->open_ms;
	br->cur_open_ms = br->open_ms;
	br->opened_at_ms = 0;
	br->trips = 0;
}

bool breaker_allow(struct breaker *br, int64_t now_ms)
{
	switch (br->state) {
	case BREAKER_CLOSED:
		return true;
	case BREAKER_OPEN:
		if (now_ms - br->opened_at_ms >= br->cur_open_ms) {
			br->state = BREAKER_HALF_OPEN;
			return true;
		}
		return false;
	case BREAKER_HALF_OPEN:
		/* the probe is in flight; its outcome decides */
		return true;
	}
	return true;
}

void breaker_success(struct breaker *br)
{
	br->state = BREAKER_CLOSED;
	br->failures = 0;
	br->cur_open_ms = br->open_ms;
}

static void trip(struct breaker *br, int64_t now_ms)
{
	br->state = BREAKER_OPEN;
	br->opened_at_ms = now_ms;
	br->trips++;
}

void breaker_failure(struct breaker *br, int64_t now_ms)
{
	if (br->failures < 1000000)
		br->failures++;
	switch (br->state) {
	case BREAKER_CLOSED:
		if (br->failures >= br->threshold)
			trip(br, now_ms);
		break;
	case BREAKER_HALF_OPEN:
		/* failed probe: stay away longer, up to max_open_ms */
		br->cur_open_ms =
		    br->cur_open_ms > br->max_open_ms / 2 ? br->max_open_ms : br->cur_open_ms * 2;
		trip(br, now_ms);
		break;
	case BREAKER_OPEN:
		break;
	}
}

int64_t breaker_retry_at_ms(const struct breaker *br, int64_t now_ms)
{
	if (br->state != BREAKER_OPEN)
		return now_ms;
	return br->opened_at_ms + br->cur_open_ms;
}

const char *breaker_state_name(enum breaker_state s)
{
	switch (s) {
	case BREAKER_CLOSED:
		return "closed";
	case BREAKER_OPEN:
		return "open";
	case BREAKER_HALF_OPEN:
		return "half-open";
	}
	return "?";
}

/* uuid.h — time-ordered UUIDv7 ids for events (pure; clock and randomness are passed in). */
#ifndef DAZ_UUID_H
#define DAZ_UUID_H

#include <stdint.h>

#define UUID_STR_LEN 37 /* 36 characters + NUL */

/* Randomness source: returns 64 random bits. */
typedef uint64_t (*uuid_rand_fn)(void *ctx);

/* Generator state. One per process is enough (single-threaded). */
struct uuid_gen {
	int64_t last_ms;   /* timestamp of the last id */
	uint8_t last[16];  /* last id, for monotonic increments within one millisecond */
	uuid_rand_fn rand; /* randomness source */
	void *ctx;         /* passed to rand */
};

/*
 * Initialise. rand NULL selects the built-in source (a xorshift generator seeded from the
 * kernel's getrandom(); good enough for uniqueness, not a secret).
 */
void uuid_gen_init(struct uuid_gen *g, uuid_rand_fn rand, void *ctx);

/*
 * Next id for unix time now_ms, RFC 9562 layout: 48-bit ms timestamp, version 7, 12 + 62 random
 * bits. Ids from one generator strictly increase (bytewise) even when now_ms stalls or goes back:
 * the random part is then incremented as a counter.
 */
void uuid_v7(struct uuid_gen *g, int64_t now_ms, uint8_t out[16]);

/* Canonical lower-case text form "xxxxxxxx-xxxx-7xxx-yxxx-xxxxxxxxxxxx" into out. */
void uuid_format(const uint8_t u[16], char out[UUID_STR_LEN]);

/* Parse the canonical text form; returns 0 or -1. */
int uuid_parse(const char *s, uint8_t out[16]) __attribute__((warn_unused_result));

/* Millisecond timestamp stored in a v7 id. */
int64_t uuid_v7_ms(const uint8_t u[16]);

#endif

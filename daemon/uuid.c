/* uuid.c — time-ordered UUIDv7 ids for events (pure; clock and randomness are passed in). */
#include "uuid.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* Built-in randomness: xorshift64* seeded once from getrandom() (or time and pid if that fails). */
static uint64_t default_state;

static uint64_t default_rand(void *ctx)
{
	(void)ctx;
	if (default_state == 0) {
		uint64_t seed = 0;
		if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			seed = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^
			       ((uint64_t)getpid() << 16);
		}
		default_state = seed ? seed : 0x9e3779b97f4a7c15ull;
	}
	default_state ^= default_state >> 12;
	default_state ^= default_state << 25;
	default_state ^= default_state >> 27;
	return default_state * 0x2545f4914f6cdd1dull;
}

void uuid_gen_init(struct uuid_gen *g, uuid_rand_fn rand, void *ctx)
{
	memset(g, 0, sizeof(*g));
	g->last_ms = -1;
	g->rand = rand ? rand : default_rand;
	g->ctx = ctx;
}

/* Add one to the 74 random bits (rand_a 12 bits in bytes 6-7, rand_b 62 bits in bytes 8-15),
 * skipping the version and variant bits. Returns 1 on overflow. */
static int increment_random(uint8_t u[16])
{
	for (int i = 15; i >= 9; i--) {
		if (++u[i] != 0)
			return 0;
	}
	/* byte 8: variant in the top two bits, 6 bits of counter below */
	uint8_t low = (uint8_t)((u[8] & 0x3f) + 1);
	u[8] = (uint8_t)(0x80 | (low & 0x3f));
	if (low <= 0x3f)
		return 0;
	if (++u[7] != 0)
		return 0;
	uint8_t hi = (uint8_t)((u[6] & 0x0f) + 1);
	u[6] = (uint8_t)(0x70 | (hi & 0x0f));
	return hi > 0x0f;
}

static void put_ms(uint8_t u[16], int64_t ms)
{
	uint64_t t = (uint64_t)ms & 0xffffffffffffull;
	for (int i = 0; i < 6; i++)
		u[i] = (uint8_t)(t >> (8 * (5 - i)));
}

void uuid_v7(struct uuid_gen *g, int64_t now_ms, uint8_t out[16])
{
	if (now_ms < 0)
		now_ms = 0;
	if (g->last_ms >= 0 && now_ms <= g->last_ms) {
		/* same millisecond or clock went back: continue from the last id */
		memcpy(out, g->last, 16);
		if (increment_random(out)) {
			/* 74-bit counter exhausted: borrow the next millisecond */
			g->last_ms++;
			put_ms(out, g->last_ms);
			memset(out + 6, 0, 10);
			out[6] = 0x70;
			out[8] = 0x80;
		}
	} else {
		uint64_t r1 = g->rand(g->ctx), r2 = g->rand(g->ctx);
		put_ms(out, now_ms);
		out[6] = (uint8_t)(0x70 | ((r1 >> 8) & 0x0f));
		out[7] = (uint8_t)r1;
		/* leave headroom for the in-millisecond counter: top random bit of rand_b clear */
		out[8] = (uint8_t)(0x80 | ((r2 >> 56) & 0x1f));
		for (int i = 9; i < 16; i++)
			out[i] = (uint8_t)(r2 >> (8 * (15 - i)));
		g->last_ms = now_ms;
	}
	memcpy(g->last, out, 16);
}

void uuid_format(const uint8_t u[16], char out[UUID_STR_LEN])
{
	static const char hex[] = "0123456789abcdef";
	char *p = out;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		*p++ = hex[u[i] >> 4];
		*p++ = hex[u[i] & 0x0f];
	}
	*p = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int uuid_parse(const char *s, uint8_t out[16])
{
	int n = 0;
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -1;
			continue;
		}
		int hi = hexval(s[i]);
		if (hi < 0)
			return -1;
		int lo = hexval(s[++i]);
		if (lo < 0)
			return -1;
		out[n++] = (uint8_t)(hi << 4 | lo);
	}
	return s[36] == '\0' ? 0 : -1;
}

int64_t uuid_v7_ms(const uint8_t u[16])
{
	int64_t t = 0;
	for (int i = 0; i < 6; i++)
		t = t << 8 | u[i];
	return t;
}

/* bucket.c — per-room token bucket matched to CyTube's chat flood limiter (pure, time passed in).
 */
#include "bucket.h"

#include <json-c/json.h>
#include <math.h>
#include <string.h>

static bool unpaced(const struct bucket *b)
{
	return b->rate <= 0;
}

static void refill(struct bucket *b, int64_t now_ms)
{
	if (now_ms > b->last_ms) {
		if (!unpaced(b)) {
			b->tokens += (double)(now_ms - b->last_ms) * b->rate / 1000.0;
			if (b->tokens > b->burst)
				b->tokens = b->burst;
		}
		b->last_ms = now_ms;
	}
}

void bucket_init(struct bucket *b, double burst, double per_second, int64_t now_ms)
{
	if (!(burst >= 1))
		burst = 1;
	if (!(per_second > 0))
		per_second = 0;
	b->cfg_burst = b->burst = burst;
	b->cfg_rate = b->rate = per_second;
	b->tokens = burst;
	b->last_ms = now_ms;
	b->blocked_until_ms = 0;
}

/* "/me", "/sp" and "/say" are handled by CyTube's chat command code and cost two tokens. */
int bucket_cost(const char *text)
{
	static const char *const two[] = {"/me", "/sp", "/say"};
	for (size_t i = 0; i < sizeof(two) / sizeof(two[0]); i++) {
		size_t n = strlen(two[i]);
		if (strncmp(text, two[i], n) == 0 && (text[n] == ' ' || text[n] == '\0'))
			return 2;
	}
	return 1;
}

static double clamp_cost(const struct bucket *b, double cost)
{
	if (cost > b->burst)
		cost = b->burst;
	if (cost < 0)
		cost = 0;
	return cost;
}

bool bucket_take(struct bucket *b, double cost, int64_t now_ms)
{
	if (now_ms < b->blocked_until_ms)
		return false;
	if (unpaced(b))
		return true;
	refill(b, now_ms);
	cost = clamp_cost(b, cost);
	if (b->tokens + 1e-9 < cost)
		return false;
	b->tokens -= cost;
	if (b->tokens < 0)
		b->tokens = 0;
	return true;
}

int64_t bucket_wait_ms(struct bucket *b, double cost, int64_t now_ms)
{
	int64_t wait = 0;
	if (now_ms < b->blocked_until_ms)
		wait = b->blocked_until_ms - now_ms;
	if (unpaced(b))
		return wait;
	refill(b, now_ms);
	cost = clamp_cost(b, cost);
	/* tokens at the end of the block (refilling starts at last_ms, which a cooldown moved to
	 * the end of the block) */
	int64_t from = now_ms + wait;
	double have = b->tokens;
	if (from > b->last_ms)
		have += (double)(from - b->last_ms) * b->rate / 1000.0;
	if (have > b->burst)
		have = b->burst;
	if (have + 1e-9 < cost) {
		double need_ms = (cost - have) * 1000.0 / b->rate;
		int64_t w = (int64_t)need_ms;
		wait += w < need_ms ? w + 1 : w; /* round up without libm */
	}
	return wait;
}

void bucket_tighten(struct bucket *b, double burst, double per_second, int64_t now_ms)
{
	refill(b, now_ms);
	double nb = b->cfg_burst, nr = b->cfg_rate;
	if (burst >= 1 && burst < nb)
		nb = burst;
	if (per_second > 0 && (nr <= 0 || per_second < nr))
		nr = per_second;
	b->burst = nb;
	b->rate = nr;
	if (b->tokens > b->burst)
		b->tokens = b->burst;
}

void bucket_restore(struct bucket *b, int64_t now_ms)
{
	refill(b, now_ms);
	b->burst = b->cfg_burst;
	b->rate = b->cfg_rate;
	if (b->tokens > b->burst)
		b->tokens = b->burst;
}

void bucket_cooldown(struct bucket *b, int64_t cooldown_ms, int64_t now_ms)
{
	if (cooldown_ms < 1000)
		cooldown_ms = 1000;
	if (cooldown_ms > 600000)
		cooldown_ms = 600000;
	refill(b, now_ms);
	b->tokens = 0;
	if (now_ms + cooldown_ms > b->blocked_until_ms)
		b->blocked_until_ms = now_ms + cooldown_ms;
	/* tokens start refilling only once the block ends */
	b->last_ms = b->blocked_until_ms;
}

static bool get_number(struct json_object *o, const char *key, double *out)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v))
		return false;
	if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
		return false;
	*out = json_object_get_double(v);
	return isfinite(*out);
}

bool bucket_apply_channel_opts(struct bucket *b, struct json_object *opts, bool is_moderator,
                               int64_t now_ms)
{
	struct json_object *on, *params;
	double burst, sustained;

	if (!opts || !json_object_is_type(opts, json_type_object))
		return false;
	if (!json_object_object_get_ex(opts, "chat_antiflood", &on) ||
	    !json_object_is_type(on, json_type_boolean))
		return false;
	if (!json_object_get_boolean(on) || is_moderator) {
		bucket_restore(b, now_ms);
		return true;
	}
	if (!json_object_object_get_ex(opts, "chat_antiflood_params", &params) ||
	    !json_object_is_type(params, json_type_object) ||
	    !get_number(params, "burst", &burst) || !get_number(params, "sustained", &sustained))
		return false;
	bucket_restore(b, now_ms);
	bucket_tighten(b, burst, sustained, now_ms);
	return true;
}

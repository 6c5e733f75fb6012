/* test_bucket.c — token bucket pacing, costs, cooldown and antiflood tightening. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "bucket.h"

static void test_bucket_burst_then_one_per_second(void **state)
{
	(void)state;
	struct bucket b;
	bucket_init(&b, 4, 1, 0);
	for (int i = 0; i < 4; i++)
		assert_true(bucket_take(&b, 1, 0));
	assert_false(bucket_take(&b, 1, 0));
	assert_int_equal(bucket_wait_ms(&b, 1, 0), 1000);
	assert_int_equal(bucket_wait_ms(&b, 1, 400), 600);
	assert_false(bucket_take(&b, 1, 999));
	assert_true(bucket_take(&b, 1, 1000));
	assert_false(bucket_take(&b, 1, 1500));
	assert_true(bucket_take(&b, 1, 2000));
}

static void test_bucket_refills_only_up_to_burst(void **state)
{
	(void)state;
	struct bucket b;
	bucket_init(&b, 4, 1, 0);
	for (int i = 0; i < 4; i++)
		assert_true(bucket_take(&b, 1, 0));
	/* a long silence refills to 4, not more */
	for (int i = 0; i < 4; i++)
		assert_true(bucket_take(&b, 1, 100000));
	assert_false(bucket_take(&b, 1, 100000));
}

static void test_bucket_sustained_rate_over_a_minute(void **state)
{
	(void)state;
	struct bucket b;
	int sent = 0;
	bucket_init(&b, 4, 1, 0);
	for (int64_t t = 0; t <= 60000; t += 10) {
		if (bucket_take(&b, 1, t))
			sent++;
	}
	/* burst 4 + 60 refills */
	assert_int_equal(sent, 64);
}

static void test_bucket_me_and_sp_cost_two(void **state)
{
	(void)state;
	struct bucket b;
	assert_int_equal(bucket_cost("/me waves"), 2);
	assert_int_equal(bucket_cost("/sp spoiler"), 2);
	assert_int_equal(bucket_cost("/say hi"), 2);
	assert_int_equal(bucket_cost("/me"), 2);
	assert_int_equal(bucket_cost("/meow"), 1);
	assert_int_equal(bucket_cost("hello /me"), 1);
	assert_int_equal(bucket_cost(""), 1);
	bucket_init(&b, 4, 1, 0);
	assert_true(bucket_take(&b, 2, 0));
	assert_true(bucket_take(&b, 2, 0));
	assert_false(bucket_take(&b, 1, 0));
	assert_int_equal(bucket_wait_ms(&b, 2, 0), 2000);
}

static void test_bucket_cost_above_burst_still_fits(void **state)
{
	(void)state;
	struct bucket b;
	bucket_init(&b, 1, 1, 0);
	assert_true(bucket_take(&b, 2, 0));
	assert_int_equal(bucket_wait_ms(&b, 2, 0), 1000);
}

static void test_bucket_unpaced_never_waits(void **state)
{
	(void)state;
	struct bucket b;
	bucket_init(&b, 4, 0, 0);
	for (int i = 0; i < 10000; i++)
		assert_true(bucket_take(&b, 1, 0));
	assert_int_equal(bucket_wait_ms(&b, 1, 0), 0);
}

static void test_bucket_cooldown_blocks_and_empties(void **state)
{
	(void)state;
	struct bucket b;
	bucket_init(&b, 4, 1, 0);
	bucket_cooldown(&b, 4000, 1000);
	assert_false(bucket_take(&b, 1, 1000));
	assert_false(bucket_take(&b, 1, 4999));
	/* blocked until 5000, then empty: first token at 6000 */
	assert_int_equal(bucket_wait_ms(&b, 1, 1000), 5000);
	assert_false(bucket_take(&b, 1, 5000));
	assert_true(bucket_take(&b, 1, 6000));
}

static void test_bucket_short_cooldown_is_at_least_one_second(void **state)
{
	(void)state;
	struct bucket b;
	bucket_init(&b, 20, 10, 0);
	bucket_cooldown(&b, 100, 0); /* CyTube sends cooldown 100 for its own limiter */
	assert_false(bucket_take(&b, 1, 999));
	assert_int_equal(bucket_wait_ms(&b, 1, 0), 1100);
}

static void test_bucket_cooldown_blocks_unpaced_room(void **state)
{
	(void)state;
	struct bucket b;
	bucket_init(&b, 4, 0, 0);
	bucket_cooldown(&b, 2000, 0);
	assert_false(bucket_take(&b, 1, 1000));
	assert_int_equal(bucket_wait_ms(&b, 1, 1000), 1000);
	assert_true(bucket_take(&b, 1, 2000));
}

static void test_bucket_tighten_never_loosens(void **state)
{
	(void)state;
	struct bucket b;
	bucket_init(&b, 4, 1, 0);
	bucket_tighten(&b, 20, 10, 0);
	assert_true(b.burst == 4 && b.rate == 1);
	bucket_tighten(&b, 2, 0.5, 0);
	assert_true(b.burst == 2 && b.rate == 0.5);
	assert_true(b.tokens <= 2);
	bucket_restore(&b, 0);
	assert_true(b.burst == 4 && b.rate == 1);
}

/* channelOpts as captured from CyTube (fixchan), with chat_antiflood toggled */
static const char *channel_opts =
    "{\"allow_voteskip\":true,\"voteskip_ratio\":0.5,\"afk_timeout\":600,\"pagetitle\":"
    "\"fixchan\",\"maxlength\":0,\"externalcss\":\"\",\"externaljs\":\"\",\"chat_antiflood\":%s,"
    "\"chat_antiflood_params\":{\"burst\":2,\"sustained\":0.5,\"cooldown\":4},\"show_public\":"
    "false,\"enable_link_regex\":true,\"password\":false}";

static struct json_object *opts(const char *on)
{
	char buf[1024];
	snprintf(buf, sizeof(buf), channel_opts, on);
	return json_tokener_parse(buf);
}

static void test_bucket_channel_opts_antiflood_tightens_for_non_moderator(void **state)
{
	(void)state;
	struct bucket b;
	struct json_object *on = opts("true"), *off = opts("false");
	bucket_init(&b, 4, 1, 0);
	assert_true(bucket_apply_channel_opts(&b, on, false, 0));
	assert_true(b.burst == 2 && b.rate == 0.5);
	assert_true(bucket_take(&b, 1, 0));
	assert_true(bucket_take(&b, 1, 0));
	assert_false(bucket_take(&b, 1, 0));
	assert_int_equal(bucket_wait_ms(&b, 1, 0), 2000);
	/* a moderator is not subject to chat_antiflood */
	assert_true(bucket_apply_channel_opts(&b, on, true, 0));
	assert_true(b.burst == 4 && b.rate == 1);
	/* antiflood off: configured values */
	assert_true(bucket_apply_channel_opts(&b, on, false, 0));
	assert_true(bucket_apply_channel_opts(&b, off, false, 0));
	assert_true(b.burst == 4 && b.rate == 1);
	json_object_put(on);
	json_object_put(off);
}

static void test_bucket_channel_opts_malformed_is_ignored(void **state)
{
	(void)state;
	struct bucket b;
	struct json_object *bad =
	    json_tokener_parse("{\"chat_antiflood\":true,"
	                       "\"chat_antiflood_params\":{\"burst\":\"x\"}}");
	struct json_object *arr = json_tokener_parse("[1,2]");
	bucket_init(&b, 4, 1, 0);
	assert_false(bucket_apply_channel_opts(&b, bad, false, 0));
	assert_false(bucket_apply_channel_opts(&b, arr, false, 0));
	assert_false(bucket_apply_channel_opts(&b, NULL, false, 0));
	assert_true(b.burst == 4 && b.rate == 1);
	json_object_put(bad);
	json_object_put(arr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bucket_burst_then_one_per_second),
	    cmocka_unit_test(test_bucket_refills_only_up_to_burst),
	    cmocka_unit_test(test_bucket_sustained_rate_over_a_minute),
	    cmocka_unit_test(test_bucket_me_and_sp_cost_two),
	    cmocka_unit_test(test_bucket_cost_above_burst_still_fits),
	    cmocka_unit_test(test_bucket_unpaced_never_waits),
	    cmocka_unit_test(test_bucket_cooldown_blocks_and_empties),
	    cmocka_unit_test(test_bucket_short_cooldown_is_at_least_one_second),
	    cmocka_unit_test(test_bucket_cooldown_blocks_unpaced_room),
	    cmocka_unit_test(test_bucket_tighten_never_loosens),
	    cmocka_unit_test(test_bucket_channel_opts_antiflood_tightens_for_non_moderator),
	    cmocka_unit_test(test_bucket_channel_opts_malformed_is_ignored),
	};
	return cmocka_run_group_tests_name("bucket", tests, NULL, NULL);
}

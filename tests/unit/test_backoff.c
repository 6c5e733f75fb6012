/* test_backoff.c — reconnect backoff bounds, reset, kick floor and the circuit breaker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "backoff.h"

static void test_backoff_full_jitter_stays_under_exponential_ceiling(void **state)
{
	(void)state;
	struct backoff b;
	backoff_init(&b, 1000, 60000, 30000, BACKOFF_FULL, 42);
	for (unsigned i = 0; i < 40; i++) {
		int64_t ceil = 1000;
		for (unsigned k = 0; k < i && ceil < 60000; k++)
			ceil *= 2;
		if (ceil > 60000)
			ceil = 60000;
		int64_t d = backoff_next_ms(&b);
		assert_true(d >= 0);
		assert_true(d <= ceil);
	}
}

static void test_backoff_full_jitter_actually_varies(void **state)
{
	(void)state;
	struct backoff b;
	int64_t min = INT64_MAX, max = 0;
	backoff_init(&b, 1000, 60000, 30000, BACKOFF_FULL, 7);
	for (int i = 0; i < 10; i++)
		backoff_next_ms(&b);
	for (int i = 0; i < 200; i++) {
		int64_t d = backoff_next_ms(&b);
		min = d < min ? d : min;
		max = d > max ? d : max;
	}
	assert_true(min < 20000);
	assert_true(max > 40000);
}

static void test_backoff_decorrelated_within_base_and_cap(void **state)
{
	(void)state;
	struct backoff b;
	backoff_init(&b, 500, 30000, 30000, BACKOFF_DECORRELATED, 1);
	int64_t prev = 500;
	for (int i = 0; i < 1000; i++) {
		int64_t d = backoff_next_ms(&b);
		assert_true(d >= 500);
		assert_true(d <= 30000);
		assert_true(d <= prev * 3 || d <= 30000);
		prev = d;
	}
}

static void test_backoff_reset_starts_from_base(void **state)
{
	(void)state;
	struct backoff b;
	backoff_init(&b, 1000, 60000, 30000, BACKOFF_FULL, 9);
	for (int i = 0; i < 20; i++)
		backoff_next_ms(&b);
	assert_int_equal(b.attempt, 20);
	backoff_reset(&b);
	assert_int_equal(b.attempt, 0);
	for (int i = 0; i < 50; i++) {
		backoff_reset(&b);
		assert_true(backoff_next_ms(&b) <= 1000);
	}
}

static void test_backoff_kick_waits_at_least_kick_floor_once(void **state)
{
	(void)state;
	struct backoff b;
	backoff_init(&b, 1000, 60000, 30000, BACKOFF_FULL, 3);
	backoff_kicked(&b);
	int64_t d = backoff_next_ms(&b);
	assert_true(d >= 30000);
	assert_true(d <= 45000);
	/* only the next delay */
	assert_true(backoff_next_ms(&b) <= 2000);
}

static void test_backoff_same_seed_same_sequence(void **state)
{
	(void)state;
	struct backoff a, b;
	backoff_init(&a, 1000, 60000, 30000, BACKOFF_FULL, 123);
	backoff_init(&b, 1000, 60000, 30000, BACKOFF_FULL, 123);
	for (int i = 0; i < 30; i++)
		assert_int_equal(backoff_next_ms(&a), backoff_next_ms(&b));
}

static void test_backoff_no_attempt_limit(void **state)
{
	(void)state;
	struct backoff b;
	backoff_init(&b, 1000, 60000, 30000, BACKOFF_FULL, 5);
	for (int i = 0; i < 100000; i++) {
		int64_t d = backoff_next_ms(&b);
		assert_true(d >= 0 && d <= 60000);
	}
}

static void test_breaker_opens_after_threshold_and_probes_later(void **state)
{
	(void)state;
	struct breaker br;
	breaker_init(&br, 3, 10000, 40000);
	assert_true(breaker_allow(&br, 0));
	breaker_failure(&br, 100);
	breaker_failure(&br, 200);
	assert_int_equal(br.state, BREAKER_CLOSED);
	breaker_failure(&br, 300);
	assert_int_equal(br.state, BREAKER_OPEN);
	assert_int_equal(br.trips, 1);
	assert_false(breaker_allow(&br, 5000));
	assert_int_equal(breaker_retry_at_ms(&br, 5000), 10300);
	assert_true(breaker_allow(&br, 10300));
	assert_int_equal(br.state, BREAKER_HALF_OPEN);
	assert_string_equal(breaker_state_name(br.state), "half-open");
}

static void test_breaker_failed_probe_reopens_longer_up_to_max(void **state)
{
	(void)state;
	struct breaker br;
	int64_t t = 0;
	breaker_init(&br, 1, 10000, 40000);
	breaker_failure(&br, t);
	int64_t expect[] = {10000, 20000, 40000, 40000, 40000};
	for (int i = 0; i < 5; i++) {
		assert_int_equal(br.state, BREAKER_OPEN);
		assert_int_equal(breaker_retry_at_ms(&br, t) - t, expect[i]);
		assert_false(breaker_allow(&br, t + expect[i] - 1));
		t += expect[i];
		assert_true(breaker_allow(&br, t));
		breaker_failure(&br, t);
	}
}

static void test_breaker_success_closes_and_resets(void **state)
{
	(void)state;
	struct breaker br;
	breaker_init(&br, 2, 1000, 8000);
	breaker_failure(&br, 0);
	breaker_failure(&br, 0);
	assert_true(breaker_allow(&br, 1000));
	breaker_success(&br);
	assert_int_equal(br.state, BREAKER_CLOSED);
	assert_int_equal(br.failures, 0);
	assert_string_equal(breaker_state_name(br.state), "closed");
	breaker_failure(&br, 2000);
	assert_int_equal(br.state, BREAKER_CLOSED);
	assert_int_equal(breaker_retry_at_ms(&br, 2000), 2000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_backoff_full_jitter_stays_under_exponential_ceiling),
	    cmocka_unit_test(test_backoff_full_jitter_actually_varies),
	    cmocka_unit_test(test_backoff_decorrelated_within_base_and_cap),
	    cmocka_unit_test(test_backoff_reset_starts_from_base),
	    cmocka_unit_test(test_backoff_kick_waits_at_least_kick_floor_once),
	    cmocka_unit_test(test_backoff_same_seed_same_sequence),
	    cmocka_unit_test(test_backoff_no_attempt_limit),
	    cmocka_unit_test(test_breaker_opens_after_threshold_and_probes_later),
	    cmocka_unit_test(test_breaker_failed_probe_reopens_longer_up_to_max),
	    cmocka_unit_test(test_breaker_success_closes_and_resets),
	};
	return cmocka_run_group_tests_name("backoff", tests, NULL, NULL);
}

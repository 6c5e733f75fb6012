/* test_uuid.c — UUIDv7 layout, ordering and text form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "uuid.h"

static uint64_t fixed_rand(void *ctx)
{
	uint64_t *state = ctx;
	*state = *state * 6364136223846793005ull + 1442695040888963407ull;
	return *state;
}

static uint64_t ones_rand(void *ctx)
{
	(void)ctx;
	return ~0ull;
}

static void test_uuid_v7_has_version_variant_and_timestamp(void **state)
{
	(void)state;
	struct uuid_gen g;
	uint64_t s = 1;
	uint8_t u[16];
	uuid_gen_init(&g, fixed_rand, &s);
	uuid_v7(&g, 1795750187523LL, u);
	assert_int_equal(u[6] >> 4, 7);
	assert_int_equal(u[8] >> 6, 2);
	assert_int_equal(uuid_v7_ms(u), 1795750187523LL);
}

static void test_uuid_v7_strictly_increasing_within_one_ms(void **state)
{
	(void)state;
	struct uuid_gen g;
	uint64_t s = 7;
	uint8_t prev[16], u[16];
	uuid_gen_init(&g, fixed_rand, &s);
	uuid_v7(&g, 1000, prev);
	for (int i = 0; i < 10000; i++) {
		uuid_v7(&g, 1000, u);
		assert_true(memcmp(prev, u, 16) < 0);
		assert_int_equal(u[6] >> 4, 7);
		assert_int_equal(u[8] >> 6, 2);
		memcpy(prev, u, 16);
	}
}

static void test_uuid_v7_increasing_when_clock_goes_back(void **state)
{
	(void)state;
	struct uuid_gen g;
	uint64_t s = 3;
	uint8_t a[16], b[16];
	uuid_gen_init(&g, fixed_rand, &s);
	uuid_v7(&g, 5000, a);
	uuid_v7(&g, 4000, b);
	assert_true(memcmp(a, b, 16) < 0);
	assert_int_equal(uuid_v7_ms(b), 5000);
	uuid_v7(&g, 6000, b);
	assert_int_equal(uuid_v7_ms(b), 6000);
}

static void test_uuid_v7_counter_overflow_borrows_next_ms(void **state)
{
	(void)state;
	struct uuid_gen g;
	uint8_t a[16], b[16];
	uuid_gen_init(&g, ones_rand, NULL);
	uuid_v7(&g, 100, a);
	/* force the counter to its maximum */
	memset(g.last + 6, 0xff, 10);
	g.last[6] = 0x7f;
	g.last[8] = 0xbf;
	memcpy(a, g.last, 16);
	uuid_v7(&g, 100, b);
	assert_true(memcmp(a, b, 16) < 0);
	assert_int_equal(uuid_v7_ms(b), 101);
	assert_int_equal(b[6] >> 4, 7);
	assert_int_equal(b[8] >> 6, 2);
}

static void test_uuid_format_and_parse_round_trip(void **state)
{
	(void)state;
	struct uuid_gen g;
	uint8_t u[16], back[16];
	char s[UUID_STR_LEN];
	uuid_gen_init(&g, NULL, NULL);
	uuid_v7(&g, 1795750187523LL, u);
	uuid_format(u, s);
	assert_int_equal(strlen(s), 36);
	assert_int_equal(s[8], '-');
	assert_int_equal(s[14], '7');
	assert_int_equal(uuid_parse(s, back), 0);
	assert_memory_equal(u, back, 16);
	assert_int_equal(uuid_parse("not-a-uuid", back), -1);
	assert_int_equal(uuid_parse("0190a3c4-1111-7222-8333-44445555666", back), -1);
	assert_int_equal(uuid_parse("0190a3c4-1111-7222-8333-4444555566667", back), -1);
	assert_int_equal(uuid_parse("0190a3c4x1111-7222-8333-444455556666", back), -1);
}

static void test_uuid_format_known_value(void **state)
{
	(void)state;
	uint8_t u[16];
	char s[UUID_STR_LEN];
	for (int i = 0; i < 16; i++)
		u[i] = (uint8_t)(i * 17);
	uuid_format(u, s);
	assert_string_equal(s, "00112233-4455-6677-8899-aabbccddeeff");
}

static void test_uuid_default_source_gives_distinct_ids(void **state)
{
	(void)state;
	struct uuid_gen g1, g2;
	uint8_t a[16], b[16];
	uuid_gen_init(&g1, NULL, NULL);
	uuid_gen_init(&g2, NULL, NULL);
	uuid_v7(&g1, 42, a);
	uuid_v7(&g2, 42, b);
	assert_memory_not_equal(a, b, 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_uuid_v7_has_version_variant_and_timestamp),
	    cmocka_unit_test(test_uuid_v7_strictly_increasing_within_one_ms),
	    cmocka_unit_test(test_uuid_v7_increasing_when_clock_goes_back),
	    cmocka_unit_test(test_uuid_v7_counter_overflow_borrows_next_ms),
	    cmocka_unit_test(test_uuid_format_and_parse_round_trip),
	    cmocka_unit_test(test_uuid_format_known_value),
	    cmocka_unit_test(test_uuid_default_source_gives_distinct_ids),
	};
	return cmocka_run_group_tests_name("uuid", tests, NULL, NULL);
}

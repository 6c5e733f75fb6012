/* test_split.c — message splitting: JS length, word boundaries, UTF-8 safety, order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "split.h"

/* true when s is valid UTF-8 */
static int valid_utf8(const char *s)
{
	size_t len = strlen(s), i = 0;
	while (i < len) {
		unsigned u;
		uint32_t cp;
		size_t n = split_utf8_char(s + i, len - i, &u, &cp);
		if (n == 1 && (unsigned char)s[i] >= 0x80)
			return 0;
		i += n;
	}
	return 1;
}

static void test_split_js_length_counts_utf16_units(void **state)
{
	(void)state;
	assert_int_equal(split_js_length("hello", 5), 5);
	assert_int_equal(split_js_length("h\xc3\xa9", 3), 2);        /* é */
	assert_int_equal(split_js_length("\xe2\x82\xac", 3), 1);     /* € */
	assert_int_equal(split_js_length("\xf0\x9f\x98\x80", 4), 2); /* 😀 surrogate pair */
	assert_int_equal(split_js_length("\xff\xfe", 2), 2);         /* invalid bytes: 1 each */
	assert_int_equal(split_js_length("\xe2\x82", 2), 2);         /* truncated sequence */
	assert_int_equal(split_js_length("\xed\xa0\x80", 3), 3);     /* encoded surrogate */
	assert_int_equal(split_js_length("\xc0\xaf", 2), 2);         /* overlong */
}

static void test_split_short_text_is_one_part(void **state)
{
	(void)state;
	size_t n;
	char **p = split_text("hello world", 320, &n);
	assert_non_null(p);
	assert_int_equal(n, 1);
	assert_string_equal(p[0], "hello world");
	assert_null(p[1]);
	split_free(p);
}

static void test_split_exactly_max_is_one_part(void **state)
{
	(void)state;
	char buf[321];
	size_t n;
	memset(buf, 'a', 320);
	buf[320] = '\0';
	char **p = split_text(buf, 320, &n);
	assert_int_equal(n, 1);
	assert_int_equal(strlen(p[0]), 320);
	split_free(p);
}

static void test_split_900_chars_at_word_boundaries_in_order(void **state)
{
	(void)state;
	char text[1200] = "", rejoined[1200] = "";
	size_t n;
	int w = 0;
	while (strlen(text) < 900) {
		char word[16];
		snprintf(word, sizeof(word), "%sw%03d", w ? " " : "", w);
		strcat(text, word);
		w++;
	}
	char **p = split_text(text, 320, &n);
	assert_non_null(p);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++) {
		assert_true(split_js_length(p[i], strlen(p[i])) <= 320);
		assert_true(p[i][0] != ' ');
		assert_true(p[i][strlen(p[i]) - 1] != ' ');
		/* every part ends at a whole word */
		const char *last = strrchr(p[i], 'w');
		assert_int_equal(strlen(last), 4);
		if (i)
			strcat(rejoined, " ");
		strcat(rejoined, p[i]);
	}
	assert_string_equal(rejoined, text);
	split_free(p);
}

static void test_split_long_word_is_cut_hard(void **state)
{
	(void)state;
	char buf[1001];
	size_t n;
	memset(buf, 'x', 1000);
	buf[1000] = '\0';
	char **p = split_text(buf, 320, &n);
	assert_int_equal(n, 4);
	assert_int_equal(strlen(p[0]), 320);
	assert_int_equal(strlen(p[1]), 320);
	assert_int_equal(strlen(p[2]), 320);
	assert_int_equal(strlen(p[3]), 40);
	split_free(p);
}

static void test_split_never_cuts_a_multibyte_character(void **state)
{
	(void)state;
	/* 200 × "é" (2 bytes, 1 unit) then 200 × "😀" (4 bytes, 2 units), no spaces */
	char buf[2000] = "";
	size_t n, total_units = 0;
	for (int i = 0; i < 200; i++)
		strcat(buf, "\xc3\xa9");
	for (int i = 0; i < 200; i++)
		strcat(buf, "\xf0\x9f\x98\x80");
	char **p = split_text(buf, 321, &n);
	assert_non_null(p);
	for (size_t i = 0; i < n; i++) {
		size_t u = split_js_length(p[i], strlen(p[i]));
		assert_true(u <= 321);
		assert_true(valid_utf8(p[i]));
		total_units += u;
	}
	assert_int_equal(total_units, 200 + 400);
	/* the first part: 200 é + 60 emoji = 320 units (the 61st emoji would need 322) */
	assert_int_equal(split_js_length(p[0], strlen(p[0])), 320);
	split_free(p);
}

static void test_split_me_prefix_repeated_on_every_part(void **state)
{
	(void)state;
	char text[400] = "/me";
	size_t n;
	for (int i = 0; i < 30; i++)
		strcat(text, " waves-hand");
	char **p = split_text(text, 100, &n);
	assert_true(n >= 4);
	for (size_t i = 0; i < n; i++) {
		assert_memory_equal(p[i], "/me ", 4);
		assert_true(strlen(p[i]) <= 100);
		assert_true(p[i][4] != ' ');
	}
	split_free(p);
}

static void test_split_control_characters_become_spaces(void **state)
{
	(void)state;
	size_t n;
	char **p = split_text("line1\nline2\tx\x01y", 320, &n);
	assert_int_equal(n, 1);
	assert_string_equal(p[0], "line1 line2 x y");
	split_free(p);
}

static void test_split_breaks_at_newline(void **state)
{
	(void)state;
	size_t n;
	char **p = split_text("aaaaaaaaaa\nbbbbbbbbbb", 15, &n);
	assert_int_equal(n, 2);
	assert_string_equal(p[0], "aaaaaaaaaa");
	assert_string_equal(p[1], "bbbbbbbbbb");
	split_free(p);
}

static void test_split_blank_text_gives_no_parts(void **state)
{
	(void)state;
	size_t n = 99;
	char **p = split_text("   \n\t ", 320, &n);
	assert_non_null(p);
	assert_int_equal(n, 0);
	assert_null(p[0]);
	split_free(p);
	p = split_text("", 320, &n);
	assert_int_equal(n, 0);
	split_free(p);
}

static void test_split_rejects_tiny_limit(void **state)
{
	(void)state;
	size_t n;
	assert_null(split_text("hello", 7, &n));
	assert_null(split_text(NULL, 320, &n));
	split_free(NULL);
}

static void test_split_word_ending_exactly_at_limit(void **state)
{
	(void)state;
	size_t n;
	char **p = split_text("abcdefgh ijklmnop", 8, &n);
	assert_int_equal(n, 2);
	assert_string_equal(p[0], "abcdefgh");
	assert_string_equal(p[1], "ijklmnop");
	split_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_split_js_length_counts_utf16_units),
	    cmocka_unit_test(test_split_short_text_is_one_part),
	    cmocka_unit_test(test_split_exactly_max_is_one_part),
	    cmocka_unit_test(test_split_900_chars_at_word_boundaries_in_order),
	    cmocka_unit_test(test_split_long_word_is_cut_hard),
	    cmocka_unit_test(test_split_never_cuts_a_multibyte_character),
	    cmocka_unit_test(test_split_me_prefix_repeated_on_every_part),
	    cmocka_unit_test(test_split_control_characters_become_spaces),
	    cmocka_unit_test(test_split_breaks_at_newline),
	    cmocka_unit_test(test_split_blank_text_gives_no_parts),
	    cmocka_unit_test(test_split_rejects_tiny_limit),
	    cmocka_unit_test(test_split_word_ending_exactly_at_limit),
	};
	return cmocka_run_group_tests_name("split", tests, NULL, NULL);
}

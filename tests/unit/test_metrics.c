/* test_metrics.c — label escaping, the series cap per family, Prometheus text rendering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"

static int setup(void **state)
{
	struct metrics *m = metrics_new();
	static const double b[] = {0.01, 0.1, 1};

	if (!m || metrics_declare(m, "t_total", METRICS_COUNTER, "A counter.", NULL, 0) != 0 ||
	    metrics_declare(m, "t_gauge", METRICS_GAUGE, "A gauge.", NULL, 0) != 0 ||
	    metrics_declare(m, "t_seconds", METRICS_HISTOGRAM, "A histogram.", b, 3) != 0)
		return -1;
	*state = m;
	return 0;
}

static int teardown(void **state)
{
	metrics_free(*state);
	return 0;
}

static char *render(struct metrics *m)
{
	size_t len = 0;
	char *s = metrics_render(m, &len);
	assert_non_null(s);
	assert_int_equal(strlen(s), len);
	return s;
}

/* Every byte sequence in s is valid UTF-8. */
static int valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		int n = *p < 0x80             ? 1
		        : (*p & 0xE0) == 0xC0 ? 2
		        : (*p & 0xF0) == 0xE0 ? 3
		        : (*p & 0xF8) == 0xF0 ? 4
		                              : 0;
		if (!n || (n == 2 && *p < 0xC2))
			return 0;
		for (int i = 1; i < n; i++)
			if ((p[i] & 0xC0) != 0x80)
				return 0;
		p += n;
	}
	return 1;
}

static void test_metrics_labels_escape_quotes_backslashes_newlines(void **state)
{
	char b[200];
	(void)state;
	metrics_labels(b, sizeof(b), "room", "lobby", "type", "a\"b\\c\nd", NULL);
	assert_string_equal(b, "room=\"lobby\",type=\"a\\\"b\\\\c\\nd\"");
	metrics_labels(b, sizeof(b), "type", "caf\xC3\xA9 \xFF\xC3", NULL);
	assert_string_equal(b, "type=\"caf\xC3\xA9 \xEF\xBF\xBD\xEF\xBF\xBD\"");
	metrics_labels(b, sizeof(b), "room", NULL, NULL);
	assert_string_equal(b, "room=\"\"");
	metrics_labels(b, sizeof(b), NULL);
	assert_string_equal(b, "");
}

static void test_metrics_labels_truncate_without_breaking_escapes_or_utf8(void **state)
{
	char big[400], b[64];
	(void)state;
	/* every size: the result is a closed label set, no dangling backslash, valid UTF-8 */
	memset(big, '"', 200);
	big[200] = '\0';
	for (size_t size = 10; size <= sizeof(b); size++) {
		metrics_labels(b, size, "type", big, NULL);
		size_t n = strlen(b);
		assert_true(n < size);
		assert_true(n >= 7); /* type="" at least */
		assert_int_equal(b[n - 1], '"');
		/* inside the value, escapes come in pairs: \" */
		for (size_t i = 6; i + 1 < n; i += 2)
			assert_memory_equal(b + i, "\\\"", 2);
	}
	/* a network event name of multi-byte characters, cut at any size */
	big[0] = '\0';
	for (int i = 0; i < 60; i++)
		strcat(big, "\xC3\xA9\xE2\x82\xAC"); /* é € */
	for (size_t size = 10; size <= sizeof(b); size++) {
		metrics_labels(b, size, "type", big, NULL);
		assert_true(valid_utf8(b));
		assert_int_equal(b[strlen(b) - 1], '"');
	}
}

static void test_metrics_render_counter_gauge_histogram(void **state)
{
	struct metrics *m = *state;
	char lb[100];
	metrics_add(m, "t_total", metrics_labels(lb, sizeof(lb), "room", "lobby", NULL), 2);
	metrics_add(m, "t_total", lb, 3);
	metrics_set(m, "t_gauge", "", 1.5);
	metrics_observe(m, "t_seconds", "", 0.005);
	metrics_observe(m, "t_seconds", "", 0.5);
	metrics_observe(m, "t_seconds", "", 5);
	metrics_add(m, "undeclared_total", "", 1); /* ignored */
	char *s = render(m);
	assert_non_null(strstr(s, "# HELP t_total A counter.\n# TYPE t_total counter\n"
	                          "t_total{room=\"lobby\"} 5\n"));
	assert_non_null(strstr(s, "# TYPE t_gauge gauge\nt_gauge 1.5\n"));
	assert_non_null(strstr(s, "t_seconds_bucket{le=\"0.01\"} 1\n"
	                          "t_seconds_bucket{le=\"0.1\"} 1\n"
	                          "t_seconds_bucket{le=\"1\"} 2\n"
	                          "t_seconds_bucket{le=\"+Inf\"} 3\n"
	                          "t_seconds_sum 5.505\n"
	                          "t_seconds_count 3\n"));
	assert_null(strstr(s, "undeclared"));
	free(s);
}

static void test_metrics_series_cap_counts_the_rest_under_overflow(void **state)
{
	struct metrics *m = *state;
	char lb[100], name[32];
	for (int i = 0; i < 2500; i++) {
		snprintf(name, sizeof(name), "ev%d", i);
		metrics_add(m, "t_total", metrics_labels(lb, sizeof(lb), "type", name, NULL), 1);
	}
	char *s = render(m);
	assert_non_null(strstr(s, "t_total{type=\"ev1999\"} 1\n"));
	assert_null(strstr(s, "type=\"ev2000\""));
	assert_non_null(strstr(s, "t_total{overflow=\"true\"} 500\n"));
	free(s);
	/* an existing series still counts on its own once the cap is reached */
	metrics_add(m, "t_total", metrics_labels(lb, sizeof(lb), "type", "ev7", NULL), 1);
	s = render(m);
	assert_non_null(strstr(s, "t_total{type=\"ev7\"} 2\n"));
	free(s);
	/* forgetting series frees room under the cap */
	metrics_forget(m, "t_total", "type=\"ev1");
	metrics_add(m, "t_total", metrics_labels(lb, sizeof(lb), "type", "new", NULL), 1);
	s = render(m);
	assert_non_null(strstr(s, "t_total{type=\"new\"} 1\n"));
	assert_null(strstr(s, "type=\"ev10\""));
	free(s);
}

static void test_metrics_forget_removes_matching_series_only(void **state)
{
	struct metrics *m = *state;
	char lb[100];
	metrics_add(m, "t_total", metrics_labels(lb, sizeof(lb), "room", "a", NULL), 1);
	metrics_add(m, "t_total", metrics_labels(lb, sizeof(lb), "room", "b", NULL), 1);
	metrics_add(m, "t_total", metrics_labels(lb, sizeof(lb), "room", "c", NULL), 1);
	metrics_forget(m, "t_total", "room=\"b\"");
	metrics_forget(m, "t_total", "room=\"c\""); /* the tail */
	metrics_add(m, "t_total", metrics_labels(lb, sizeof(lb), "room", "d", NULL), 1);
	char *s = render(m);
	assert_non_null(strstr(s, "t_total{room=\"a\"} 1\nt_total{room=\"d\"} 1\n"));
	assert_null(strstr(s, "room=\"b\""));
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_metrics_labels_escape_quotes_backslashes_newlines),
	    cmocka_unit_test(test_metrics_labels_truncate_without_breaking_escapes_or_utf8),
	    cmocka_unit_test_setup_teardown(test_metrics_render_counter_gauge_histogram, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_metrics_series_cap_counts_the_rest_under_overflow,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_metrics_forget_removes_matching_series_only, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

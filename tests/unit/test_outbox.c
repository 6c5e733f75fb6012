/* test_outbox.c — the outbound side's pure parts: echo matching, ack batches, text[] literals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ack.h"
#include "outbox.h"
#include "outbox_int.h"
#include "pg.h"

/* A wait list built on the stack: jobs with one part each, in send order. */
struct fixture {
	struct ob_job jobs[8];
	char *parts[8][1];
	struct ob_wait waits[8];
	size_t n;
};

static void add(struct fixture *f, enum ob_kind kind, const char *to, const char *text)
{
	size_t i = f->n++;
	f->parts[i][0] = (char *)text;
	f->jobs[i] = (struct ob_job){.id = (long long)i + 1,
	                             .kind = kind,
	                             .to = (char *)to,
	                             .parts = f->parts[i],
	                             .n_parts = 1};
	f->waits[i] = (struct ob_wait){.job = &f->jobs[i], .part = 0};
	if (i)
		f->waits[i - 1].next = &f->waits[i];
}

static long long match(struct fixture *f, bool is_pm, const char *to, const char *msg,
                       long long *prev_id)
{
	struct ob_wait *prev = (struct ob_wait *)1, *w;
	w = confirm_match(f->n ? &f->waits[0] : NULL, is_pm, to, msg, 320, &prev);
	if (!w)
		return 0;
	*prev_id = prev ? prev->job->id : 0;
	return w->job->id;
}

static void test_outbox_echo_confirms_the_oldest_matching_part(void **state)
{
	struct fixture f = {0};
	long long prev = -1;
	(void)state;
	add(&f, OB_CHAT, NULL, "one");
	add(&f, OB_CHAT, NULL, "two");
	add(&f, OB_CHAT, NULL, "two");
	assert_int_equal(match(&f, false, NULL, "two", &prev), 2);
	assert_int_equal(prev, 1); /* its predecessor, for unlinking */
	assert_int_equal(match(&f, false, NULL, "one", &prev), 1);
	assert_int_equal(prev, 0); /* the head */
	assert_int_equal(match(&f, false, NULL, "three", &prev), 0);
}

static void test_outbox_echo_keeps_chat_and_pm_apart(void **state)
{
	struct fixture f = {0};
	long long prev;
	(void)state;
	add(&f, OB_PM, "Alice", "hi");
	add(&f, OB_CHAT, NULL, "hi");
	add(&f, OB_PM, "Bob", "hi");
	assert_int_equal(match(&f, false, NULL, "hi", &prev), 2);
	assert_int_equal(match(&f, true, "bob", "hi", &prev),
	                 3); /* names compare case-insensitively */
	assert_int_equal(match(&f, true, "ALICE", "hi", &prev), 1);
	assert_int_equal(match(&f, true, "Carol", "hi", &prev), 0);
	assert_int_equal(match(&f, true, NULL, "hi", &prev), 0);
}

static void test_outbox_echo_undoes_cytube_escaping_and_links(void **state)
{
	struct fixture f = {0};
	long long prev;
	(void)state;
	add(&f, OB_CHAT, NULL, "a < b & c");
	add(&f, OB_CHAT, NULL, "see https://example.com/x");
	add(&f, OB_CHAT, NULL, "/me waves");
	assert_int_equal(match(&f, false, NULL, "a &lt; b &amp; c", &prev), 1);
	assert_int_equal(match(&f, false, NULL,
	                       "see <a href=\"https://example.com/x\" target=\"_blank\" "
	                       "rel=\"noopener noreferrer\">https://example.com/x</a>",
	                       &prev),
	                 2);
	assert_int_equal(match(&f, false, NULL, "waves", &prev), 3);
	assert_int_equal(match(&f, false, NULL, "a < b &amp; d", &prev), 0);
}

static void test_outbox_ack_lists_batch_and_requeue(void **state)
{
	struct ack_list pending = {0}, fly = {0};
	char *ids, *texts, *flags;
	(void)state;
	assert_int_equal(ack_list_push(&pending, 7, "{\"sent\": 1}", true), 0);
	assert_int_equal(ack_list_push(&pending, 9, "room offline", false), 0);
	assert_int_equal(ack_list_push(&pending, 12, "say \"hi\" \\o/", true), 0);
	assert_int_equal(ack_list_literals(&pending, &ids, &texts, &flags), 0);
	assert_string_equal(ids, "{7,9,12}");
	assert_string_equal(texts,
	                    "{\"{\\\"sent\\\": 1}\",\"room offline\",\"say \\\"hi\\\" \\\\o/\"}");
	assert_string_equal(flags, "{t,f,t}");
	free(ids);
	free(texts);
	free(flags);

	/* the batch goes in flight; new acks gather meanwhile; the flight is lost and requeued */
	fly = pending;
	memset(&pending, 0, sizeof(pending));
	assert_int_equal(ack_list_push(&pending, 20, "later", true), 0);
	ack_list_requeue(&fly, &pending);
	assert_int_equal(fly.n, 0);
	assert_int_equal(pending.n, 4);
	assert_int_equal(ack_list_literals(&pending, &ids, &texts, &flags), 0);
	assert_string_equal(ids, "{20,7,9,12}");
	assert_string_equal(flags, "{t,t,f,t}");
	free(ids);
	free(texts);
	free(flags);

	/* an empty batch is a valid empty array; a large one grows */
	ack_list_clear(&pending);
	assert_int_equal(ack_list_literals(&pending, &ids, &texts, &flags), 0);
	assert_string_equal(ids, "{}");
	assert_string_equal(texts, "{}");
	assert_string_equal(flags, "{}");
	free(ids);
	free(texts);
	free(flags);
	for (long long i = 0; i < 1000; i++)
		assert_int_equal(ack_list_push(&pending, INT64_MAX - i, "x", false), 0);
	assert_int_equal(ack_list_literals(&pending, &ids, &texts, &flags), 0);
	assert_non_null(strstr(ids, "{9223372036854775807,9223372036854775806,"));
	free(ids);
	free(texts);
	free(flags);
	ack_list_free(&pending);
	ack_list_free(&fly);
}

static void test_pg_text_array_quotes_every_element(void **state)
{
	const char *items[] = {"lobby", "a\"b", "c\\d", "", "with space,comma"};
	(void)state;
	char *s = pg_text_array(items, 5);
	assert_string_equal(s, "{\"lobby\",\"a\\\"b\",\"c\\\\d\",\"\",\"with space,comma\"}");
	free(s);
	s = pg_text_array(items, 0);
	assert_string_equal(s, "{}");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_outbox_echo_confirms_the_oldest_matching_part),
	    cmocka_unit_test(test_outbox_echo_keeps_chat_and_pm_apart),
	    cmocka_unit_test(test_outbox_echo_undoes_cytube_escaping_and_links),
	    cmocka_unit_test(test_outbox_ack_lists_batch_and_requeue),
	    cmocka_unit_test(test_pg_text_array_quotes_every_element),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

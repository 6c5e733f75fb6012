/* test_spool.c — spool record format, torn tails, corruption, size limit and drop policy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "event.h"
#include "spool.h"

static char dir[256];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/daz-test-spool-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct event *mk(int i, uint32_t tags, const char *type)
{
	uint8_t id[16] = {0};
	char payload[64];
	id[15] = (uint8_t)i;
	id[14] = (uint8_t)(i >> 8);
	snprintf(payload, sizeof(payload), "{\"n\":%d}", i);
	return event_new(id, 1000000 + i, i % 2 ? EVENT_NO_TIME : 1795750192882LL + i, tags,
	                 "botchan", type, i % 3 ? "Bob" : NULL, i % 5 ? payload : NULL);
}

static void append_n(struct spool *sp, int n, uint32_t tags, const char *type, int first)
{
	char err[256];
	for (int i = first; i < first + n; i++) {
		struct event *ev = mk(i, tags, type);
		assert_int_equal(spool_append(sp, ev, err, sizeof(err)), 0);
		event_free(ev);
	}
}

static char *path_of(const char *name)
{
	static char p[300];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return p;
}

/* Read every event back; returns count, checks they are mk(first..) in order. */
static int read_all(const char *path, int first, int64_t *skipped)
{
	struct spool_reader *r;
	struct event *ev;
	char err[256];
	int n = 0, rc;
	assert_int_equal(spool_reader_open(path, &r, err, sizeof(err)), 0);
	while ((rc = spool_reader_next(r, &ev, err, sizeof(err))) == 1) {
		struct event *want = mk(first + n, ev->tags, ev->type);
		assert_memory_equal(ev->id, want->id, 16);
		assert_int_equal(ev->received_us, want->received_us);
		assert_true(ev->server_time_ms == want->server_time_ms);
		assert_string_equal(ev->room, want->room);
		if (want->actor)
			assert_string_equal(ev->actor, want->actor);
		else
			assert_null(ev->actor);
		if (want->payload)
			assert_string_equal(ev->payload, want->payload);
		else
			assert_null(ev->payload);
		event_free(want);
		event_free(ev);
		n++;
	}
	assert_int_equal(rc, 0);
	if (skipped)
		*skipped = spool_reader_skipped(r);
	spool_reader_close(r);
	return n;
}

static void test_spool_crc32c_known_vector(void **state)
{
	(void)state;
	assert_int_equal(spool_crc32c(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(spool_crc32c(spool_crc32c(0, "1234", 4), "56789", 5), 0xe3069283u);
}

static void test_spool_round_trips_events_in_order(void **state)
{
	(void)state;
	struct spool *sp;
	char err[256];
	int64_t torn = -1, skipped = -1;
	assert_int_equal(spool_open(dir, NULL, 1 << 20, &sp, &torn, err, sizeof(err)), 0);
	assert_int_equal(torn, 0);
	append_n(sp, 100, EVENT_TAG_CHAT, "chatMsg", 0);
	assert_int_equal(spool_count(sp), 100);
	assert_int_equal(spool_sync(sp, err, sizeof(err)), 0);
	struct stat st;
	assert_int_equal(stat(spool_path(sp), &st), 0);
	assert_int_equal(st.st_size, spool_size(sp));
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(read_all(spool_path(sp), 0, &skipped), 100);
	assert_int_equal(skipped, 0);
	spool_close(sp);
	/* reopening counts the records again */
	assert_int_equal(spool_open(dir, NULL, 1 << 20, &sp, &torn, err, sizeof(err)), 0);
	assert_int_equal(spool_count(sp), 100);
	assert_int_equal(torn, 0);
	spool_close(sp);
}

static void test_spool_record_encoding_round_trip(void **state)
{
	(void)state;
	struct event *ev = mk(4, EVENT_TAG_MEDIA | EVENT_TAG_UPDATE, "mediaUpdate");
	size_t n = spool_encode_event(ev, NULL, 0);
	uint8_t *buf = malloc(n);
	assert_int_equal(spool_encode_event(ev, buf, n), n);
	struct event *back = spool_decode_event(buf, n);
	assert_non_null(back);
	assert_string_equal(back->type, "mediaUpdate");
	assert_int_equal(back->tags, EVENT_TAG_MEDIA | EVENT_TAG_UPDATE);
	assert_int_equal(spool_record_size(ev), n + SPOOL_HEADER);
	/* any truncation or trailing byte is refused */
	assert_null(spool_decode_event(buf, n - 1));
	assert_null(spool_decode_event(buf, 10));
	buf[0] = 99;
	assert_null(spool_decode_event(buf, n));
	free(buf);
	event_free(back);
	event_free(ev);
}

static void test_spool_torn_tail_is_skipped_and_reported(void **state)
{
	(void)state;
	struct spool *sp;
	char err[256];
	int64_t torn, skipped;
	assert_int_equal(spool_open(dir, "t.spool", 1 << 20, &sp, &torn, err, sizeof(err)), 0);
	append_n(sp, 10, EVENT_TAG_CHAT, "chatMsg", 0);
	int64_t nine = 0;
	{
		/* size after 9 records */
		for (int i = 0; i < 9; i++) {
			struct event *ev = mk(i, EVENT_TAG_CHAT, "chatMsg");
			nine += (int64_t)spool_record_size(ev);
			event_free(ev);
		}
	}
	int64_t full = spool_size(sp);
	spool_close(sp);
	/* cut the last record in the middle, as a crash mid-write would */
	assert_int_equal(truncate(path_of("t.spool"), full - 5), 0);
	assert_int_equal(read_all(path_of("t.spool"), 0, &skipped), 9);
	assert_int_equal(skipped, full - 5 - nine);
	/* opening for append cuts the torn tail, and appends continue after record 9 */
	assert_int_equal(spool_open(dir, "t.spool", 1 << 20, &sp, &torn, err, sizeof(err)), 0);
	assert_int_equal(torn, full - 5 - nine);
	assert_int_equal(spool_count(sp), 9);
	append_n(sp, 5, EVENT_TAG_CHAT, "chatMsg", 9);
	spool_close(sp);
	assert_int_equal(read_all(path_of("t.spool"), 0, &skipped), 14);
	assert_int_equal(skipped, 0);
}

static void test_spool_corrupt_record_stops_reading(void **state)
{
	(void)state;
	struct spool *sp;
	char err[256];
	int64_t skipped;
	assert_int_equal(spool_open(dir, "c.spool", 1 << 20, &sp, NULL, err, sizeof(err)), 0);
	append_n(sp, 3, EVENT_TAG_CHAT, "chatMsg", 0);
	int64_t two = 0;
	for (int i = 0; i < 2; i++) {
		struct event *ev = mk(i, EVENT_TAG_CHAT, "chatMsg");
		two += (int64_t)spool_record_size(ev);
		event_free(ev);
	}
	int64_t full = spool_size(sp);
	spool_close(sp);
	/* flip one payload byte of the third record */
	FILE *f = fopen(path_of("c.spool"), "r+b");
	assert_non_null(f);
	fseek(f, two + SPOOL_HEADER + 20, SEEK_SET);
	int c = fgetc(f);
	fseek(f, two + SPOOL_HEADER + 20, SEEK_SET);
	fputc(c ^ 0x40, f);
	fclose(f);
	assert_int_equal(read_all(path_of("c.spool"), 0, &skipped), 2);
	assert_int_equal(skipped, full - two);
	/* garbage instead of a header */
	f = fopen(path_of("g.spool"), "wb");
	fputs("this is not a spool file at all", f);
	fclose(f);
	assert_int_equal(read_all(path_of("g.spool"), 0, &skipped), 0);
	assert_int_equal(skipped, 31);
}

static void test_spool_full_refuses_append_and_keeps_file_intact(void **state)
{
	(void)state;
	struct spool *sp;
	char err[256];
	struct event *ev = mk(1, EVENT_TAG_CHAT, "chatMsg");
	size_t rec = spool_record_size(ev);
	assert_int_equal(spool_open(dir, "f.spool", (int64_t)rec * 3, &sp, NULL, err, sizeof(err)),
	                 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(spool_append(sp, ev, err, sizeof(err)), 0);
	assert_false(spool_fits(sp, rec));
	assert_int_equal(spool_append(sp, ev, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "spool full"));
	assert_int_equal(spool_count(sp), 3);
	assert_int_equal(spool_max_bytes(sp), (int64_t)rec * 3);
	event_free(ev);
	spool_close(sp);
}

static void test_spool_truncate_after_replay(void **state)
{
	(void)state;
	struct spool *sp;
	char err[256];
	int64_t skipped;
	assert_int_equal(spool_open(dir, NULL, 1 << 20, &sp, NULL, err, sizeof(err)), 0);
	append_n(sp, 20, EVENT_TAG_CHAT, "chatMsg", 0);
	assert_int_equal(read_all(spool_path(sp), 0, NULL), 20);
	assert_int_equal(spool_truncate(sp, err, sizeof(err)), 0);
	assert_int_equal(spool_size(sp), 0);
	assert_int_equal(spool_count(sp), 0);
	assert_int_equal(read_all(spool_path(sp), 0, &skipped), 0);
	append_n(sp, 2, EVENT_TAG_CHAT, "chatMsg", 0);
	assert_int_equal(read_all(spool_path(sp), 0, &skipped), 2);
	assert_int_equal(skipped, 0);
	spool_close(sp);
}

static void test_spool_drop_classes(void **state)
{
	(void)state;
	assert_int_equal(spool_drop_class(EVENT_TAG_MEDIA | EVENT_TAG_UPDATE), 0);
	assert_int_equal(spool_drop_class(EVENT_TAG_USER | EVENT_TAG_PRESENCE), 1);
	assert_int_equal(spool_drop_class(EVENT_TAG_UNKNOWN), 1);
	assert_int_equal(spool_drop_class(EVENT_TAG_CHAT | EVENT_TAG_USER_MESSAGE), 2);
	assert_int_equal(spool_drop_class(EVENT_TAG_CHAT | EVENT_TAG_PRIVATE), 2);
	assert_int_equal(spool_drop_class(EVENT_TAG_MEDIA | EVENT_TAG_QUEUE), 2);
	assert_int_equal(spool_drop_class(EVENT_TAG_SYSTEM | EVENT_TAG_CONNECTION), 2);
}

static void test_spool_make_room_drops_oldest_low_value_first(void **state)
{
	(void)state;
	struct spool *sp;
	struct spool_reader *r;
	struct event *ev;
	char err[256];
	int64_t dropped;
	int chats = 0, presence = 0, updates = 0, first_presence = -1;
	assert_int_equal(spool_open(dir, "m.spool", 1 << 20, &sp, NULL, err, sizeof(err)), 0);
	/* interleave: chat, presence, update */
	for (int i = 0; i < 300; i++) {
		uint32_t tags = i % 3 == 0   ? EVENT_TAG_CHAT | EVENT_TAG_USER_MESSAGE
		                : i % 3 == 1 ? EVENT_TAG_USER | EVENT_TAG_PRESENCE
		                             : EVENT_TAG_MEDIA | EVENT_TAG_UPDATE;
		const char *type = i % 3 == 0 ? "chatMsg" : i % 3 == 1 ? "addUser" : "mediaUpdate";
		append_n(sp, 1, tags, type, i);
	}
	int64_t size = spool_size(sp), per = size / 300;
	/* pretend the limit is what we hold now: ask for room for 150 more records' worth */
	struct spool *sp2;
	spool_close(sp);
	assert_int_equal(spool_open(dir, "m.spool", size, &sp2, NULL, err, sizeof(err)), 0);
	assert_int_equal(
	    spool_make_room(sp2, (size_t)(per * 120), false, &dropped, err, sizeof(err)), 0);
	assert_true(dropped > 100);
	assert_true(spool_fits(sp2, (size_t)(per * 120)));
	assert_int_equal(spool_count(sp2), 300 - dropped);
	assert_int_equal(spool_reader_open(spool_path(sp2), &r, err, sizeof(err)), 0);
	int prev_n = -1;
	while (spool_reader_next(r, &ev, err, sizeof(err)) == 1) {
		int n = ev->id[15] | ev->id[14] << 8;
		assert_true(n > prev_n); /* order kept */
		prev_n = n;
		if (ev->tags & EVENT_TAG_CHAT)
			chats++;
		else if (ev->tags & EVENT_TAG_PRESENCE) {
			presence++;
			if (first_presence < 0)
				first_presence = n;
		} else
			updates++;
		event_free(ev);
	}
	spool_reader_close(r);
	assert_int_equal(chats, 100); /* never dropped */
	assert_int_equal(updates, 0); /* all 100 updates went first */
	assert_true(presence < 100);  /* then the oldest presence events */
	assert_true(first_presence > 1);
	/* appends still work on the rewritten file */
	append_n(sp2, 1, EVENT_TAG_CHAT, "chatMsg", 1000);
	spool_close(sp2);
	int64_t torn;
	assert_int_equal(spool_open(dir, "m.spool", size, &sp, &torn, err, sizeof(err)), 0);
	assert_int_equal(torn, 0);
	assert_int_equal(spool_count(sp), 300 - dropped + 1);
	spool_close(sp);
}

static void test_spool_make_room_keeps_chat_unless_allowed(void **state)
{
	(void)state;
	struct spool *sp;
	char err[256];
	int64_t dropped;
	assert_int_equal(spool_open(dir, "k.spool", 1 << 20, &sp, NULL, err, sizeof(err)), 0);
	append_n(sp, 50, EVENT_TAG_CHAT, "chatMsg", 0);
	int64_t size = spool_size(sp);
	spool_close(sp);
	assert_int_equal(spool_open(dir, "k.spool", size, &sp, NULL, err, sizeof(err)), 0);
	assert_int_equal(spool_make_room(sp, 100, false, &dropped, err, sizeof(err)), 0);
	assert_int_equal(dropped, 0);
	assert_int_equal(spool_count(sp), 50);
	assert_int_equal(spool_make_room(sp, 100, true, &dropped, err, sizeof(err)), 0);
	assert_true(dropped > 0);
	assert_true(spool_fits(sp, 100));
	spool_close(sp);
	/* the survivors are the newest ones */
	struct spool_reader *r;
	struct event *ev;
	assert_int_equal(spool_reader_open(path_of("k.spool"), &r, err, sizeof(err)), 0);
	assert_int_equal(spool_reader_next(r, &ev, err, sizeof(err)), 1);
	assert_int_equal(ev->id[15], dropped);
	event_free(ev);
	spool_reader_close(r);
}

static void test_spool_open_errors(void **state)
{
	(void)state;
	struct spool *sp;
	struct spool_reader *r;
	char err[256];
	assert_int_equal(spool_open(dir, "a/b", 1 << 20, &sp, NULL, err, sizeof(err)), -1);
	assert_null(sp);
	assert_int_equal(
	    spool_open("/proc/nonexistent/x", NULL, 1 << 20, &sp, NULL, err, sizeof(err)), -1);
	assert_true(strlen(err) > 0);
	assert_int_equal(spool_reader_open(path_of("missing"), &r, err, sizeof(err)), -1);
	spool_close(NULL);
	spool_reader_close(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_spool_crc32c_known_vector),
	    cmocka_unit_test_setup_teardown(test_spool_round_trips_events_in_order, setup,
	                                    teardown),
	    cmocka_unit_test(test_spool_record_encoding_round_trip),
	    cmocka_unit_test_setup_teardown(test_spool_torn_tail_is_skipped_and_reported, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_spool_corrupt_record_stops_reading, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_spool_full_refuses_append_and_keeps_file_intact,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_spool_truncate_after_replay, setup, teardown),
	    cmocka_unit_test(test_spool_drop_classes),
	    cmocka_unit_test_setup_teardown(test_spool_make_room_drops_oldest_low_value_first,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_spool_make_room_keeps_chat_unless_allowed, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_spool_open_errors, setup, teardown),
	};
	return cmocka_run_group_tests_name("spool", tests, NULL, NULL);
}

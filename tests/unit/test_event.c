/* test_event.c — frame → event mapping: tags, history, actor, server time; echo matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "event.h"
#include "sio.h"

static uint64_t counter_rand(void *ctx)
{
	uint64_t *c = ctx;
	return ++*c * 0x9e3779b97f4a7c15ull;
}

static struct uuid_gen gen;
static uint64_t gen_state;
static struct event_mapper m;

static int setup(void **state)
{
	(void)state;
	gen_state = 0;
	uuid_gen_init(&gen, counter_rand, &gen_state);
	event_mapper_init(&m, "botchan", "TestBot", "!", &gen);
	return 0;
}

/* Decode frame s and map it; the caller frees the event. */
static struct event *map(const char *s, int64_t us)
{
	struct sio_packet p;
	struct event *ev;
	assert_int_equal(sio_decode(s, strlen(s), 0, &p, NULL, 0), SIO_OK);
	ev = event_from_packet(&m, &p, us);
	sio_packet_clear(&p);
	return ev;
}

static bool has(const struct event *ev, uint32_t tag)
{
	return (ev->tags & tag) != 0;
}

#define CHAT(user, msg, extra)                                                                     \
	"42[\"chatMsg\",{\"username\":\"" user "\",\"msg\":\"" msg "\",\"meta\":{" extra           \
	"},\"time\":1795750192882}]"
#define USERLIST                                                                                   \
	"42[\"userlist\",[{\"name\":\"PlainUser\",\"rank\":1,\"profile\":{\"image\":\"\","         \
	"\"text\":\"\"},\"meta\":{\"afk\":false,\"muted\":false}}]]"

static void test_event_chat_before_first_userlist_is_history(void **state)
{
	(void)state;
	struct event *ev = map(CHAT("PlainUser", "history line 1 from PlainUser", ""), 1000);
	assert_non_null(ev);
	assert_string_equal(ev->type, "chatMsg");
	assert_string_equal(ev->room, "botchan");
	assert_true(has(ev, EVENT_TAG_CHAT));
	assert_true(has(ev, EVENT_TAG_USER_MESSAGE));
	assert_true(has(ev, EVENT_TAG_HISTORY));
	assert_false(has(ev, EVENT_TAG_COMMAND));
	assert_string_equal(ev->actor, "PlainUser");
	assert_int_equal(ev->server_time_ms, 1795750192882LL);
	assert_int_equal(ev->received_us, 1000);
	event_free(ev);

	ev = map(USERLIST, 2000);
	assert_true(has(ev, EVENT_TAG_USER));
	assert_true(has(ev, EVENT_TAG_PRESENCE));
	assert_false(has(ev, EVENT_TAG_HISTORY));
	assert_null(ev->actor);
	event_free(ev);

	ev = map(CHAT("PlainUser", "live line", ""), 3000);
	assert_false(has(ev, EVENT_TAG_HISTORY));
	event_free(ev);

	/* a second userlist (moderator rank) changes nothing; a reconnect starts over */
	ev = map(USERLIST, 4000);
	event_free(ev);
	event_mapper_reset(&m);
	ev = map(CHAT("PlainUser", "replayed again", ""), 5000);
	assert_true(has(ev, EVENT_TAG_HISTORY));
	event_free(ev);
}

static void test_event_command_bot_and_action_tags(void **state)
{
	(void)state;
	struct event *ev;
	ev = map(USERLIST, 1);
	event_free(ev);

	ev = map(CHAT("PlainUser", "!ping", ""), 2);
	assert_true(has(ev, EVENT_TAG_COMMAND));
	assert_false(has(ev, EVENT_TAG_BOT));
	event_free(ev);

	ev = map(CHAT("testbot", "pong", ""), 3);
	assert_true(has(ev, EVENT_TAG_BOT));
	assert_false(has(ev, EVENT_TAG_COMMAND));
	event_free(ev);

	ev = map(CHAT("Talker", "waves", "\"addClass\":\"action\",\"action\":true"), 4);
	assert_true(has(ev, EVENT_TAG_ACTION));
	event_free(ev);

	ev = map(CHAT("Talker", "waves", "\"addClass\":\"action\""), 5);
	assert_true(has(ev, EVENT_TAG_ACTION));
	event_free(ev);

	ev = map(CHAT("Talker", "&gt;greentext", "\"addClass\":\"greentext\""), 6);
	assert_false(has(ev, EVENT_TAG_ACTION));
	event_free(ev);

	ev = map(CHAT("Talker", " !not at start", ""), 7);
	assert_false(has(ev, EVENT_TAG_COMMAND));
	event_free(ev);
}

static void test_event_command_prefix_is_compared_escaped(void **state)
{
	(void)state;
	struct event *ev;
	event_mapper_set_prefix(&m, ">>");
	ev = map(CHAT("PlainUser", "&gt;&gt;help", ""), 1);
	assert_true(has(ev, EVENT_TAG_COMMAND));
	event_free(ev);
	event_mapper_set_prefix(&m, "");
	ev = map(CHAT("PlainUser", "!ping", ""), 2);
	assert_false(has(ev, EVENT_TAG_COMMAND));
	event_free(ev);
	event_mapper_set_bot_name(&m, "");
	ev = map(CHAT("TestBot", "x", ""), 3);
	assert_false(has(ev, EVENT_TAG_BOT));
	event_free(ev);
}

static void test_event_pm_tags(void **state)
{
	(void)state;
	struct event *ev = map("42[\"pm\",{\"username\":\"Alice\",\"msg\":\"!tell bob hi\","
	                       "\"meta\":{},\"time\":1795750200015,\"to\":\"TestBot\"}]",
	                       1);
	assert_string_equal(ev->type, "pm");
	assert_true(has(ev, EVENT_TAG_CHAT));
	assert_true(has(ev, EVENT_TAG_PRIVATE));
	assert_true(has(ev, EVENT_TAG_COMMAND));
	assert_false(has(ev, EVENT_TAG_USER_MESSAGE));
	assert_false(has(ev, EVENT_TAG_HISTORY)); /* pms are never replayed */
	assert_string_equal(ev->actor, "Alice");
	assert_int_equal(ev->server_time_ms, 1795750200015LL);
	event_free(ev);
}

static void test_event_type_tags_follow_the_vocabulary(void **state)
{
	(void)state;
	static const struct {
		const char *type;
		uint32_t tags;
	} cases[] = {
	    {"addUser", EVENT_TAG_USER | EVENT_TAG_PRESENCE},
	    {"userLeave", EVENT_TAG_USER | EVENT_TAG_PRESENCE},
	    {"setAFK", EVENT_TAG_USER | EVENT_TAG_PRESENCE},
	    {"usercount", EVENT_TAG_USER | EVENT_TAG_PRESENCE},
	    {"rank", EVENT_TAG_USER | EVENT_TAG_PRESENCE},
	    {"login", EVENT_TAG_USER | EVENT_TAG_PRESENCE},
	    {"setLeader", EVENT_TAG_USER | EVENT_TAG_PRESENCE},
	    {"changeMedia", EVENT_TAG_MEDIA | EVENT_TAG_CHANGE},
	    {"setCurrent", EVENT_TAG_MEDIA | EVENT_TAG_CHANGE},
	    {"queue", EVENT_TAG_MEDIA | EVENT_TAG_QUEUE},
	    {"moveVideo", EVENT_TAG_MEDIA | EVENT_TAG_QUEUE},
	    {"queueFail", EVENT_TAG_MEDIA | EVENT_TAG_QUEUE},
	    {"setPlaylistLocked", EVENT_TAG_MEDIA | EVENT_TAG_QUEUE},
	    {"mediaUpdate", EVENT_TAG_MEDIA | EVENT_TAG_UPDATE},
	    {"kick", EVENT_TAG_SYSTEM | EVENT_TAG_CONNECTION},
	    {"cooldown", EVENT_TAG_SYSTEM | EVENT_TAG_CONNECTION},
	    {"channelNotRegistered", EVENT_TAG_SYSTEM | EVENT_TAG_CONNECTION},
	    {"partitionChange", EVENT_TAG_SYSTEM | EVENT_TAG_CONNECTION},
	    {"dazd:connected", EVENT_TAG_SYSTEM | EVENT_TAG_CONNECTION},
	    {"dazd:disconnected", EVENT_TAG_SYSTEM | EVENT_TAG_CONNECTION},
	    {"drinkCount", EVENT_TAG_UNKNOWN},
	    {"emoteList", EVENT_TAG_UNKNOWN},
	    {"voteskip", EVENT_TAG_UNKNOWN},
	    {"somethingNew", EVENT_TAG_UNKNOWN},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(event_type_tags(cases[i].type), cases[i].tags);
	assert_string_equal(event_tag_name(EVENT_TAG_USER_MESSAGE), "user-message");
	assert_string_equal(event_tag_name(EVENT_TAG_UNKNOWN), "unknown");
	assert_null(event_tag_name(3));
	assert_null(event_tag_name(1u << 20));
}

static void test_event_actor_per_type(void **state)
{
	(void)state;
	static const struct {
		const char *frame, *actor;
	} cases[] = {
	    {"42[\"addUser\",{\"name\":\"Bob\",\"rank\":0}]", "Bob"},
	    {"42[\"userLeave\",{\"name\":\"Talker\"}]", "Talker"},
	    {"42[\"setUserRank\",{\"name\":\"TestBot\",\"rank\":2}]", "TestBot"},
	    {"42[\"setAFK\",{\"name\":\"Bob\",\"afk\":true}]", "Bob"},
	    {"42[\"login\",{\"success\":true,\"name\":\"TestBot\"}]", "TestBot"},
	    {"42[\"setLeader\",\"Bob\"]", "Bob"},
	    {"42[\"queue\",{\"item\":{\"media\":{\"id\":\"x\"},\"uid\":1,\"temp\":false,"
	     "\"queueby\":\"TestBot\"},\"after\":0}]",
	     "TestBot"},
	    {"42[\"announcement\",{\"id\":1,\"title\":\"t\",\"text\":\"x\",\"from\":\"admin\"}]",
	     "admin"},
	    {"42[\"setLeader\",\"\"]", NULL},
	    {"42[\"addUser\",{\"name\":42}]", NULL},
	    {"42[\"rank\",2]", NULL},
	    {"42[\"kick\",{\"reason\":\"bye\"}]", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct event *ev = map(cases[i].frame, 1);
		if (cases[i].actor)
			assert_string_equal(ev->actor, cases[i].actor);
		else
			assert_null(ev->actor);
		event_free(ev);
	}
}

static void test_event_server_time_only_from_numeric_time(void **state)
{
	(void)state;
	struct event *ev = map("42[\"setPlaylistMeta\",{\"count\":0,\"rawTime\":0,\"time\":"
	                       "\"00:00\"}]",
	                       1);
	assert_true(ev->server_time_ms == EVENT_NO_TIME);
	event_free(ev);
	ev = map("42[\"x\",{\"time\":-5}]", 1);
	assert_true(ev->server_time_ms == EVENT_NO_TIME);
	event_free(ev);
	ev = map("42[\"x\",{\"time\":1795750192882.0}]", 1);
	assert_int_equal(ev->server_time_ms, 1795750192882LL);
	event_free(ev);
	ev = map("42[\"usercount\",1]", 1);
	assert_true(ev->server_time_ms == EVENT_NO_TIME);
	event_free(ev);
}

static void test_event_payload_is_compact_json_or_null(void **state)
{
	(void)state;
	struct event *ev = map("42[\"playNext\"]", 1);
	assert_null(ev->payload);
	assert_int_equal(ev->payload_len, 0);
	assert_true(has(ev, EVENT_TAG_UNKNOWN));
	event_free(ev);
	ev = map("42[ \"mediaUpdate\" , { \"currentTime\" : 5.5 , \"paused\" : false } ]", 1);
	assert_string_equal(ev->payload, "{\"currentTime\":5.5,\"paused\":false}");
	assert_int_equal(ev->payload_len, strlen(ev->payload));
	event_free(ev);
	ev = map("42[\"chatMsg\",{\"msg\":\"see http://x/y \\u00e9\"}]", 1);
	assert_string_equal(ev->payload, "{\"msg\":\"see http://x/y \xc3\xa9\"}");
	event_free(ev);
	ev = map("42[\"cooldown\",100]", 1);
	assert_string_equal(ev->payload, "100");
	event_free(ev);
}

static void test_event_nul_escape_is_replaced_for_jsonb(void **state)
{
	(void)state;
	struct event *ev = map("42[\"chatMsg\",{\"msg\":\"a\\u0000b\\\\u0000c\"}]", 1);
	/* the real NUL becomes U+FFFD; the escaped backslash followed by u0000 stays */
	assert_string_equal(ev->payload, "{\"msg\":\"a\\ufffdb\\\\u0000c\"}");
	struct json_object *o = json_tokener_parse(ev->payload);
	assert_non_null(o);
	json_object_put(o);
	event_free(ev);
}

static void test_event_unknown_and_overlong_types_are_kept(void **state)
{
	(void)state;
	char frame[400];
	struct event *ev = map("42[\"newFeature\",{\"a\":[1,2]}]", 1);
	assert_string_equal(ev->type, "newFeature");
	assert_int_equal(ev->tags, EVENT_TAG_UNKNOWN);
	assert_string_equal(ev->payload, "{\"a\":[1,2]}");
	event_free(ev);
	snprintf(frame, sizeof(frame), "42[\"%0200d\",1]", 7);
	ev = map(frame, 1);
	assert_int_equal(strlen(ev->type), EVENT_TYPE_MAX);
	assert_int_equal(ev->tags, EVENT_TAG_UNKNOWN);
	event_free(ev);
	/* "chatMsg" padded beyond the limit is not treated as chat */
	snprintf(frame, sizeof(frame), "42[\"chatMsg%0200d\",{\"msg\":\"!x\"}]", 0);
	ev = map(frame, 1);
	assert_int_equal(ev->tags, EVENT_TAG_UNKNOWN);
	event_free(ev);
}

static void test_event_non_event_packets_map_to_null(void **state)
{
	(void)state;
	struct sio_packet p;
	assert_int_equal(sio_decode("2", 1, 0, &p, NULL, 0), SIO_OK);
	assert_null(event_from_packet(&m, &p, 1));
	assert_null(event_from_packet(&m, NULL, 1));
}

static void test_event_ids_are_time_ordered(void **state)
{
	(void)state;
	struct event *a = map("42[\"rank\",-1]", 1795750192882000LL);
	struct event *b = map("42[\"rank\",0]", 1795750192882000LL);
	struct event *c = map("42[\"rank\",1]", 1795750192883000LL);
	assert_true(memcmp(a->id, b->id, 16) < 0);
	assert_true(memcmp(b->id, c->id, 16) < 0);
	assert_int_equal(uuid_v7_ms(a->id), 1795750192882LL);
	event_free(a);
	event_free(b);
	event_free(c);
}

static void test_event_pseudo_events(void **state)
{
	(void)state;
	struct event *ev = event_pseudo(&m, "dazd:connected", "{\"server\":\"ws://x\"}", 7);
	assert_string_equal(ev->type, "dazd:connected");
	assert_int_equal(ev->tags, EVENT_TAG_SYSTEM | EVENT_TAG_CONNECTION);
	assert_string_equal(ev->payload, "{\"server\":\"ws://x\"}");
	assert_null(ev->actor);
	event_free(ev);
	ev = event_pseudo(&m, "dazd:disconnected", NULL, 8);
	assert_null(ev->payload);
	event_free(ev);
	event_free(NULL);
}

static void test_event_tags_as_pg_array(void **state)
{
	(void)state;
	char buf[256], small[8];
	uint8_t id[16] = {0};
	struct event *ev = event_new(id, 1, EVENT_NO_TIME,
	                             EVENT_TAG_CHAT | EVENT_TAG_USER_MESSAGE | EVENT_TAG_COMMAND,
	                             "my \"room\"", "chatMsg", "Bob", "{}");
	size_t n = event_tags_pg_array(ev, buf, sizeof(buf));
	assert_string_equal(buf,
	                    "{\"room:my \\\"room\\\"\",\"chat\",\"user-message\",\"command\"}");
	assert_int_equal(n, strlen(buf));
	assert_int_equal(event_tags_pg_array(ev, small, sizeof(small)), n);
	assert_int_equal(strlen(small), sizeof(small) - 1);

	const char *list[20];
	char roomtag[EVENT_ROOM_MAX + 6];
	assert_int_equal(event_tags_list(ev, roomtag, list, 20), 4);
	assert_string_equal(list[0], "room:my \"room\"");
	assert_string_equal(list[3], "command");
	assert_int_equal(event_tags_list(ev, roomtag, list, 2), 2);
	event_free(ev);
}

static void test_event_html_escape_like_cytube(void **state)
{
	(void)state;
	char *s = event_html_escape("<b>&\"'");
	assert_string_equal(s, "&lt;b&gt;&amp;\"'");
	free(s);
	s = event_html_escape("");
	assert_string_equal(s, "");
	free(s);
}

static void test_event_normalize_outgoing_cuts_and_replaces_controls(void **state)
{
	(void)state;
	char *s = event_normalize_outgoing("a\nb\tc\x7f"
	                                   "d",
	                                   320);
	assert_string_equal(s, "a b c d");
	free(s);
	s = event_normalize_outgoing("abcdef", 3);
	assert_string_equal(s, "abc");
	free(s);
	/* an emoji counts two units and is never cut in half */
	s = event_normalize_outgoing("ab\xf0\x9f\x98\x80", 3);
	assert_string_equal(s, "ab");
	free(s);
}

static void test_event_echo_matches_escaped_linked_and_action_text(void **state)
{
	(void)state;
	assert_true(event_echo_matches("hello from Talker", "hello from Talker", 320));
	assert_true(event_echo_matches("<b>&\"'", "&lt;b&gt;&amp;\"'", 320));
	assert_true(event_echo_matches(
	    "see https://example.com/x?a=1&b=2",
	    "see <a href=\"https://example.com/x?a=1&amp;b=2\" target=\"_blank\" rel=\"noopener "
	    "noreferrer\">https://example.com/x?a=1&amp;b=2</a>",
	    320));
	assert_true(event_echo_matches("/me waves", "waves", 320));
	assert_true(event_echo_matches(">greentext in a pm", "&gt;greentext in a pm", 320));
	assert_true(event_echo_matches("two\nlines", "two lines", 320));
	assert_false(event_echo_matches("hello", "hello!", 320));
	assert_false(event_echo_matches("<b>", "<b>", 320));
	assert_false(event_echo_matches(NULL, "x", 320));
	/* the server cuts at the limit: the echo is the cut text */
	assert_true(event_echo_matches("abcdefghij", "abcdefgh", 8));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_event_chat_before_first_userlist_is_history, setup),
	    cmocka_unit_test_setup(test_event_command_bot_and_action_tags, setup),
	    cmocka_unit_test_setup(test_event_command_prefix_is_compared_escaped, setup),
	    cmocka_unit_test_setup(test_event_pm_tags, setup),
	    cmocka_unit_test_setup(test_event_type_tags_follow_the_vocabulary, setup),
	    cmocka_unit_test_setup(test_event_actor_per_type, setup),
	    cmocka_unit_test_setup(test_event_server_time_only_from_numeric_time, setup),
	    cmocka_unit_test_setup(test_event_payload_is_compact_json_or_null, setup),
	    cmocka_unit_test_setup(test_event_nul_escape_is_replaced_for_jsonb, setup),
	    cmocka_unit_test_setup(test_event_unknown_and_overlong_types_are_kept, setup),
	    cmocka_unit_test_setup(test_event_non_event_packets_map_to_null, setup),
	    cmocka_unit_test_setup(test_event_ids_are_time_ordered, setup),
	    cmocka_unit_test_setup(test_event_pseudo_events, setup),
	    cmocka_unit_test_setup(test_event_tags_as_pg_array, setup),
	    cmocka_unit_test_setup(test_event_html_escape_like_cytube, setup),
	    cmocka_unit_test_setup(test_event_normalize_outgoing_cuts_and_replaces_controls, setup),
	    cmocka_unit_test_setup(test_event_echo_matches_escaped_linked_and_action_text, setup),
	};
	return cmocka_run_group_tests_name("event", tests, NULL, NULL);
}

/* test_sio.c — Engine.IO / Socket.IO frame codec and connection phases, on captured frames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "sio.h"

/* Frames as captured from CyTube 3.86 (fixtures/cytube). */
#define F_OPEN                                                                                     \
	"0{\"sid\":\"picV9Pt8A67NCIhqAAAA\",\"upgrades\":[],\"pingInterval\":25000,"               \
	"\"pingTimeout\":120000,\"maxPayload\":1048576}"
#define F_CONNECTED "40{\"sid\":\"9MWvy3clTOPE6TyyAAAB\"}"
#define F_CHAT                                                                                     \
	"42[\"chatMsg\",{\"username\":\"Talker\",\"msg\":\"&lt;b&gt;&amp;\\\"'\",\"meta\":{},"     \
	"\"time\":1795750187927}]"
#define F_KICK    "42[\"kick\",{\"reason\":\"bye\"}]"
#define F_NOTREG  "42[\"channelNotRegistered\"]"
#define F_RANK    "42[\"rank\",-1]"
#define F_REFUSED "44{\"message\":\"Rate limit exceeded\"}"

static enum sio_result dec(const char *s, struct sio_packet *p)
{
	char err[128];
	return sio_decode(s, strlen(s), 0, p, err, sizeof(err));
}

static void test_sio_decodes_open_packet(void **state)
{
	(void)state;
	struct sio_packet p;
	assert_int_equal(dec(F_OPEN, &p), SIO_OK);
	assert_int_equal(p.kind, SIO_EIO_OPEN);
	assert_string_equal(p.open.sid, "picV9Pt8A67NCIhqAAAA");
	assert_int_equal(p.open.ping_interval_ms, 25000);
	assert_int_equal(p.open.ping_timeout_ms, 120000);
	assert_int_equal(p.open.max_payload, 1048576);
	sio_packet_clear(&p);
}

static void test_sio_open_without_sid_or_intervals_is_shape_error(void **state)
{
	(void)state;
	struct sio_packet p;
	assert_int_equal(dec("0{\"pingInterval\":1,\"pingTimeout\":1}", &p), SIO_REJECT_SHAPE);
	assert_int_equal(dec("0{\"sid\":\"x\"}", &p), SIO_REJECT_SHAPE);
	assert_int_equal(dec("0{\"sid\":\"x\",\"pingInterval\":-5,\"pingTimeout\":1}", &p),
	                 SIO_REJECT_SHAPE);
	assert_int_equal(dec("0[]", &p), SIO_REJECT_SHAPE);
	assert_int_equal(dec("0", &p), SIO_REJECT_JSON);
	/* maxPayload missing → default */
	assert_int_equal(dec("0{\"sid\":\"x\",\"pingInterval\":1,\"pingTimeout\":1}", &p), SIO_OK);
	assert_int_equal(p.open.max_payload, SIO_DEFAULT_MAXPAYLOAD);
	sio_packet_clear(&p);
}

static void test_sio_decodes_engineio_control_packets(void **state)
{
	(void)state;
	struct sio_packet p;
	assert_int_equal(dec("2", &p), SIO_OK);
	assert_int_equal(p.kind, SIO_EIO_PING);
	assert_int_equal(dec("2probe", &p), SIO_OK);
	assert_int_equal(p.kind, SIO_EIO_PING);
	assert_int_equal(dec("3", &p), SIO_OK);
	assert_int_equal(p.kind, SIO_EIO_PONG);
	assert_int_equal(dec("1", &p), SIO_OK);
	assert_int_equal(p.kind, SIO_EIO_CLOSE);
	assert_int_equal(dec("6", &p), SIO_OK);
	assert_int_equal(p.kind, SIO_EIO_NOOP);
	assert_int_equal(dec("5", &p), SIO_REJECT_TYPE);
	assert_int_equal(dec("x", &p), SIO_REJECT_TYPE);
	assert_int_equal(dec("bAQID", &p), SIO_REJECT_BINARY);
}

static void test_sio_decodes_connect_and_disconnect(void **state)
{
	(void)state;
	struct sio_packet p;
	assert_int_equal(dec(F_CONNECTED, &p), SIO_OK);
	assert_int_equal(p.kind, SIO_CONNECT);
	assert_string_equal(p.nsp, "/");
	assert_non_null(p.payload);
	sio_packet_clear(&p);
	assert_int_equal(dec("40", &p), SIO_OK);
	assert_int_equal(p.kind, SIO_CONNECT);
	assert_null(p.payload);
	assert_int_equal(dec("41", &p), SIO_OK);
	assert_int_equal(p.kind, SIO_DISCONNECT);
	assert_int_equal(dec("41/admin", &p), SIO_OK);
	assert_string_equal(p.nsp, "/admin");
	assert_int_equal(dec("40[1]", &p), SIO_REJECT_SHAPE);
}

static void test_sio_decodes_event_with_payload(void **state)
{
	(void)state;
	struct sio_packet p;
	assert_int_equal(dec(F_CHAT, &p), SIO_OK);
	assert_int_equal(p.kind, SIO_EVENT);
	assert_string_equal(p.name, "chatMsg");
	assert_int_equal(p.n_args, 1);
	assert_int_equal(p.ack_id, -1);
	assert_true(json_object_is_type(p.payload, json_type_object));
	struct json_object *msg;
	assert_true(json_object_object_get_ex(p.payload, "msg", &msg));
	assert_string_equal(json_object_get_string(msg), "&lt;b&gt;&amp;\"'");
	sio_packet_clear(&p);
	sio_packet_clear(&p); /* twice is harmless */
}

static void test_sio_decodes_event_without_payload_and_scalar_payload(void **state)
{
	(void)state;
	struct sio_packet p;
	assert_int_equal(dec(F_NOTREG, &p), SIO_OK);
	assert_string_equal(p.name, "channelNotRegistered");
	assert_int_equal(p.n_args, 0);
	assert_null(p.payload);
	sio_packet_clear(&p);
	assert_int_equal(dec(F_RANK, &p), SIO_OK);
	assert_string_equal(p.name, "rank");
	assert_int_equal(json_object_get_int(p.payload), -1);
	sio_packet_clear(&p);
}

static void test_sio_decodes_namespace_and_ack_ids(void **state)
{
	(void)state;
	struct sio_packet p;
	assert_int_equal(dec("42/admin,[\"x\",1]", &p), SIO_OK);
	assert_string_equal(p.nsp, "/admin");
	assert_string_equal(p.name, "x");
	sio_packet_clear(&p);
	assert_int_equal(dec("4212[\"newPoll\",{}]", &p), SIO_OK);
	assert_int_equal(p.ack_id, 12);
	assert_string_equal(p.name, "newPoll");
	sio_packet_clear(&p);
	assert_int_equal(dec("43/admin,7[{\"ok\":true}]", &p), SIO_OK);
	assert_int_equal(p.kind, SIO_ACK);
	assert_int_equal(p.ack_id, 7);
	assert_string_equal(p.nsp, "/admin");
	assert_true(json_object_is_type(p.payload, json_type_object));
	sio_packet_clear(&p);
	assert_int_equal(dec("421234567890123456[\"x\"]", &p), SIO_REJECT_SHAPE);
	assert_int_equal(dec("4012{}", &p), SIO_REJECT_SHAPE);
}

static void test_sio_event_with_several_arguments_gets_an_array(void **state)
{
	(void)state;
	struct sio_packet p;
	assert_int_equal(dec("42[\"multi\",1,\"two\",{\"three\":3}]", &p), SIO_OK);
	assert_int_equal(p.n_args, 3);
	assert_true(json_object_is_type(p.payload, json_type_array));
	assert_int_equal(json_object_array_length(p.payload), 3);
	assert_string_equal(json_object_to_json_string_ext(p.payload, JSON_C_TO_STRING_PLAIN),
	                    "[1,\"two\",{\"three\":3}]");
	sio_packet_clear(&p);
}

static void test_sio_connect_error(void **state)
{
	(void)state;
	struct sio_packet p;
	assert_int_equal(dec(F_REFUSED, &p), SIO_OK);
	assert_int_equal(p.kind, SIO_CONNECT_ERROR);
	assert_non_null(p.payload);
	sio_packet_clear(&p);
}

static void test_sio_rejects_malformed_events(void **state)
{
	(void)state;
	struct sio_packet p;
	char err[128];
	assert_int_equal(dec("42", &p), SIO_REJECT_SHAPE);
	assert_int_equal(dec("42{}", &p), SIO_REJECT_SHAPE);
	assert_int_equal(dec("42[]", &p), SIO_REJECT_SHAPE);
	assert_int_equal(dec("42[1,2]", &p), SIO_REJECT_SHAPE);
	assert_int_equal(dec("42[\"\"]", &p), SIO_REJECT_SHAPE);
	assert_int_equal(dec("42[\"x\"", &p), SIO_REJECT_JSON);
	assert_int_equal(dec("42[\"x\"]]", &p), SIO_REJECT_JSON);
	assert_int_equal(dec("42[\"x\"] trailing", &p), SIO_REJECT_JSON);
	assert_int_equal(dec("42['x']", &p), SIO_REJECT_JSON);
	assert_int_equal(dec("42[\"x\",NaN]", &p), SIO_REJECT_JSON);
	assert_int_equal(dec("42[\"x\",-Infinity]", &p), SIO_REJECT_JSON);
	assert_int_equal(dec("42[\"x\",{\"a\":[1e999]}]", &p), SIO_REJECT_JSON);
	assert_int_equal(dec("45-[\"bin\",{\"_placeholder\":true,\"num\":0}]", &p),
	                 SIO_REJECT_BINARY);
	assert_int_equal(dec("47", &p), SIO_REJECT_TYPE);
	assert_int_equal(dec("4", &p), SIO_REJECT_TYPE);
	assert_int_equal(sio_decode("", 0, 0, &p, err, sizeof(err)), SIO_REJECT_EMPTY);
	assert_string_equal(sio_reject_name(SIO_REJECT_EMPTY), "empty");
	assert_true(strlen(err) > 0);
}

static void test_sio_rejects_deep_nesting(void **state)
{
	(void)state;
	struct sio_packet p;
	size_t depth = 10000, len = 0;
	char *buf = malloc(depth * 2 + 16);
	len += (size_t)sprintf(buf, "42[\"deep\",");
	for (size_t i = 0; i < depth; i++)
		buf[len++] = '[';
	for (size_t i = 0; i < depth; i++)
		buf[len++] = ']';
	buf[len++] = ']';
	assert_int_equal(sio_decode(buf, len, 0, &p, NULL, 0), SIO_REJECT_DEPTH);
	free(buf);
	/* 60 levels is fine */
	char ok[200];
	len = (size_t)sprintf(ok, "42[\"deep\",");
	for (int i = 0; i < 60; i++)
		ok[len++] = '[';
	for (int i = 0; i < 60; i++)
		ok[len++] = ']';
	ok[len++] = ']';
	assert_int_equal(sio_decode(ok, len, 0, &p, NULL, 0), SIO_OK);
	sio_packet_clear(&p);
}

static void test_sio_rejects_oversize_and_binary(void **state)
{
	(void)state;
	struct sio_packet p;
	char err[128];
	assert_int_equal(sio_decode(F_CHAT, strlen(F_CHAT), 20, &p, err, sizeof(err)),
	                 SIO_REJECT_OVERSIZE);
	assert_string_equal(sio_reject_name(SIO_REJECT_OVERSIZE), "oversize");
	assert_int_equal(sio_decode("42[\"a\0\"]", 8, 0, &p, err, sizeof(err)), SIO_REJECT_BINARY);
	assert_int_equal(dec("42[\"\xff\xfe\"]", &p), SIO_REJECT_BINARY);
	assert_int_equal(dec("42[\"\xc3\"]", &p), SIO_REJECT_BINARY);
	/* valid UTF-8 passes */
	assert_int_equal(dec("42[\"caf\xc3\xa9\",\"\xf0\x9f\x98\x80\"]", &p), SIO_OK);
	sio_packet_clear(&p);
	/* the frame need not be NUL-terminated */
	char raw[3] = {'2', 'X', 'Y'};
	assert_int_equal(sio_decode(raw, 1, 0, &p, NULL, 0), SIO_OK);
	assert_int_equal(p.kind, SIO_EIO_PING);
}

static void test_sio_encode_event_and_chat_and_pm(void **state)
{
	(void)state;
	size_t len;
	char *f = sio_encode_chat("<b>&\"'", 0, &len);
	assert_string_equal(f, "42[\"chatMsg\",{\"msg\":\"<b>&\\\"'\",\"meta\":{}}]");
	assert_int_equal(len, strlen(f));
	free(f);
	f = sio_encode_pm("Nobody", "are you there?", 0, &len);
	assert_string_equal(
	    f, "42[\"pm\",{\"to\":\"Nobody\",\"msg\":\"are you there?\",\"meta\":{}}]");
	free(f);
	f = sio_encode_event("playNext", NULL, 0, &len);
	assert_string_equal(f, "42[\"playNext\"]");
	free(f);
	struct json_object *q = json_tokener_parse("{\"id\":\"dQw4w9WgXcQ\",\"type\":\"yt\","
	                                           "\"pos\":\"end\"}");
	f = sio_encode_event("queue", q, 16, &len);
	assert_string_equal(f + 16, "42[\"queue\",{\"id\":\"dQw4w9WgXcQ\",\"type\":\"yt\",\"pos\":"
	                            "\"end\"}]");
	assert_int_equal(len, strlen(f + 16));
	free(f);
	json_object_put(q);
	assert_null(sio_encode_event("", NULL, 0, &len));
	assert_null(sio_encode_pm(NULL, "x", 0, &len));
	/* UTF-8 and slashes pass through unescaped */
	f = sio_encode_chat("caf\xc3\xa9 http://x/y", 0, &len);
	assert_string_equal(f, "42[\"chatMsg\",{\"msg\":\"caf\xc3\xa9 http://x/y\",\"meta\":{}}]");
	free(f);
}

static void test_sio_encoded_frames_decode_back(void **state)
{
	(void)state;
	size_t len;
	struct sio_packet p;
	char *f = sio_encode_pm("bob", "line\nbreak \"quoted\"", 0, &len);
	assert_int_equal(sio_decode(f, len, 0, &p, NULL, 0), SIO_OK);
	assert_string_equal(p.name, "pm");
	struct json_object *m;
	assert_true(json_object_object_get_ex(p.payload, "msg", &m));
	assert_string_equal(json_object_get_string(m), "line\nbreak \"quoted\"");
	sio_packet_clear(&p);
	free(f);
}

/* Feed frame s to the connection, return the actions. */
static unsigned feed(struct sio_conn *c, const char *s, int64_t now, char *why, size_t wl)
{
	struct sio_packet p;
	unsigned a;
	assert_int_equal(sio_decode(s, strlen(s), sio_conn_max_payload(c), &p, NULL, 0), SIO_OK);
	a = sio_conn_on_packet(c, &p, now, why, wl);
	sio_packet_clear(&p);
	return a;
}

static void test_sio_conn_handshake_then_events(void **state)
{
	(void)state;
	struct sio_conn c;
	char why[128];
	sio_conn_init(&c, 1000);
	assert_int_equal(c.phase, SIO_PHASE_WAIT_OPEN);
	assert_false(sio_conn_may_send(&c));
	assert_int_equal(sio_conn_deadline_ms(&c), 1000 + SIO_HANDSHAKE_MS);
	assert_int_equal(feed(&c, F_OPEN, 1017, why, sizeof(why)), SIO_ACT_SEND_CONNECT);
	assert_int_equal(c.phase, SIO_PHASE_WAIT_CONNECT);
	assert_false(sio_conn_may_send(&c));
	assert_string_equal(c.sid, "picV9Pt8A67NCIhqAAAA");
	assert_int_equal(sio_conn_max_payload(&c), 1048576);
	assert_int_equal(feed(&c, F_CONNECTED, 1026, why, sizeof(why)), SIO_ACT_CONNECTED);
	assert_true(sio_conn_may_send(&c));
	assert_string_equal(sio_phase_name(c.phase), "connected");
	assert_int_equal(feed(&c, F_RANK, 1028, why, sizeof(why)), SIO_ACT_DELIVER);
	assert_int_equal(feed(&c, "2", 26000, why, sizeof(why)), SIO_ACT_SEND_PONG);
	assert_int_equal(sio_conn_deadline_ms(&c), 26000 + 25000 + 120000);
	assert_false(sio_conn_expired(&c, 171000));
	assert_true(sio_conn_expired(&c, 171001));
	/* a second 40{} is ignored, events of another namespace too */
	assert_int_equal(feed(&c, F_CONNECTED, 26001, why, sizeof(why)), 0);
	assert_int_equal(feed(&c, "42/other,[\"x\"]", 26002, why, sizeof(why)), 0);
	assert_int_equal(feed(&c, "43[1]", 26003, why, sizeof(why)), 0);
}

static void test_sio_conn_kick_then_41_closes(void **state)
{
	(void)state;
	struct sio_conn c;
	char why[128];
	sio_conn_init(&c, 0);
	feed(&c, F_OPEN, 1, why, sizeof(why));
	feed(&c, F_CONNECTED, 2, why, sizeof(why));
	assert_int_equal(feed(&c, F_KICK, 3, why, sizeof(why)), SIO_ACT_DELIVER);
	assert_int_equal(feed(&c, "41", 4, why, sizeof(why)), SIO_ACT_CLOSE);
	assert_int_equal(c.phase, SIO_PHASE_CLOSED);
	assert_non_null(strstr(why, "41"));
	assert_true(sio_conn_expired(&c, 5));
	/* later pings on the still-open socket change nothing */
	assert_int_equal(feed(&c, "2", 24000, why, sizeof(why)), SIO_ACT_CLOSE);
}

static void test_sio_conn_refused_with_44(void **state)
{
	(void)state;
	struct sio_conn c;
	char why[128];
	sio_conn_init(&c, 0);
	feed(&c, F_OPEN, 1, why, sizeof(why));
	assert_int_equal(feed(&c, F_REFUSED, 2, why, sizeof(why)), SIO_ACT_CLOSE);
	assert_string_equal(why, "connection refused: Rate limit exceeded");
}

static void test_sio_conn_protocol_violations_close(void **state)
{
	(void)state;
	struct sio_conn c;
	char why[128];
	sio_conn_init(&c, 0);
	assert_int_equal(feed(&c, "2", 1, why, sizeof(why)), SIO_ACT_CLOSE);
	sio_conn_init(&c, 0);
	assert_int_equal(feed(&c, F_CHAT, 1, why, sizeof(why)), SIO_ACT_CLOSE);
	sio_conn_init(&c, 0);
	feed(&c, F_OPEN, 1, why, sizeof(why));
	assert_int_equal(feed(&c, F_OPEN, 2, why, sizeof(why)), SIO_ACT_CLOSE);
	sio_conn_init(&c, 0);
	feed(&c, F_OPEN, 1, why, sizeof(why));
	feed(&c, F_CONNECTED, 2, why, sizeof(why));
	assert_int_equal(feed(&c, "1", 3, why, sizeof(why)), SIO_ACT_CLOSE);
}

static void test_sio_conn_handshake_deadline(void **state)
{
	(void)state;
	struct sio_conn c;
	char why[128];
	sio_conn_init(&c, 0);
	assert_false(sio_conn_expired(&c, SIO_HANDSHAKE_MS));
	assert_true(sio_conn_expired(&c, SIO_HANDSHAKE_MS + 1));
	feed(&c, F_OPEN, 10, why, sizeof(why));
	/* still bounded by the handshake deadline while waiting for 40{ */
	assert_int_equal(sio_conn_deadline_ms(&c), SIO_HANDSHAKE_MS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sio_decodes_open_packet),
	    cmocka_unit_test(test_sio_open_without_sid_or_intervals_is_shape_error),
	    cmocka_unit_test(test_sio_decodes_engineio_control_packets),
	    cmocka_unit_test(test_sio_decodes_connect_and_disconnect),
	    cmocka_unit_test(test_sio_decodes_event_with_payload),
	    cmocka_unit_test(test_sio_decodes_event_without_payload_and_scalar_payload),
	    cmocka_unit_test(test_sio_decodes_namespace_and_ack_ids),
	    cmocka_unit_test(test_sio_event_with_several_arguments_gets_an_array),
	    cmocka_unit_test(test_sio_connect_error),
	    cmocka_unit_test(test_sio_rejects_malformed_events),
	    cmocka_unit_test(test_sio_rejects_deep_nesting),
	    cmocka_unit_test(test_sio_rejects_oversize_and_binary),
	    cmocka_unit_test(test_sio_encode_event_and_chat_and_pm),
	    cmocka_unit_test(test_sio_encoded_frames_decode_back),
	    cmocka_unit_test(test_sio_conn_handshake_then_events),
	    cmocka_unit_test(test_sio_conn_kick_then_41_closes),
	    cmocka_unit_test(test_sio_conn_refused_with_44),
	    cmocka_unit_test(test_sio_conn_protocol_violations_close),
	    cmocka_unit_test(test_sio_conn_handshake_deadline),
	};
	return cmocka_run_group_tests_name("sio", tests, NULL, NULL);
}

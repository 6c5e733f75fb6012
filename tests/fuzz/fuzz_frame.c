/* fuzz_frame.c — libFuzzer target: frame decode, connection phases, event mapping, spool codec. */
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "sio.h"
#include "spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t fixed_rand(void *ctx)
{
	uint64_t *s = ctx;
	*s = *s * 6364136223846793005ull + 1;
	return *s;
}

/* The event must survive what ingest and the spool do with it. */
static void check_event(const struct event *ev)
{
	if (ev->payload) {
		struct json_object *o = json_tokener_parse(ev->payload);
		/* the payload is valid JSON without \u0000 (jsonb refuses it) */
		if (!o && strcmp(ev->payload, "null") != 0)
			abort();
		json_object_put(o);
		if (strstr(ev->payload, "\\u0000")) {
			/* only allowed as an escaped backslash followed by "u0000" */
			const char *p = ev->payload;
			while ((p = strstr(p, "\\u0000")) != NULL) {
				size_t bs = 0;
				for (const char *q = p; q >= ev->payload && *q == '\\'; q--)
					bs++;
				if (bs % 2 == 1)
					abort();
				p++;
			}
		}
	}
	if (ev->tags == 0 || strlen(ev->type) > EVENT_TYPE_MAX)
		abort();
	char tags[512];
	event_tags_pg_array(ev, tags, sizeof(tags));

	size_t n = spool_encode_event(ev, NULL, 0);
	uint8_t *buf = malloc(n);
	if (!buf)
		return;
	spool_encode_event(ev, buf, n);
	struct event *back = spool_decode_event(buf, n);
	if (!back || strcmp(back->type, ev->type) != 0 || back->tags != ev->tags ||
	    (ev->payload && (!back->payload || strcmp(back->payload, ev->payload) != 0)))
		abort();
	event_free(back);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct uuid_gen gen;
	static uint64_t seed = 1;
	static struct event_mapper m;
	static struct sio_conn conn;
	static int init;
	struct sio_packet p;
	char err[256], why[256];

	if (!init) {
		uuid_gen_init(&gen, fixed_rand, &seed);
		event_mapper_init(&m, "fuzzroom", "DazBot", "!", &gen);
		sio_conn_init(&conn, 0);
		init = 1;
	}
	/* reset the connection now and then so every phase is reached */
	if (size > 0 && data[0] == '0') {
		sio_conn_init(&conn, 0);
		event_mapper_reset(&m);
	}
	if (sio_decode((const char *)data, size, 65536, &p, err, sizeof(err)) != SIO_OK)
		return 0;
	unsigned act = sio_conn_on_packet(&conn, &p, 1, why, sizeof(why));
	(void)sio_conn_deadline_ms(&conn);
	if (p.kind == SIO_EVENT) {
		struct event *ev = event_from_packet(&m, &p, 1795750192882000LL);
		if (!ev)
			abort();
		check_event(ev);
		const char *msg = NULL;
		struct json_object *v;
		if (p.payload && json_object_is_type(p.payload, json_type_object) &&
		    json_object_object_get_ex(p.payload, "msg", &v) &&
		    json_object_is_type(v, json_type_string))
			msg = json_object_get_string(v);
		if (msg) {
			(void)event_echo_matches(msg, msg, 320);
			char *e = event_html_escape(msg);
			free(e);
		}
		/* re-encode the event and decode it again */
		size_t len;
		char *f = sio_encode_event(p.name, p.payload, 0, &len);
		if (f) {
			struct sio_packet q;
			if (sio_decode(f, len, 0, &q, NULL, 0) != SIO_OK)
				abort();
			if (strcmp(q.name, p.name) != 0)
				abort();
			sio_packet_clear(&q);
			free(f);
		}
		event_free(ev);
	}
	(void)act;
	sio_packet_clear(&p);
	return 0;
}

/* sio.c — Engine.IO v4 / Socket.IO v5 codec and connection phase machine (pure, no I/O). */
#include "sio.h"

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "split.h"

#define SIO_MAX_PAYLOAD_CAP (64 * 1024 * 1024) /* never believe a server asking for more */
#define SIO_MAX_ACK_DIGITS  15

static enum sio_result reject(enum sio_result r, char *err, size_t errlen, const char *fmt,
                              const char *detail)
{
	if (err && errlen)
		snprintf(err, errlen, fmt, detail ? detail : "");
	return r;
}

/* Text frames must be UTF-8 without NUL bytes (a binary payload in a text frame is hostile). */
static bool text_ok(const char *buf, size_t len)
{
	size_t i = 0;
	while (i < len) {
		unsigned char c = (unsigned char)buf[i];
		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		unsigned units;
		uint32_t cp;
		size_t n = split_utf8_char(buf + i, len - i, &units, &cp);
		if (n == 1)
			return false; /* any non-ASCII one-byte result is malformed */
		i += n;
	}
	return true;
}

/* json-c accepts NaN and Infinity (and 1e999 becomes infinite); JSON and jsonb do not. */
static bool all_finite(struct json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_double:
		return isfinite(json_object_get_double(o));
	case json_type_array: {
		size_t n = json_object_array_length(o);
		for (size_t i = 0; i < n; i++) {
			if (!all_finite(json_object_array_get_idx(o, i)))
				return false;
		}
		return true;
	}
	case json_type_object: {
		json_object_object_foreach(o, k, v)
		{
			(void)k;
			if (!all_finite(v))
				return false;
		}
		return true;
	}
	default:
		return true;
	}
}

/* Parse exactly len bytes of JSON with bounded depth. */
static enum sio_result parse_json(const char *s, size_t len, struct json_object **out, char *err,
                                  size_t errlen)
{
	struct json_tokener *tok;
	enum json_tokener_error jerr;
	struct json_object *o;

	*out = NULL;
	if (len > (size_t)SIO_MAX_PAYLOAD_CAP)
		return reject(SIO_REJECT_OVERSIZE, err, errlen, "frame too large%s", NULL);
	tok = json_tokener_new_ex(SIO_MAX_DEPTH);
	if (!tok)
		return reject(SIO_REJECT_JSON, err, errlen, "out of memory%s", NULL);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, s, (int)len);
	jerr = json_tokener_get_error(tok);
	if (o && jerr == json_tokener_success && json_tokener_get_parse_end(tok) != len)
		jerr = json_tokener_error_parse_unexpected;
	json_tokener_free(tok);
	if (jerr != json_tokener_success) {
		json_object_put(o);
		if (jerr == json_tokener_error_depth)
			return reject(SIO_REJECT_DEPTH, err, errlen, "JSON nested deeper than 64%s",
			              NULL);
		if (jerr == json_tokener_continue)
			return reject(SIO_REJECT_JSON, err, errlen, "bad JSON: truncated%s", NULL);
		return reject(SIO_REJECT_JSON, err, errlen, "bad JSON: %s",
		              json_tokener_error_desc(jerr));
	}
	if (!all_finite(o)) {
		json_object_put(o);
		return reject(SIO_REJECT_JSON, err, errlen, "bad JSON: NaN or infinite number%s",
		              NULL);
	}
	*out = o;
	return SIO_OK;
}

static bool get_int(struct json_object *o, const char *key, int64_t *v)
{
	struct json_object *x;
	if (!json_object_object_get_ex(o, key, &x) || !json_object_is_type(x, json_type_int))
		return false;
	*v = json_object_get_int64(x);
	return true;
}

static enum sio_result decode_open(const char *body, size_t len, struct sio_packet *p, char *err,
                                   size_t errlen)
{
	struct json_object *o, *sid;
	enum sio_result r = parse_json(body, len, &o, err, errlen);
	if (r != SIO_OK)
		return r;
	p->root = o;
	if (!json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "sid", &sid) ||
	    !json_object_is_type(sid, json_type_string))
		return reject(SIO_REJECT_SHAPE, err, errlen, "open packet without sid%s", NULL);
	snprintf(p->open.sid, sizeof(p->open.sid), "%s", json_object_get_string(sid));
	if (!get_int(o, "pingInterval", &p->open.ping_interval_ms) ||
	    !get_int(o, "pingTimeout", &p->open.ping_timeout_ms) || p->open.ping_interval_ms <= 0 ||
	    p->open.ping_interval_ms > 3600000 || p->open.ping_timeout_ms <= 0 ||
	    p->open.ping_timeout_ms > 3600000)
		return reject(SIO_REJECT_SHAPE, err, errlen,
		              "open packet without valid pingInterval/pingTimeout%s", NULL);
	if (!get_int(o, "maxPayload", &p->open.max_payload) || p->open.max_payload <= 0)
		p->open.max_payload = SIO_DEFAULT_MAXPAYLOAD;
	if (p->open.max_payload > SIO_MAX_PAYLOAD_CAP)
		p->open.max_payload = SIO_MAX_PAYLOAD_CAP;
	return SIO_OK;
}

static enum sio_result decode_socketio(const char *s, size_t len, struct sio_packet *p, char *err,
                                       size_t errlen)
{
	size_t i = 1;
	enum sio_result r;
	struct json_object *root;

	if (len == 0)
		return reject(SIO_REJECT_TYPE, err, errlen, "empty message packet%s", NULL);
	switch (s[0]) {
	case '0':
		p->kind = SIO_CONNECT;
		break;
	case '1':
		p->kind = SIO_DISCONNECT;
		break;
	case '2':
		p->kind = SIO_EVENT;
		break;
	case '3':
		p->kind = SIO_ACK;
		break;
	case '4':
		p->kind = SIO_CONNECT_ERROR;
		break;
	case '5':
	case '6':
		return reject(SIO_REJECT_BINARY, err, errlen, "binary Socket.IO packet%s", NULL);
	default:
		return reject(SIO_REJECT_TYPE, err, errlen, "unknown Socket.IO type%s", NULL);
	}
	/* optional namespace "/name," */
	if (i < len && s[i] == '/') {
		size_t start = i;
		while (i < len && s[i] != ',' && i - start < sizeof(p->nsp) - 1)
			i++;
		if (i >= len || s[i] != ',') {
			/* "41/ns" without a body is legal: the namespace runs to the end */
			if (i >= len && i - start < sizeof(p->nsp)) {
				memcpy(p->nsp, s + start, i - start);
				p->nsp[i - start] = '\0';
			} else {
				return reject(SIO_REJECT_SHAPE, err, errlen, "namespace too long%s",
				              NULL);
			}
		} else {
			memcpy(p->nsp, s + start, i - start);
			p->nsp[i - start] = '\0';
			i++;
		}
	}
	/* optional ack id */
	if (i < len && s[i] >= '0' && s[i] <= '9') {
		size_t start = i;
		int64_t id = 0;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			if (i - start >= SIO_MAX_ACK_DIGITS)
				return reject(SIO_REJECT_SHAPE, err, errlen, "ack id too long%s",
				              NULL);
			id = id * 10 + (s[i] - '0');
			i++;
		}
		if (p->kind != SIO_EVENT && p->kind != SIO_ACK)
			return reject(SIO_REJECT_SHAPE, err, errlen, "ack id on a %s packet",
			              sio_kind_name(p->kind));
		p->ack_id = id;
	}
	if (i == len) {
		/* no body */
		if (p->kind == SIO_EVENT || p->kind == SIO_ACK)
			return reject(SIO_REJECT_SHAPE, err, errlen, "%s packet without data",
			              sio_kind_name(p->kind));
		return SIO_OK;
	}
	r = parse_json(s + i, len - i, &root, err, errlen);
	if (r != SIO_OK)
		return r;
	p->root = root;
	switch (p->kind) {
	case SIO_CONNECT:
		if (!json_object_is_type(root, json_type_object))
			return reject(SIO_REJECT_SHAPE, err, errlen, "connect data not an object%s",
			              NULL);
		p->payload = root;
		return SIO_OK;
	case SIO_CONNECT_ERROR:
		p->payload = root;
		return SIO_OK;
	case SIO_DISCONNECT:
		return SIO_OK;
	case SIO_EVENT:
	case SIO_ACK:
		break;
	default:
		return SIO_OK;
	}
	if (!json_object_is_type(root, json_type_array))
		return reject(SIO_REJECT_SHAPE, err, errlen, "%s data not an array",
		              sio_kind_name(p->kind));
	size_t n = json_object_array_length(root), first = 0;
	if (p->kind == SIO_EVENT) {
		struct json_object *name = json_object_array_get_idx(root, 0);
		if (n == 0 || !json_object_is_type(name, json_type_string) ||
		    json_object_get_string_len(name) == 0)
			return reject(SIO_REJECT_SHAPE, err, errlen, "event without a name%s",
			              NULL);
		p->name = json_object_get_string(name);
		first = 1;
	}
	p->n_args = n - first;
	if (p->n_args == 1) {
		p->payload = json_object_array_get_idx(root, first);
	} else if (p->n_args > 1) {
		p->args = json_object_new_array_ext((int)p->n_args);
		if (!p->args)
			return reject(SIO_REJECT_JSON, err, errlen, "out of memory%s", NULL);
		for (size_t k = first; k < n; k++) {
			struct json_object *a = json_object_array_get_idx(root, k);
			if (json_object_array_add(p->args, json_object_get(a)) != 0) {
				json_object_put(a);
				return reject(SIO_REJECT_JSON, err, errlen, "out of memory%s",
				              NULL);
			}
		}
		p->payload = p->args;
	}
	return SIO_OK;
}

enum sio_result sio_decode(const char *buf, size_t len, size_t max_payload, struct sio_packet *p,
                           char *err, size_t errlen)
{
	enum sio_result r;

	memset(p, 0, sizeof(*p));
	p->ack_id = -1;
	strcpy(p->nsp, "/");
	if (err && errlen)
		err[0] = '\0';
	if (max_payload == 0)
		max_payload = SIO_DEFAULT_MAXPAYLOAD;
	if (len == 0)
		return reject(SIO_REJECT_EMPTY, err, errlen, "empty frame%s", NULL);
	if (len > max_payload)
		return reject(SIO_REJECT_OVERSIZE, err, errlen, "frame longer than maxPayload%s",
		              NULL);
	if (!text_ok(buf, len))
		return reject(SIO_REJECT_BINARY, err, errlen, "not UTF-8 text%s", NULL);
	switch (buf[0]) {
	case '0':
		p->kind = SIO_EIO_OPEN;
		r = decode_open(buf + 1, len - 1, p, err, errlen);
		break;
	case '1':
		p->kind = SIO_EIO_CLOSE;
		r = SIO_OK;
		break;
	case '2':
		p->kind = SIO_EIO_PING;
		r = SIO_OK;
		break;
	case '3':
		p->kind = SIO_EIO_PONG;
		r = SIO_OK;
		break;
	case '4':
		r = decode_socketio(buf + 1, len - 1, p, err, errlen);
		break;
	case '6':
		p->kind = SIO_EIO_NOOP;
		r = SIO_OK;
		break;
	case 'b':
		r = reject(SIO_REJECT_BINARY, err, errlen, "base64 binary packet%s", NULL);
		break;
	default:
		r = reject(SIO_REJECT_TYPE, err, errlen, "unknown Engine.IO type%s", NULL);
		break;
	}
	if (r != SIO_OK)
		sio_packet_clear(p);
	return r;
}

void sio_packet_clear(struct sio_packet *p)
{
	if (!p)
		return;
	json_object_put(p->args);
	json_object_put(p->root);
	p->args = NULL;
	p->root = NULL;
	p->payload = NULL;
	p->name = NULL;
	p->n_args = 0;
}

const char *sio_reject_name(enum sio_result r)
{
	switch (r) {
	case SIO_OK:
		return "ok";
	case SIO_REJECT_EMPTY:
		return "empty";
	case SIO_REJECT_BINARY:
		return "binary";
	case SIO_REJECT_OVERSIZE:
		return "oversize";
	case SIO_REJECT_TYPE:
		return "type";
	case SIO_REJECT_JSON:
		return "json";
	case SIO_REJECT_DEPTH:
		return "depth";
	case SIO_REJECT_SHAPE:
		return "shape";
	}
	return "unknown";
}

const char *sio_kind_name(enum sio_kind k)
{
	switch (k) {
	case SIO_EIO_OPEN:
		return "open";
	case SIO_EIO_CLOSE:
		return "close";
	case SIO_EIO_PING:
		return "ping";
	case SIO_EIO_PONG:
		return "pong";
	case SIO_EIO_NOOP:
		return "noop";
	case SIO_CONNECT:
		return "connect";
	case SIO_DISCONNECT:
		return "disconnect";
	case SIO_EVENT:
		return "event";
	case SIO_ACK:
		return "ack";
	case SIO_CONNECT_ERROR:
		return "connect_error";
	}
	return "unknown";
}

/* ---- Encoding --------------------------------------------------------------------------- */

#define JSON_OUT_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

char *sio_encode_event(const char *name, struct json_object *payload, size_t pre, size_t *len)
{
	struct json_object *jname;
	const char *ns, *ps = NULL;
	size_t nl, pl = 0, total;
	char *buf = NULL, *p;

	if (!name || !*name)
		return NULL;
	jname = json_object_new_string(name);
	if (!jname)
		return NULL;
	ns = json_object_to_json_string_ext(jname, JSON_OUT_FLAGS);
	nl = strlen(ns);
	if (payload) {
		ps = json_object_to_json_string_ext(payload, JSON_OUT_FLAGS);
		pl = strlen(ps);
	}
	total = 3 + nl + (payload ? 1 + pl : 0) + 1; /* 42[ name ,payload ] */
	buf = malloc(pre + total + 1);
	if (!buf)
		goto out;
	p = buf + pre;
	memcpy(p, "42[", 3);
	p += 3;
	memcpy(p, ns, nl);
	p += nl;
	if (payload) {
		*p++ = ',';
		memcpy(p, ps, pl);
		p += pl;
	}
	*p++ = ']';
	*p = '\0';
	if (len)
		*len = total;
out:
	json_object_put(jname);
	return buf;
}

static char *encode_msg(const char *event, const char *to, const char *msg, size_t pre, size_t *len)
{
	struct json_object *o = json_object_new_object();
	char *buf = NULL;
	if (!o)
		return NULL;
	if (to && json_object_object_add(o, "to", json_object_new_string(to)) != 0)
		goto out;
	if (json_object_object_add(o, "msg", json_object_new_string(msg ? msg : "")) != 0 ||
	    json_object_object_add(o, "meta", json_object_new_object()) != 0)
		goto out;
	buf = sio_encode_event(event, o, pre, len);
out:
	json_object_put(o);
	return buf;
}

char *sio_encode_chat(const char *msg, size_t pre, size_t *len)
{
	return encode_msg("chatMsg", NULL, msg, pre, len);
}

char *sio_encode_pm(const char *to, const char *msg, size_t pre, size_t *len)
{
	if (!to)
		return NULL;
	return encode_msg("pm", to, msg, pre, len);
}

/* ---- Connection phases ------------------------------------------------------------------ */

void sio_conn_init(struct sio_conn *c, int64_t now_ms)
{
	memset(c, 0, sizeof(*c));
	c->phase = SIO_PHASE_WAIT_OPEN;
	c->started_ms = now_ms;
	c->last_rx_ms = now_ms;
	c->max_payload = SIO_DEFAULT_MAXPAYLOAD;
}

static unsigned close_with(struct sio_conn *c, char *why, size_t whylen, const char *fmt,
                           const char *detail)
{
	c->phase = SIO_PHASE_CLOSED;
	if (why && whylen)
		snprintf(why, whylen, fmt, detail ? detail : "");
	return SIO_ACT_CLOSE;
}

/* Short printable form of a connect-error payload: its "message" or the JSON itself. */
static const char *error_message(const struct sio_packet *p)
{
	struct json_object *m;
	if (p->payload && json_object_is_type(p->payload, json_type_object) &&
	    json_object_object_get_ex(p->payload, "message", &m) &&
	    json_object_is_type(m, json_type_string))
		return json_object_get_string(m);
	if (p->payload)
		return json_object_to_json_string_ext(p->payload, JSON_OUT_FLAGS);
	return "(no reason)";
}

unsigned sio_conn_on_packet(struct sio_conn *c, const struct sio_packet *p, int64_t now_ms,
                            char *why, size_t whylen)
{
	bool default_nsp = strcmp(p->nsp, "/") == 0;

	if (why && whylen)
		why[0] = '\0';
	if (c->phase == SIO_PHASE_CLOSED)
		return SIO_ACT_CLOSE;
	if (now_ms > c->last_rx_ms)
		c->last_rx_ms = now_ms;

	switch (p->kind) {
	case SIO_EIO_OPEN:
		if (c->phase != SIO_PHASE_WAIT_OPEN)
			return close_with(c, why, whylen, "second Engine.IO open packet%s", NULL);
		c->ping_interval_ms = p->open.ping_interval_ms;
		c->ping_timeout_ms = p->open.ping_timeout_ms;
		c->max_payload = p->open.max_payload;
		snprintf(c->sid, sizeof(c->sid), "%s", p->open.sid);
		c->phase = SIO_PHASE_WAIT_CONNECT;
		return SIO_ACT_SEND_CONNECT;
	case SIO_EIO_CLOSE:
		return close_with(c, why, whylen, "server sent Engine.IO close%s", NULL);
	case SIO_EIO_PING:
		if (c->phase == SIO_PHASE_WAIT_OPEN)
			return close_with(c, why, whylen, "ping before open%s", NULL);
		return SIO_ACT_SEND_PONG;
	case SIO_EIO_PONG:
	case SIO_EIO_NOOP:
		return 0;
	default:
		break;
	}

	if (c->phase == SIO_PHASE_WAIT_OPEN)
		return close_with(c, why, whylen, "%s packet before open", sio_kind_name(p->kind));

	switch (p->kind) {
	case SIO_CONNECT:
		if (!default_nsp || c->phase == SIO_PHASE_CONNECTED)
			return 0;
		c->phase = SIO_PHASE_CONNECTED;
		return SIO_ACT_CONNECTED;
	case SIO_CONNECT_ERROR:
		if (!default_nsp)
			return 0;
		return close_with(c, why, whylen, "connection refused: %s", error_message(p));
	case SIO_DISCONNECT:
		if (!default_nsp)
			return 0;
		return close_with(c, why, whylen, "server disconnected the socket (41)%s", NULL);
	case SIO_EVENT:
		if (!default_nsp)
			return 0;
		return SIO_ACT_DELIVER;
	case SIO_ACK:
	default:
		return 0;
	}
}

int64_t sio_conn_deadline_ms(const struct sio_conn *c)
{
	if (c->phase == SIO_PHASE_WAIT_OPEN || c->phase == SIO_PHASE_WAIT_CONNECT) {
		int64_t hs = c->started_ms + SIO_HANDSHAKE_MS;
		if (c->phase == SIO_PHASE_WAIT_CONNECT && c->ping_interval_ms > 0) {
			int64_t ping = c->last_rx_ms + c->ping_interval_ms + c->ping_timeout_ms;
			return hs < ping ? hs : ping;
		}
		return hs;
	}
	return c->last_rx_ms + c->ping_interval_ms + c->ping_timeout_ms;
}

bool sio_conn_expired(const struct sio_conn *c, int64_t now_ms)
{
	return c->phase == SIO_PHASE_CLOSED || now_ms > sio_conn_deadline_ms(c);
}

bool sio_conn_may_send(const struct sio_conn *c)
{
	return c->phase == SIO_PHASE_CONNECTED;
}

size_t sio_conn_max_payload(const struct sio_conn *c)
{
	return c->max_payload > 0 ? (size_t)c->max_payload : SIO_DEFAULT_MAXPAYLOAD;
}

const char *sio_phase_name(enum sio_phase ph)
{
	switch (ph) {
	case SIO_PHASE_WAIT_OPEN:
		return "wait-open";
	case SIO_PHASE_WAIT_CONNECT:
		return "wait-connect";
	case SIO_PHASE_CONNECTED:
		return "connected";
	case SIO_PHASE_CLOSED:
		return "closed";
	}
	return "?";
}

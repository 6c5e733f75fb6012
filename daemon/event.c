/* event.c — frame → tagged event (type, tags, actor, server time, payload); echo matching. */
#include "event.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sio.h"
#include "split.h"

#define ACTOR_MAX 128 /* longer actor values are not believed (CyTube names are <= 20) */

static const char *const tag_names[EVENT_N_TAGS] = {
    "chat",     "user-message", "command", "action", "bot",    "history", "private",    "user",
    "presence", "media",        "change",  "queue",  "update", "system",  "connection", "unknown",
};

const char *event_tag_name(uint32_t bit)
{
	for (int i = 0; i < EVENT_N_TAGS; i++) {
		if (bit == (1u << i))
			return tag_names[i];
	}
	return NULL;
}

/* Event type → tags (interfaces.md). */
static const struct {
	const char *type;
	uint32_t tags;
} type_tags[] = {
    {"chatMsg", EVENT_TAG_CHAT | EVENT_TAG_USER_MESSAGE},
    {"pm", EVENT_TAG_CHAT | EVENT_TAG_PRIVATE},
#define UP (EVENT_TAG_USER | EVENT_TAG_PRESENCE)
    {"addUser", UP},
    {"userLeave", UP},
    {"userlist", UP},
    {"setUserRank", UP},
    {"setAFK", UP},
    {"setUserMeta", UP},
    {"usercount", UP},
    {"setLeader", UP},
    {"rank", UP},
    {"login", UP},
#undef UP
#define MC (EVENT_TAG_MEDIA | EVENT_TAG_CHANGE)
    {"changeMedia", MC},
    {"setCurrent", MC},
#undef MC
#define MQ (EVENT_TAG_MEDIA | EVENT_TAG_QUEUE)
    {"queue", MQ},
    {"delete", MQ},
    {"moveVideo", MQ},
    {"setTemp", MQ},
    {"playlist", MQ},
    {"setPlaylistMeta", MQ},
    {"setPlaylistLocked", MQ},
    {"queueFail", MQ},
    {"queueWarn", MQ},
#undef MQ
    {"mediaUpdate", EVENT_TAG_MEDIA | EVENT_TAG_UPDATE},
#define SC (EVENT_TAG_SYSTEM | EVENT_TAG_CONNECTION)
    {"kick", SC},
    {"errorMsg", SC},
    {"cooldown", SC},
    {"noflood", SC},
    {"spamFiltered", SC},
    {"needPassword", SC},
    {"partitionChange", SC},
    {"announcement", SC},
    {"channelNotRegistered", SC},
    {"dazd:connected", SC},
    {"dazd:disconnected", SC},
#undef SC
};

uint32_t event_type_tags(const char *type)
{
	for (size_t i = 0; i < sizeof(type_tags) / sizeof(type_tags[0]); i++) {
		if (strcmp(type, type_tags[i].type) == 0)
			return type_tags[i].tags;
	}
	return EVENT_TAG_UNKNOWN;
}

/* ---- Mapper ----------------------------------------------------------------------------- */

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

void event_mapper_set_prefix(struct event_mapper *m, const char *prefix)
{
	char *esc;
	copy_str(m->prefix, sizeof(m->prefix), prefix);
	m->prefix_html[0] = '\0';
	esc = event_html_escape(m->prefix);
	if (esc && strlen(esc) < sizeof(m->prefix_html))
		strcpy(m->prefix_html, esc);
	else
		m->prefix[0] = '\0'; /* cannot match: disable */
	free(esc);
}

void event_mapper_set_bot_name(struct event_mapper *m, const char *bot_name)
{
	copy_str(m->bot_name, sizeof(m->bot_name), bot_name);
}

void event_mapper_init(struct event_mapper *m, const char *room, const char *bot_name,
                       const char *prefix, struct uuid_gen *uuids)
{
	memset(m, 0, sizeof(*m));
	copy_str(m->room, sizeof(m->room), room);
	event_mapper_set_bot_name(m, bot_name);
	event_mapper_set_prefix(m, prefix);
	m->uuids = uuids;
}

void event_mapper_reset(struct event_mapper *m)
{
	m->seen_userlist = false;
}

/* ---- Construction ----------------------------------------------------------------------- */

struct event *event_new(const uint8_t id[16], int64_t received_us, int64_t server_time_ms,
                        uint32_t tags, const char *room, const char *type, const char *actor,
                        const char *payload)
{
	size_t rl = strlen(room ? room : ""), tl = strlen(type ? type : "");
	size_t al = actor ? strlen(actor) + 1 : 0, pl = payload ? strlen(payload) + 1 : 0;
	struct event *ev = malloc(sizeof(*ev) + rl + 1 + tl + 1 + al + pl);
	char *p;

	if (!ev)
		return NULL;
	p = (char *)(ev + 1);
	memcpy(ev->id, id, 16);
	ev->received_us = received_us;
	ev->server_time_ms = server_time_ms;
	ev->tags = tags;
	memcpy(p, room ? room : "", rl + 1);
	ev->room = p;
	p += rl + 1;
	memcpy(p, type ? type : "", tl + 1);
	ev->type = p;
	p += tl + 1;
	ev->actor = NULL;
	if (actor) {
		memcpy(p, actor, al);
		ev->actor = p;
		p += al;
	}
	ev->payload = NULL;
	ev->payload_len = 0;
	if (payload) {
		memcpy(p, payload, pl);
		ev->payload = p;
		ev->payload_len = pl - 1;
	}
	return ev;
}

size_t event_mem_size(const struct event *ev)
{
	size_t n = sizeof(*ev) + strlen(ev->room) + 1 + strlen(ev->type) + 1;

	if (ev->actor)
		n += strlen(ev->actor) + 1;
	if (ev->payload)
		n += ev->payload_len + 1;
	return n + 16; /* malloc header and rounding */
}

void event_free(struct event *ev)
{
	free(ev);
}

/* ---- Mapping ---------------------------------------------------------------------------- */

static const char *get_string(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static bool plausible_actor(const char *s)
{
	return s && *s && strlen(s) <= ACTOR_MAX;
}

/* User the event is from or about, borrowed from the payload; NULL if none. */
static const char *find_actor(const char *type, struct json_object *payload)
{
	const char *a = NULL;
	if (!payload)
		return NULL;
	if (!strcmp(type, "chatMsg") || !strcmp(type, "pm")) {
		a = get_string(payload, "username");
	} else if (!strcmp(type, "addUser") || !strcmp(type, "userLeave") ||
	           !strcmp(type, "setUserRank") || !strcmp(type, "setAFK") ||
	           !strcmp(type, "setUserMeta") || !strcmp(type, "login")) {
		a = get_string(payload, "name");
	} else if (!strcmp(type, "setLeader")) {
		if (json_object_is_type(payload, json_type_string))
			a = json_object_get_string(payload);
	} else if (!strcmp(type, "queue")) {
		struct json_object *item;
		if (json_object_is_type(payload, json_type_object) &&
		    json_object_object_get_ex(payload, "item", &item))
			a = get_string(item, "queueby");
	} else if (!strcmp(type, "announcement")) {
		a = get_string(payload, "from");
	}
	return plausible_actor(a) ? a : NULL;
}

/* CyTube's "time" (unix ms) if the payload object has a plausible one. */
static int64_t find_time(struct json_object *payload)
{
	struct json_object *v;
	int64_t t;
	if (!payload || !json_object_is_type(payload, json_type_object) ||
	    !json_object_object_get_ex(payload, "time", &v))
		return EVENT_NO_TIME;
	if (json_object_is_type(v, json_type_int)) {
		t = json_object_get_int64(v);
	} else if (json_object_is_type(v, json_type_double)) {
		double d = json_object_get_double(v);
		if (!(d > 0 && d < 1e15))
			return EVENT_NO_TIME;
		t = (int64_t)d;
	} else {
		return EVENT_NO_TIME;
	}
	/* 1970 .. year ~5000: anything else is not a timestamp */
	if (t <= 0 || t > 100000000000000LL)
		return EVENT_NO_TIME;
	return t;
}

static uint32_t message_tags(const struct event_mapper *m, const char *type,
                             struct json_object *payload)
{
	uint32_t tags = 0;
	const char *msg = get_string(payload, "msg");
	const char *user = get_string(payload, "username");
	bool chat = strcmp(type, "chatMsg") == 0;

	if (msg && m->prefix[0] && strncmp(msg, m->prefix_html, strlen(m->prefix_html)) == 0)
		tags |= EVENT_TAG_COMMAND;
	if (user && m->bot_name[0] && strcasecmp(user, m->bot_name) == 0)
		tags |= EVENT_TAG_BOT;
	if (chat) {
		struct json_object *meta, *act;
		const char *cls;
		if (json_object_object_get_ex(payload, "meta", &meta) &&
		    json_object_is_type(meta, json_type_object)) {
			if (json_object_object_get_ex(meta, "action", &act) &&
			    json_object_is_type(act, json_type_boolean) &&
			    json_object_get_boolean(act))
				tags |= EVENT_TAG_ACTION;
			cls = get_string(meta, "addClass");
			if (cls && strcmp(cls, "action") == 0)
				tags |= EVENT_TAG_ACTION;
		}
		if (!m->seen_userlist)
			tags |= EVENT_TAG_HISTORY;
	}
	return tags;
}

/*
 * PostgreSQL's jsonb refuses the escape \u0000. Replace each one (a real escape, not an escaped
 * backslash followed by "u0000") by \ufffd, which has the same length.
 */
static void scrub_nul_escapes(char *s, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (s[i] != '\\')
			continue;
		if (s[i + 1] == 'u' && i + 5 < len && memcmp(s + i + 2, "0000", 4) == 0)
			memcpy(s + i + 2, "fffd", 4);
		i++; /* skip the escaped character */
	}
}

static struct event *build(struct event_mapper *m, const char *type, uint32_t tags,
                           const char *actor, int64_t server_time, struct json_object *payload,
                           const char *payload_text, int64_t received_us)
{
	uint8_t id[16];
	struct event *ev;
	const char *text = payload_text;

	if (payload)
		text = json_object_to_json_string_ext(payload, JSON_C_TO_STRING_PLAIN |
		                                                   JSON_C_TO_STRING_NOSLASHESCAPE);
	uuid_v7(m->uuids, received_us / 1000, id);
	ev = event_new(id, received_us, server_time, tags, m->room, type, actor, text);
	if (ev && ev->payload)
		scrub_nul_escapes((char *)ev->payload, ev->payload_len);
	return ev;
}

struct event *event_from_packet(struct event_mapper *m, const struct sio_packet *p,
                                int64_t received_us)
{
	char type[EVENT_TYPE_MAX + 1];
	uint32_t tags;
	struct json_object *payload;
	struct event *ev;
	bool cut;

	if (!p || p->kind != SIO_EVENT || !p->name || !m->uuids)
		return NULL;
	cut = strlen(p->name) > EVENT_TYPE_MAX;
	if (cut) {
		/* cut at a character boundary so the type stays valid UTF-8 */
		size_t n = EVENT_TYPE_MAX;
		while (n > 0 && ((unsigned char)p->name[n] & 0xc0) == 0x80)
			n--;
		memcpy(type, p->name, n);
		type[n] = '\0';
	} else {
		strcpy(type, p->name);
	}
	payload = p->payload;
	tags = cut ? EVENT_TAG_UNKNOWN : event_type_tags(type);
	if (tags & EVENT_TAG_CHAT)
		tags |= message_tags(m, type, payload);
	ev = build(m, type, tags, cut ? NULL : find_actor(type, payload), find_time(payload),
	           payload, NULL, received_us);
	if (!cut && strcmp(type, "userlist") == 0)
		m->seen_userlist = true;
	return ev;
}

struct event *event_pseudo(struct event_mapper *m, const char *type, const char *payload_json,
                           int64_t received_us)
{
	if (!m->uuids || !type)
		return NULL;
	return build(m, type, event_type_tags(type), NULL, EVENT_NO_TIME, NULL, payload_json,
	             received_us);
}

/* ---- Tags as text ----------------------------------------------------------------------- */

/* Append s to buf as a quoted array element. */
static size_t put_elem(char *buf, size_t cap, size_t pos, const char *prefix, const char *s)
{
	const char *parts[2] = {prefix, s};
	if (pos < cap)
		buf[pos] = '"';
	pos++;
	for (int k = 0; k < 2; k++) {
		for (const char *c = parts[k]; c && *c; c++) {
			if (*c == '"' || *c == '\\') {
				if (pos < cap)
					buf[pos] = '\\';
				pos++;
			}
			if (pos < cap)
				buf[pos] = *c;
			pos++;
		}
	}
	if (pos < cap)
		buf[pos] = '"';
	return pos + 1;
}

size_t event_tags_pg_array(const struct event *ev, char *buf, size_t buflen)
{
	size_t pos = 0;
	if (buflen)
		buf[0] = '\0';
	if (pos < buflen)
		buf[pos] = '{';
	pos++;
	pos = put_elem(buf, buflen, pos, "room:", ev->room);
	for (int i = 0; i < EVENT_N_TAGS; i++) {
		if (!(ev->tags & (1u << i)))
			continue;
		if (pos < buflen)
			buf[pos] = ',';
		pos++;
		pos = put_elem(buf, buflen, pos, "", tag_names[i]);
	}
	if (pos < buflen)
		buf[pos] = '}';
	pos++;
	if (buflen)
		buf[pos < buflen ? pos : buflen - 1] = '\0';
	return pos;
}

size_t event_tags_list(const struct event *ev, char *roomtag, const char **out, size_t cap)
{
	size_t n = 0;
	if (cap == 0)
		return 0;
	snprintf(roomtag, EVENT_ROOM_MAX + 6, "room:%s", ev->room);
	out[n++] = roomtag;
	for (int i = 0; i < EVENT_N_TAGS && n < cap; i++) {
		if (ev->tags & (1u << i))
			out[n++] = tag_names[i];
	}
	return n;
}

/* ---- Echo matching ---------------------------------------------------------------------- */

char *event_html_escape(const char *text)
{
	size_t n = 0;
	char *out, *p;
	for (const char *c = text; *c; c++)
		n += *c == '&' ? 5 : (*c == '<' || *c == '>') ? 4 : 1;
	out = malloc(n + 1);
	if (!out)
		return NULL;
	p = out;
	for (const char *c = text; *c; c++) {
		if (*c == '&') {
			memcpy(p, "&amp;", 5);
			p += 5;
		} else if (*c == '<') {
			memcpy(p, "&lt;", 4);
			p += 4;
		} else if (*c == '>') {
			memcpy(p, "&gt;", 4);
			p += 4;
		} else {
			*p++ = *c;
		}
	}
	*p = '\0';
	return out;
}

char *event_normalize_outgoing(const char *text, size_t max_units)
{
	return split_controls_to_spaces(text, strlen(text), max_units);
}

/* Collapse whitespace runs to one space and trim, in place. */
static void squeeze_spaces(char *s)
{
	char *w = s;
	bool space = true; /* drops leading spaces */
	for (char *r = s; *r; r++) {
		if (isspace((unsigned char)*r)) {
			if (!space)
				*w++ = ' ';
			space = true;
		} else {
			*w++ = *r;
			space = false;
		}
	}
	if (w > s && w[-1] == ' ')
		w--;
	*w = '\0';
}

/* Echo HTML → text: drop tags, decode the entities CyTube produces. Caller frees. */
static char *echo_to_text(const char *html)
{
	static const struct {
		const char *ent;
		char c;
	} ents[] = {{"&amp;", '&'},  {"&lt;", '<'},   {"&gt;", '>'},
	            {"&quot;", '"'}, {"&#39;", '\''}, {"&#x27;", '\''}};
	size_t len = strlen(html);
	char *out = malloc(len + 1), *w = out;
	const char *r = html;
	if (!out)
		return NULL;
	while (*r) {
		if (*r == '<') {
			const char *end = strchr(r, '>');
			if (end) {
				r = end + 1;
				continue;
			}
		}
		if (*r == '&') {
			bool done = false;
			for (size_t k = 0; k < sizeof(ents) / sizeof(ents[0]); k++) {
				size_t el = strlen(ents[k].ent);
				if (strncmp(r, ents[k].ent, el) == 0) {
					*w++ = ents[k].c;
					r += el;
					done = true;
					break;
				}
			}
			if (done)
				continue;
		}
		*w++ = *r++;
	}
	*w = '\0';
	return out;
}

bool event_echo_matches(const char *sent_text, const char *echo_msg, size_t max_units)
{
	char *sent, *echo;
	const char *s;
	bool eq = false;

	if (!sent_text || !echo_msg)
		return false;
	sent = event_normalize_outgoing(sent_text, max_units ? max_units : 320);
	echo = echo_to_text(echo_msg);
	if (!sent || !echo)
		goto out;
	{
		/* same control-character treatment on both sides, whichever set the server uses */
		char *e2 = event_normalize_outgoing(echo, (size_t)-1);
		free(echo);
		echo = e2;
		if (!echo)
			goto out;
	}
	s = sent;
	if (strncmp(s, "/me ", 4) == 0)
		s += 4;
	squeeze_spaces((char *)s);
	squeeze_spaces(echo);
	eq = strcmp(s, echo) == 0;
out:
	free(sent);
	free(echo);
	return eq;
}

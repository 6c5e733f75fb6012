/* event.h — frame → tagged event (type, tags, actor, server time, payload); echo matching. */
#ifndef DAZ_EVENT_H
#define DAZ_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "uuid.h"

struct sio_packet;

/* Tag vocabulary (docs/events.md). Every event also carries "room:<room>", implied by ev->room. */
enum event_tag {
	EVENT_TAG_CHAT = 1u << 0,         /* "chat": chatMsg, pm */
	EVENT_TAG_USER_MESSAGE = 1u << 1, /* "user-message": chatMsg */
	EVENT_TAG_COMMAND = 1u << 2,      /* "command": chat/pm text starts with the prefix */
	EVENT_TAG_ACTION = 1u << 3,       /* "action": /me (meta.action or addClass "action") */
	EVENT_TAG_BOT = 1u << 4,          /* "bot": sent by the bot's own account */
	EVENT_TAG_HISTORY = 1u << 5,  /* "history": chatMsg before the first userlist of a join */
	EVENT_TAG_PRIVATE = 1u << 6,  /* "private": pm */
	EVENT_TAG_USER = 1u << 7,     /* "user": user list and rank events */
	EVENT_TAG_PRESENCE = 1u << 8, /* "presence": same set as user */
	EVENT_TAG_MEDIA = 1u << 9,    /* "media": playback and playlist */
	EVENT_TAG_CHANGE = 1u << 10,  /* "change": changeMedia, setCurrent */
	EVENT_TAG_QUEUE = 1u << 11,   /* "queue": playlist edits */
	EVENT_TAG_UPDATE = 1u << 12,  /* "update": mediaUpdate */
	EVENT_TAG_SYSTEM = 1u << 13,  /* "system": kicks, errors, control, dazd:* */
	EVENT_TAG_CONNECTION = 1u << 14, /* "connection": same set as system */
	EVENT_TAG_UNKNOWN = 1u << 15,    /* "unknown": any other event type */
};
#define EVENT_N_TAGS 16

#define EVENT_NO_TIME  INT64_MIN /* server_time_ms when the payload has no "time" */
#define EVENT_ROOM_MAX 64        /* room key length limit (interfaces.md) */
#define EVENT_TYPE_MAX 128       /* longer event names are cut (and tagged unknown) */

/*
 * One event. Allocated in a single block (strings inside it): free with event_free. All string
 * pointers are owned by the event.
 */
struct event {
	uint8_t id[16];         /* UUIDv7 */
	int64_t received_us;    /* dazd's clock, unix microseconds */
	int64_t server_time_ms; /* CyTube "time" (unix ms) or EVENT_NO_TIME */
	uint32_t tags;          /* EVENT_TAG_* bits */
	const char *room;       /* room key */
	const char *type;       /* event name, e.g. "chatMsg", "dazd:connected" */
	const char *actor;      /* user the event is about/from, NULL if none */
	const char *payload;    /* compact JSON text, NULL when the frame carried no payload */
	size_t payload_len;     /* strlen(payload), 0 when NULL */
};

/*
 * Per-connection mapping state. room, bot name and prefix are copied in. Reset (history
 * detection starts again) with event_mapper_reset on every new connection.
 */
struct event_mapper {
	char room[EVENT_ROOM_MAX + 1];
	char bot_name[64];      /* the bot's username, compared case-insensitively ("" = none) */
	char prefix[16];        /* command prefix, "" disables the command tag */
	char prefix_html[96];   /* prefix as CyTube escapes it (& < >) */
	bool seen_userlist;     /* first userlist of this join seen: no more history */
	struct uuid_gen *uuids; /* borrowed; shared by all mappers */
};

void event_mapper_init(struct event_mapper *m, const char *room, const char *bot_name,
                       const char *prefix, struct uuid_gen *uuids);
void event_mapper_reset(struct event_mapper *m); /* new connection */
void event_mapper_set_prefix(struct event_mapper *m, const char *prefix);
void event_mapper_set_bot_name(struct event_mapper *m, const char *bot_name);

/*
 * Map a decoded SIO_EVENT packet (borrowed) to a new event (caller frees with event_free).
 * Returns NULL for packets that are not events or when out of memory. Updates history state.
 */
struct event *event_from_packet(struct event_mapper *m, const struct sio_packet *p,
                                int64_t received_us);

/*
 * dazd's own pseudo-event ("dazd:connected", "dazd:disconnected"), tagged system+connection;
 * payload_json (borrowed, may be NULL) must be valid JSON. Caller frees with event_free.
 */
struct event *event_pseudo(struct event_mapper *m, const char *type, const char *payload_json,
                           int64_t received_us);

/*
 * Build an event from its parts (used by the spool reader). Strings are copied; actor and
 * payload may be NULL. Caller frees with event_free. NULL when out of memory.
 */
struct event *event_new(const uint8_t id[16], int64_t received_us, int64_t server_time_ms,
                        uint32_t tags, const char *room, const char *type, const char *actor,
                        const char *payload);

void event_free(struct event *ev); /* event_free(NULL) is a no-op */

/* Bytes of memory the event holds (its block plus the allocator's per-block overhead). */
size_t event_mem_size(const struct event *ev);

/* Name of one tag bit ("chat", "user-message", ...), NULL for a bit outside the vocabulary. */
const char *event_tag_name(uint32_t bit);

/* Tag bits of an event type, without the message-dependent ones (command, action, bot, history). */
uint32_t event_type_tags(const char *type);

/*
 * Tags as a PostgreSQL array literal, room tag first: {"room:lobby","chat","user-message"}.
 * Writes at most buflen bytes (terminated); returns the length needed, like snprintf.
 */
size_t event_tags_pg_array(const struct event *ev, char *buf, size_t buflen);

/* Tags as strings: out[0] = "room:<room>" written into roomtag (size EVENT_ROOM_MAX + 6), then
 * static tag names. Returns how many were written (at most cap). */
size_t event_tags_list(const struct event *ev, char *roomtag, const char **out, size_t cap);

/* ---- Echo matching for the outbox ------------------------------------------------------- */

/* HTML-escape as CyTube does for chat text: only & < > (quotes untouched). Caller frees. */
char *event_html_escape(const char *text);

/*
 * What CyTube does to an outgoing chat/pm text before broadcasting it (apart from escaping and
 * link wrapping): cut to max_units UTF-16 code units (JavaScript string length), then every
 * control character (U+0000–U+001F, U+007F–U+009F) becomes a space. Caller frees.
 */
char *event_normalize_outgoing(const char *text, size_t max_units);

/*
 * true when a chatMsg/pm echo's msg (HTML as received, borrowed) is the text the bot sent
 * (raw, as in the job, borrowed): compares after normalising the sent text, removing a leading
 * "/me " (echoed as an action) and undoing CyTube's escaping and <a href> wrapping in the echo.
 */
bool event_echo_matches(const char *sent_text, const char *echo_msg, size_t max_units);

#endif

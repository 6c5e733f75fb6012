/* room.h — per-room state: identity, configuration, connection state, counters. */
#ifndef DAZD_ROOM_H
#define DAZD_ROOM_H

#include <stdbool.h>
#include <stdint.h>

struct dazd;
struct ws_conn;
struct cfg_room;

enum room_state {
	ROOM_OFFLINE = 0,      /* not connected and not trying (disabled, standby, stopping) */
	ROOM_CONNECTING = 1,   /* discovery, WebSocket, Socket.IO handshake, join, login */
	ROOM_JOINED = 2,       /* joined the channel and logged in: events flow, sends allowed */
	ROOM_BACKOFF = 3,      /* waiting to reconnect */
	ROOM_OPEN_CIRCUIT = 4, /* circuit breaker open: waiting for the next probe */
};

/* "offline" | "connecting" | "joined" | "backoff" | "open-circuit" (the daz.rooms values). */
const char *room_state_name(enum room_state s);

struct room {
	struct room *next;
	struct dazd *d;

	/* Identity and settings, copied from the config (owned). */
	char *name; /* key: rooms[].name or channel */
	char *site; /* "https://cytu.be" */
	char *channel;
	char *username;
	char *password;    /* resolved secret or NULL for a guest; never logged */
	char *tls_ca_file; /* NULL: system CAs */
	bool enabled;
	const struct cfg_room *cfg; /* the running config's entry (borrowed; updated on reload) */

	/* State. */
	enum room_state state;
	bool standby;  /* not connecting: waiting for a lease (see dazd.rooms_need_lease) */
	bool removing; /* removed by a reload: closing, then freed */
	int64_t connected_since_us; /* wall clock when joined, 0 when not joined */
	int64_t last_event_us;      /* wall clock of the last inbound event */
	unsigned long reconnects;
	char last_error[256];
	double rank;        /* the bot's rank from the last "rank" event, -1 before */
	bool logged_in;     /* login {success:true} seen on this connection */
	bool seen_userlist; /* first userlist of this join seen (history boundary) */

	struct ws_conn *ws; /* ws.c private */
	void *outbox;       /* outbox.c per-room state (NULL if absent) */
};

/* Find a room by name; NULL if unknown. Borrowed. */
struct room *room_find(struct dazd *d, const char *name);

/* Count of rooms, and of enabled rooms that are joined (for /readyz). */
unsigned room_count(const struct dazd *d);
bool room_all_joined(const struct dazd *d);

/* Change state: logs, updates metrics, reports to the database (daz.room_state) and runs the
 * ws state hooks. error may be NULL (keeps last_error). */
void room_set_state(struct room *r, enum room_state s, const char *error);

/* Write every room's state to the database again (after a reconnect). */
void room_report_all(struct dazd *d);

/* Lease gate (outbox.c): standby rooms disconnect and do not reconnect until released. */
void room_set_standby(struct room *r, bool standby);

/* Build rooms from d->cfg at start; apply a new config on reload (add/remove/reconnect). */
int room_start_all(struct dazd *d) __attribute__((warn_unused_result));
void room_apply_config(struct dazd *d);

/* Close every room with a close frame (shutdown). */
void room_stop_all(struct dazd *d, const char *why);
/* True when no room has an open socket. */
bool room_all_closed(const struct dazd *d);

/*
 * The time of the last event of every room that had one, for daz.heartbeat's p_event_rooms and
 * p_event_at: two array literals of the same length ({"lobby"} and
 * {"2026-01-01T12:00:00.000000Z"}), caller frees both. -1 when out of memory (both NULL).
 */
int room_event_times(struct dazd *d, char **rooms, char **times);

/* Heartbeat timer: daz.heartbeat every few seconds when the function exists. */
void room_heartbeat_start(struct dazd *d);

/* Free every room (after the loop ended). */
void room_free_all(struct dazd *d);

#endif

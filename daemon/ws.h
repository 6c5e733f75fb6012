/* ws.h — CyTube connection per room: discovery, WebSocket, Engine.IO/Socket.IO, reconnect. */
#ifndef DAZD_WS_H
#define DAZD_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "room.h"

struct dazd;
struct json_object;
struct lws_protocols;

/*
 * Every inbound Socket.IO event of every room, after it was handed to ingest: type is the event
 * name ("chatMsg", "cooldown", …); args is the first argument (borrowed, NULL when the event
 * has none); received_us is the wall clock when the frame arrived. Hooks must not close the
 * room's connection synchronously (use ws_room_reconnect, which is deferred).
 */
typedef void (*ws_event_hook)(struct room *r, const char *type, struct json_object *args,
                              int64_t received_us, void *arg);

/* A room changed state (see room.h). Called after r->state was updated. */
typedef void (*ws_state_hook)(struct room *r, enum room_state old_state, enum room_state new_state,
                              void *arg);

int ws_add_event_hook(struct dazd *d, ws_event_hook fn, void *arg)
    __attribute__((warn_unused_result));
int ws_add_state_hook(struct dazd *d, ws_state_hook fn, void *arg)
    __attribute__((warn_unused_result));

/* Unregister a hook added with the same fn and arg (no-op when absent). */
void ws_remove_event_hook(struct dazd *d, ws_event_hook fn, void *arg);
void ws_remove_state_hook(struct dazd *d, ws_state_hook fn, void *arg);

/* Joined (state ROOM_JOINED and the socket is open): sends are allowed. */
bool ws_room_joined(const struct room *r);

/*
 * Send 42["event",payload] on the room's socket (payload borrowed; NULL sends 42["event"]).
 * The frame is queued and written when the socket is writeable, in order. -1 when the room
 * is not joined or the frame is larger than the server's maxPayload.
 */
int ws_send_event(struct room *r, const char *event, struct json_object *payload)
    __attribute__((warn_unused_result));

/* Send one already-encoded Engine.IO text packet (e.g. "42[...]"). Same rules as above. */
int ws_send_text(struct room *r, const char *text, size_t len) __attribute__((warn_unused_result));

/* Frames queued but not yet written. */
size_t ws_send_queue_len(const struct room *r);

/* Start connecting now (if enabled, not standby, not already connecting/joined). */
void ws_room_start(struct room *r);
/* Close with a close frame and stay offline. why is logged. */
void ws_room_stop(struct room *r, const char *why);
/* Close and reconnect at once (config change, partitionChange). Deferred to the loop. */
void ws_room_reconnect(struct room *r, const char *why);
/* True when the room has no socket or HTTP request open. */
bool ws_room_closed(const struct room *r);
/* Free ws state (after the loop ended or the room is closed). */
void ws_room_free(struct room *r);

/* Circuit breaker state for metrics: 0 closed, 1 half-open, 2 open. */
int ws_room_circuit(const struct room *r);

/* Stop reading from every room socket (drain). */
void ws_pause_rx_all(struct dazd *d);

/* lws protocol used for both the socketconfig HTTP client and the WebSocket client. */
extern const struct lws_protocols ws_lws_protocol;

#endif

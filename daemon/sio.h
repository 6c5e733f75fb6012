/* sio.h — Engine.IO v4 / Socket.IO v5 codec and connection phase machine (pure, no I/O). */
#ifndef DAZ_SIO_H
#define DAZ_SIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

#define SIO_MAX_DEPTH          64      /* deepest JSON nesting accepted in a frame */
#define SIO_DEFAULT_MAXPAYLOAD 1048576 /* frame limit until the open packet says otherwise */
#define SIO_HANDSHAKE_MS       20000   /* time allowed for 0{..} and then 40{..} to arrive */
#define SIO_FRAME_CONNECT      "40"    /* Socket.IO connect to the default namespace */
#define SIO_FRAME_PONG         "3"     /* Engine.IO pong (answer to the server's "2") */

/* What a decoded frame is. */
enum sio_kind {
	SIO_EIO_OPEN,      /* "0{...}": Engine.IO handshake, see sio_packet.open */
	SIO_EIO_CLOSE,     /* "1": Engine.IO close */
	SIO_EIO_PING,      /* "2": server ping, answer SIO_FRAME_PONG */
	SIO_EIO_PONG,      /* "3": pong (unexpected from a v4 server, harmless) */
	SIO_EIO_NOOP,      /* "6" */
	SIO_CONNECT,       /* "40" / "40{...}": namespace connected */
	SIO_DISCONNECT,    /* "41": server disconnected us (after a kick); close the socket */
	SIO_EVENT,         /* "42[...]": event, see name / payload */
	SIO_ACK,           /* "43<id>[...]": ack of one of our emits */
	SIO_CONNECT_ERROR, /* "44{...}": connection refused, message in payload */
};

/* Why a frame was rejected; also the metric label (sio_reject_name). */
enum sio_result {
	SIO_OK = 0,          /* decoded */
	SIO_REJECT_EMPTY,    /* zero-length frame */
	SIO_REJECT_BINARY,   /* binary frame or a NUL byte / invalid UTF-8 in a text frame */
	SIO_REJECT_OVERSIZE, /* longer than maxPayload */
	SIO_REJECT_TYPE,     /* unknown Engine.IO or Socket.IO packet type (incl. binary 45/46) */
	SIO_REJECT_JSON,     /* body is not valid JSON */
	SIO_REJECT_DEPTH,    /* JSON nested deeper than SIO_MAX_DEPTH */
	SIO_REJECT_SHAPE, /* valid JSON of the wrong shape (e.g. 42{}, 42[1], open without sid) */
};

struct sio_open {
	char sid[64];             /* Engine.IO session id (truncated copy) */
	int64_t ping_interval_ms; /* server ping period */
	int64_t ping_timeout_ms;  /* grace after a missed ping */
	int64_t max_payload;      /* largest frame the server accepts and sends */
};

/*
 * A decoded frame. Fill it with sio_decode and release it with sio_packet_clear; every pointer in
 * it is borrowed from the packet and valid until then.
 */
struct sio_packet {
	enum sio_kind kind;
	struct sio_open open; /* SIO_EIO_OPEN only */
	char nsp[64];         /* namespace, "/" unless the frame named one ("42/admin,[...]") */
	int64_t ack_id;       /* "42<id>[" / "43<id>[", -1 when absent */
	const char *name;     /* SIO_EVENT: event name (first array element) */
	struct json_object *payload; /* SIO_EVENT/ACK: first argument after the name (NULL if none,
	                              * or a JSON array holding all of them when there are several);
	                              * SIO_CONNECT/CONNECT_ERROR: the object, NULL if none */
	size_t n_args;               /* SIO_EVENT: arguments after the name */
	struct json_object *root;    /* the parsed JSON body (owned; NULL if none) */
	struct json_object *args;    /* owned: array behind payload when n_args > 1, else NULL */
};

/*
 * Decode one WebSocket text frame (buf borrowed, need not be NUL-terminated). max_payload bounds
 * len (0 = SIO_DEFAULT_MAXPAYLOAD). On SIO_OK, *p must be released with sio_packet_clear; on a
 * rejection *p holds nothing to release (calling sio_packet_clear is still safe) and err (may be
 * NULL) says why in one line.
 */
enum sio_result sio_decode(const char *buf, size_t len, size_t max_payload, struct sio_packet *p,
                           char *err, size_t errlen) __attribute__((warn_unused_result));

/* Release what sio_decode put in p (safe on a zeroed or already cleared packet). */
void sio_packet_clear(struct sio_packet *p);

const char *sio_reject_name(enum sio_result r); /* "empty", "binary", "oversize", ... */
const char *sio_kind_name(enum sio_kind k);

/*
 * Encode 42["name",payload] (payload NULL: 42["name"]). The frame is returned in a new buffer
 * with `pre` unused bytes in front (for LWS_PRE): frame = ret + pre, *len = its length (without
 * the terminating NUL that follows it). Caller frees ret. NULL on out of memory or a name that is
 * empty. payload is borrowed.
 */
char *sio_encode_event(const char *name, struct json_object *payload, size_t pre, size_t *len);

/* 42["chatMsg",{"msg":msg,"meta":{}}], same buffer contract as sio_encode_event. */
char *sio_encode_chat(const char *msg, size_t pre, size_t *len);

/* 42["pm",{"to":to,"msg":msg,"meta":{}}], same buffer contract as sio_encode_event. */
char *sio_encode_pm(const char *to, const char *msg, size_t pre, size_t *len);

/* ---- Connection phases ------------------------------------------------------------------ */

enum sio_phase {
	SIO_PHASE_WAIT_OPEN,    /* socket up, waiting for "0{...}" */
	SIO_PHASE_WAIT_CONNECT, /* "40" sent, waiting for "40{...}"; no 42 may be sent yet */
	SIO_PHASE_CONNECTED,    /* events may flow both ways */
	SIO_PHASE_CLOSED,       /* peer closed, refused or broke protocol: close the socket */
};

/* Actions returned by sio_conn_on_packet (bit set). */
#define SIO_ACT_SEND_CONNECT 0x01u /* write SIO_FRAME_CONNECT */
#define SIO_ACT_SEND_PONG    0x02u /* write SIO_FRAME_PONG */
#define SIO_ACT_CONNECTED    0x04u /* just reached CONNECTED: send joinChannel / login now */
#define SIO_ACT_DELIVER      0x08u /* an event (SIO_EVENT) to map and store */
#define SIO_ACT_CLOSE        0x10u /* close the WebSocket; why says the reason */

/* Per-connection state. Plain struct, no allocation; zero it with sio_conn_init. */
struct sio_conn {
	enum sio_phase phase;
	int64_t started_ms;       /* when the socket came up */
	int64_t last_rx_ms;       /* last packet of any kind */
	int64_t ping_interval_ms; /* from the open packet (0 before) */
	int64_t ping_timeout_ms;
	int64_t max_payload; /* from the open packet (SIO_DEFAULT_MAXPAYLOAD before) */
	char sid[64];
};

void sio_conn_init(struct sio_conn *c, int64_t now_ms);

/* Feed a decoded packet; returns SIO_ACT_* bits. why (may be NULL) explains SIO_ACT_CLOSE. */
unsigned sio_conn_on_packet(struct sio_conn *c, const struct sio_packet *p, int64_t now_ms,
                            char *why, size_t whylen);

/* Absolute time (ms) after which the peer counts as dead: handshake deadline before CONNECTED,
 * then last_rx + pingInterval + pingTimeout. Arm a timer for it after every packet. */
int64_t sio_conn_deadline_ms(const struct sio_conn *c);

/* true when now_ms is past sio_conn_deadline_ms. */
bool sio_conn_expired(const struct sio_conn *c, int64_t now_ms);

/* true when 42 frames may be sent (phase CONNECTED). */
bool sio_conn_may_send(const struct sio_conn *c);

/* Frame size limit to pass to sio_decode for this connection. */
size_t sio_conn_max_payload(const struct sio_conn *c);

const char *sio_phase_name(enum sio_phase ph);

#endif

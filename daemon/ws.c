/* ws.c — CyTube connection per room: discovery, WebSocket, Engine.IO/Socket.IO, reconnect. */
#include "ws.h"

#include <json-c/json.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "cfg.h"
#include "dazd.h"
#include "event.h"
#include "ingest.h"
#include "log.h"
#include "metrics.h"
#include "sio.h"

#define WS_DISCOVERY_BODY_MAX (64 * 1024) /* socketconfig answers are ~100 bytes */
#define WS_ATTEMPT_TIMEOUT_MS 30000       /* discovery + connect + Socket.IO handshake */
#define WS_RX_BUFFER          65536
#define WS_OUT_MAX            4096 /* queued frames per room before sends are refused */
#define WS_PATH               "/socket.io/?EIO=4&transport=websocket"
#define WS_PROTOCOL_NAME      "dazd-cytube"

enum ws_step {
	WS_IDLE = 0,      /* no socket, no request */
	WS_DISCOVERY = 1, /* GET /socketconfig/<channel>.json */
	WS_OPENING = 2,   /* WebSocket connect in progress */
	WS_OPEN = 3,      /* WebSocket established */
};

struct ws_frame {
	struct ws_frame *next;
	char *buf; /* LWS_PRE bytes, then the frame */
	size_t len;
};

struct ws_conn {
	struct room *r;
	enum ws_step step;
	struct lws *http_wsi;
	struct lws *wsi;

	/* discovery */
	char *body;
	size_t body_len;
	int http_status;
	json_object *partition_servers; /* from partitionChange: skip discovery once */

	/* chosen server */
	char server_url[512];

	/* receive */
	char *rx;
	size_t rx_len, rx_cap;
	bool rx_overflow;
	bool rx_paused;

	struct sio_conn sio;
	struct event_mapper mapper;
	bool announced; /* dazd:connected emitted for this socket */

	/* send */
	struct ws_frame *out_head, *out_tail;
	size_t out_n;
	bool close_requested;
	char close_why[200];

	/* reconnect policy */
	struct backoff bo;
	struct breaker br;
	bool joined_this_attempt;
	bool next_scheduled; /* this attempt's end was handled (guards double reports) */
	bool reconnect_now;
	bool stop_requested;   /* ws_room_stop: stay offline after closing */
	char last_reason[256]; /* last kick / errorMsg / 44, logged at close */
	unsigned attempt;
	bool login_pending_retry;

	lws_sorted_usec_list_t sul_retry; /* next connect attempt */
	lws_sorted_usec_list_t sul_dead;  /* attempt timeout, then dead-peer deadline */
	lws_sorted_usec_list_t sul_login; /* login retry after a failure */
};

/* ---- hooks ------------------------------------------------------------------------------ */

static struct {
	ws_event_hook fn;
	void *arg;
} event_hooks[DAZD_MAX_HOOKS];
static struct {
	ws_state_hook fn;
	void *arg;
} state_hooks[DAZD_MAX_HOOKS];
static int n_event_hooks, n_state_hooks;
static struct uuid_gen uuids;
static bool uuids_ready;

int ws_add_event_hook(struct dazd *d, ws_event_hook fn, void *arg)
{
	(void)d;
	return DAZD_HOOK_ADD(event_hooks, n_event_hooks, fn, arg);
}

int ws_add_state_hook(struct dazd *d, ws_state_hook fn, void *arg)
{
	(void)d;
	return DAZD_HOOK_ADD(state_hooks, n_state_hooks, fn, arg);
}

void ws_remove_event_hook(struct dazd *d, ws_event_hook fn, void *arg)
{
	(void)d;
	DAZD_HOOK_REMOVE(event_hooks, n_event_hooks, fn, arg);
}

void ws_remove_state_hook(struct dazd *d, ws_state_hook fn, void *arg)
{
	(void)d;
	DAZD_HOOK_REMOVE(state_hooks, n_state_hooks, fn, arg);
}

/* room.c calls this from room_set_state. */
void ws_run_state_hooks(struct room *r, enum room_state old_state, enum room_state new_state);
void ws_run_state_hooks(struct room *r, enum room_state old_state, enum room_state new_state)
{
	for (int i = 0; i < n_state_hooks; i++)
		state_hooks[i].fn(r, old_state, new_state, state_hooks[i].arg);
}

/* ---- small helpers ---------------------------------------------------------------------- */

static int64_t now_ms(void)
{
	return dazd_mono_us() / 1000;
}

static struct ws_conn *conn_of(struct room *r)
{
	struct ws_conn *c = r->ws;

	if (c)
		return c;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->r = r;
	if (!uuids_ready) {
		uuid_gen_init(&uuids, NULL, NULL);
		uuids_ready = true;
	}
	backoff_init(&c->bo, BACKOFF_BASE_MS, BACKOFF_CAP_MS, BACKOFF_KICK_MS, BACKOFF_FULL,
	             (uint64_t)dazd_mono_us() ^ ((uint64_t)(uintptr_t)c << 7));
	breaker_init(&c->br, BREAKER_THRESHOLD, BREAKER_OPEN_MS, BREAKER_MAX_OPEN_MS);
	event_mapper_init(&c->mapper, r->name, r->username, "!", &uuids);
	r->ws = c;
	return c;
}

static void frames_free(struct ws_conn *c)
{
	struct ws_frame *f = c->out_head, *n;

	for (; f; f = n) {
		n = f->next;
		free(f->buf);
		free(f);
	}
	c->out_head = c->out_tail = NULL;
	c->out_n = 0;
}

/* Queue an encoded frame (buf has LWS_PRE in front; ownership taken). */
static int queue_frame(struct ws_conn *c, char *buf, size_t len)
{
	struct ws_frame *f;

	if (!c->wsi || c->step != WS_OPEN || c->out_n >= WS_OUT_MAX) {
		free(buf);
		return -1;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		free(buf);
		return -1;
	}
	f->buf = buf;
	f->len = len;
	if (c->out_tail)
		c->out_tail->next = f;
	else
		c->out_head = f;
	c->out_tail = f;
	c->out_n++;
	lws_callback_on_writable(c->wsi);
	return 0;
}

static int queue_text(struct ws_conn *c, const char *text, size_t len)
{
	char *buf = malloc(LWS_PRE + len + 1);

	if (!buf)
		return -1;
	memcpy(buf + LWS_PRE, text, len);
	buf[LWS_PRE + len] = '\0';
	return queue_frame(c, buf, len);
}

static int queue_event(struct ws_conn *c, const char *name, json_object *payload)
{
	size_t len;
	char *buf = sio_encode_event(name, payload, LWS_PRE, &len);

	if (!buf)
		return -1;
	return queue_frame(c, buf, len);
}

static void push_event(struct room *r, struct event *ev)
{
	char labels[256];

	if (!ev)
		return;
	metrics_add(r->d->metrics, "dazd_events_received_total",
	            metrics_labels(labels, sizeof(labels), "room", r->name, "type", ev->type, NULL),
	            1);
	r->last_event_us = ev->received_us;
	ingest_push(r->d->ingest, ev);
}

static void pseudo_event(struct ws_conn *c, const char *type, const char *key, const char *val)
{
	json_object *o = json_object_new_object();
	const char *js;

	if (!o)
		return;
	json_object_object_add(o, key, json_object_new_string(val));
	json_object_object_add(o, "attempt", json_object_new_int((int)c->attempt));
	js = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	push_event(c->r, event_pseudo(&c->mapper, type, js, dazd_wall_us()));
	json_object_put(o);
}

/* ---- scheduling attempts ---------------------------------------------------------------- */

static void start_attempt(struct ws_conn *c);

static void retry_cb(lws_sorted_usec_list_t *sul)
{
	struct ws_conn *c = lws_container_of(sul, struct ws_conn, sul_retry);

	start_attempt(c);
}

static bool may_connect(const struct room *r)
{
	return r->enabled && !r->standby && !r->removing && r->d->phase == DAZD_RUNNING &&
	       !(r->ws && r->ws->stop_requested);
}

static void set_circuit_metric(struct ws_conn *c)
{
	char labels[160];

	metrics_set(c->r->d->metrics, "dazd_room_circuit_state",
	            metrics_labels(labels, sizeof(labels), "room", c->r->name, NULL),
	            ws_room_circuit(c->r));
}

/* The socket (or request) is gone: decide when to try again. */
static void schedule_next(struct ws_conn *c, const char *why)
{
	struct room *r = c->r;
	int64_t delay_ms, t = now_ms();
	char err[300];

	if (c->next_scheduled)
		return;
	c->next_scheduled = true;
	lws_sul_cancel(&c->sul_dead);
	lws_sul_cancel(&c->sul_login);
	if (!may_connect(r)) {
		room_set_state(r, ROOM_OFFLINE, why);
		dazd_check_drained(r->d);
		return;
	}
	if (!c->joined_this_attempt)
		breaker_failure(&c->br, t);
	set_circuit_metric(c);
	if (c->reconnect_now) {
		c->reconnect_now = false;
		delay_ms = 0;
	} else {
		delay_ms = backoff_next_ms(&c->bo);
	}
	if (c->br.state == BREAKER_OPEN) {
		int64_t at = breaker_retry_at_ms(&c->br, t);
		if (at - t > delay_ms)
			delay_ms = at - t;
		snprintf(err, sizeof(err), "%s (circuit open)", why);
		log_warn(r->name, "%s; circuit open after %u failures, next probe in %lld ms", why,
		         c->br.failures, (long long)delay_ms);
		room_set_state(r, ROOM_OPEN_CIRCUIT, err);
	} else {
		log_info(r->name, "%s; reconnecting in %lld ms", why, (long long)delay_ms);
		room_set_state(r, ROOM_BACKOFF, why);
	}
	lws_sul_schedule(r->d->lws, 0, &c->sul_retry, retry_cb, delay_ms * LWS_US_PER_MS);
}

static void attempt_timeout_cb(lws_sorted_usec_list_t *sul);

/* Close whatever is open without a handshake (timeouts, dead peers): the close callbacks run. */
static void kill_wsi(struct lws *wsi)
{
	if (wsi)
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static void arm_deadline(struct ws_conn *c)
{
	int64_t dl = sio_conn_deadline_ms(&c->sio), t = now_ms();

	if (dl < t)
		dl = t;
	lws_sul_schedule(c->r->d->lws, 0, &c->sul_dead, attempt_timeout_cb,
	                 (dl - t + 1) * LWS_US_PER_MS);
}

static void attempt_timeout_cb(lws_sorted_usec_list_t *sul)
{
	struct ws_conn *c = lws_container_of(sul, struct ws_conn, sul_dead);
	int64_t t = now_ms();

	if (c->step == WS_OPEN && !sio_conn_expired(&c->sio, t)) {
		arm_deadline(c);
		return;
	}
	if (c->step == WS_OPEN) {
		snprintf(c->last_reason, sizeof(c->last_reason),
		         "dead peer: no packet for %lld ms (pingInterval %lld + pingTimeout %lld)",
		         (long long)(t - c->sio.last_rx_ms), (long long)c->sio.ping_interval_ms,
		         (long long)c->sio.ping_timeout_ms);
		log_warn(c->r->name, "%s", c->last_reason);
		kill_wsi(c->wsi);
	} else if (c->step == WS_OPENING || c->step == WS_DISCOVERY) {
		snprintf(c->last_reason, sizeof(c->last_reason), "connect timed out after %d ms",
		         WS_ATTEMPT_TIMEOUT_MS);
		log_warn(c->r->name, "%s", c->last_reason);
		kill_wsi(c->step == WS_DISCOVERY ? c->http_wsi : c->wsi);
	}
}

/* Client TLS vhost for a room's CA file (created once per file), or the default vhost. */
static struct lws_vhost *vhost_for(struct room *r)
{
	struct lws_context_creation_info info;
	struct lws_vhost *vh;
	char name[600];

	if (!r->tls_ca_file)
		return r->d->vhost;
	snprintf(name, sizeof(name), "ca:%s", r->tls_ca_file);
	vh = lws_get_vhost_by_name(r->d->lws, name);
	if (vh)
		return vh;
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.vhost_name = strdup(name); /* lws keeps the pointer */
	info.client_ssl_ca_filepath = r->tls_ca_file;
	info.protocols = r->d->vhost_protocols;
	vh = lws_create_vhost(r->d->lws, &info);
	if (!vh)
		log_error(r->name, "cannot load tls_ca_file %s", r->tls_ca_file);
	return vh;
}

static int connect_url(struct ws_conn *c, const char *url, bool discovery)
{
	struct room *r = c->r;
	struct lws_client_connect_info i;
	char tmp[600], path[700];
	const char *prot, *ads, *p;
	int port;
	bool secure;

	snprintf(tmp, sizeof(tmp), "%s", url);
	if (lws_parse_uri(tmp, &prot, &ads, &port, &p) != 0 || !*ads) {
		snprintf(c->last_reason, sizeof(c->last_reason), "bad server URL \"%s\"", url);
		return -1;
	}
	secure = strcmp(prot, "https") == 0 || strcmp(prot, "wss") == 0;
	if (!secure && strcmp(prot, "http") != 0 && strcmp(prot, "ws") != 0) {
		snprintf(c->last_reason, sizeof(c->last_reason), "unsupported scheme in \"%s\"",
		         url);
		return -1;
	}
	memset(&i, 0, sizeof(i));
	i.context = r->d->lws;
	i.vhost = vhost_for(r);
	if (!i.vhost) {
		snprintf(c->last_reason, sizeof(c->last_reason), "cannot load tls_ca_file");
		return -1;
	}
	i.address = ads;
	i.port = port;
	i.host = ads;
	i.origin = ads;
	i.ssl_connection = secure ? LCCSCF_USE_SSL : 0;
	i.local_protocol_name = WS_PROTOCOL_NAME;
	i.opaque_user_data = c;
	if (discovery) {
		/* p is the site's path without its leading '/'. */
		size_t pl = strlen(p);
		while (pl && p[pl - 1] == '/')
			pl--;
		snprintf(path, sizeof(path), "%s%.*s/socketconfig/%s.json", pl ? "/" : "", (int)pl,
		         p, r->channel);
		i.path = path;
		i.method = "GET";
		i.pwsi = &c->http_wsi;
		c->step = WS_DISCOVERY;
		c->body_len = 0;
		c->http_status = 0;
		log_debug(r->name, "discovery: GET %s://%s:%d%s", prot, ads, port, path);
	} else {
		i.path = WS_PATH;
		i.pwsi = &c->wsi;
		c->step = WS_OPENING;
		snprintf(c->server_url, sizeof(c->server_url), "%s", url);
		log_info(r->name, "connecting to %s://%s:%d%s", secure ? "wss" : "ws", ads, port,
		         WS_PATH);
	}
	if (!lws_client_connect_via_info(&i)) {
		c->step = WS_IDLE;
		snprintf(c->last_reason, sizeof(c->last_reason), "cannot start a connection to %s",
		         url);
		return -1;
	}
	return 0;
}

/* Pick a server from a socketconfig "servers" array: secure first. Returns its url or NULL. */
static const char *pick_server(json_object *servers, bool want_secure)
{
	const char *fallback = NULL;
	size_t n;

	if (!servers || !json_object_is_type(servers, json_type_array))
		return NULL;
	n = json_object_array_length(servers);
	for (size_t k = 0; k < n && k < 64; k++) {
		json_object *s = json_object_array_get_idx(servers, k), *u, *sec;
		const char *url;
		if (!json_object_is_type(s, json_type_object) ||
		    !json_object_object_get_ex(s, "url", &u) ||
		    !json_object_is_type(u, json_type_string))
			continue;
		url = json_object_get_string(u);
		if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
			continue;
		bool secure =
		    json_object_object_get_ex(s, "secure", &sec) && json_object_get_boolean(sec);
		if (secure == want_secure)
			return url;
		if (!fallback)
			fallback = url;
	}
	return fallback;
}

static void attempt_failed(struct ws_conn *c)
{
	c->step = WS_IDLE;
	schedule_next(c, c->last_reason[0] ? c->last_reason : "connect failed");
}

static void start_attempt(struct ws_conn *c)
{
	struct room *r = c->r;
	int64_t t = now_ms();

	lws_sul_cancel(&c->sul_retry);
	if (c->step != WS_IDLE)
		return;
	if (!may_connect(r)) {
		room_set_state(r, ROOM_OFFLINE, NULL);
		return;
	}
	if (!breaker_allow(&c->br, t)) {
		int64_t at = breaker_retry_at_ms(&c->br, t);
		room_set_state(r, ROOM_OPEN_CIRCUIT, NULL);
		lws_sul_schedule(r->d->lws, 0, &c->sul_retry, retry_cb,
		                 (at - t + 1) * LWS_US_PER_MS);
		return;
	}
	set_circuit_metric(c);
	c->attempt++;
	if (c->attempt > 1) {
		char labels[160];
		r->reconnects++;
		metrics_add(r->d->metrics, "dazd_room_reconnects_total",
		            metrics_labels(labels, sizeof(labels), "room", r->name, NULL), 1);
	}
	c->joined_this_attempt = false;
	c->next_scheduled = false;
	c->last_reason[0] = '\0';
	c->close_requested = false;
	c->announced = false;
	r->logged_in = false;
	r->seen_userlist = false;
	room_set_state(r, ROOM_CONNECTING, NULL);
	lws_sul_schedule(r->d->lws, 0, &c->sul_dead, attempt_timeout_cb,
	                 (lws_usec_t)WS_ATTEMPT_TIMEOUT_MS * LWS_US_PER_MS);

	if (c->partition_servers) {
		/* partitionChange gave the servers: use them directly, once. */
		const char *url = pick_server(c->partition_servers, true);
		int rc = url ? connect_url(c, url, false) : -1;
		json_object_put(c->partition_servers);
		c->partition_servers = NULL;
		if (rc == 0)
			return;
	}
	if (connect_url(c, r->site, true) != 0)
		attempt_failed(c);
}

/* ---- discovery -------------------------------------------------------------------------- */

static void discovery_done(struct ws_conn *c)
{
	json_object *root = NULL, *servers;
	const char *url;
	bool site_secure = strncmp(c->r->site, "https:", 6) == 0;

	if (c->http_status != 200) {
		snprintf(c->last_reason, sizeof(c->last_reason), "socketconfig: HTTP %d%s%.*s",
		         c->http_status, c->body_len ? ": " : "",
		         (int)(c->body_len > 120 ? 120 : c->body_len), c->body ? c->body : "");
		return;
	}
	root = json_tokener_parse(c->body ? c->body : "");
	if (!root || !json_object_object_get_ex(root, "servers", &servers) ||
	    !(url = pick_server(servers, true))) {
		snprintf(c->last_reason, sizeof(c->last_reason),
		         "socketconfig: no usable server in the answer");
		json_object_put(root);
		return;
	}
	(void)site_secure;
	if (connect_url(c, url, false) != 0)
		c->step = WS_IDLE;
	json_object_put(root);
}

/* ---- inbound ---------------------------------------------------------------------------- */

static void send_login(struct ws_conn *c)
{
	struct room *r = c->r;
	json_object *o = json_object_new_object();

	if (!o)
		return;
	json_object_object_add(o, "name", json_object_new_string(r->username));
	if (r->password && r->password[0])
		json_object_object_add(o, "pw", json_object_new_string(r->password));
	if (queue_event(c, "login", o) != 0)
		log_warn(r->name, "cannot queue login");
	json_object_put(o);
}

static void login_retry_cb(lws_sorted_usec_list_t *sul)
{
	struct ws_conn *c = lws_container_of(sul, struct ws_conn, sul_login);

	if (c->step != WS_OPEN || c->r->logged_in)
		return;
	log_info(c->r->name, "retrying login as %s", c->r->username);
	send_login(c);
}

static void on_connected(struct ws_conn *c)
{
	struct room *r = c->r;
	json_object *o = json_object_new_object();

	log_info(r->name, "Socket.IO connected (sid %s, ping %lld+%lld ms); joining %s as %s",
	         c->sio.sid, (long long)c->sio.ping_interval_ms, (long long)c->sio.ping_timeout_ms,
	         r->channel, r->username);
	pseudo_event(c, "dazd:connected", "server", c->server_url);
	c->announced = true;
	if (o) {
		json_object_object_add(o, "name", json_object_new_string(r->channel));
		if (queue_event(c, "joinChannel", o) != 0)
			log_warn(r->name, "cannot queue joinChannel");
		json_object_put(o);
	}
	send_login(c);
}

static const char *str_field(json_object *o, const char *key)
{
	json_object *v;

	if (o && json_object_is_type(o, json_type_object) &&
	    json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

static void on_event(struct ws_conn *c, const struct sio_packet *p, int64_t recv_us)
{
	struct room *r = c->r;
	const char *name = p->name;
	json_object *args = p->payload;

	if (strcmp(name, "login") == 0) {
		json_object *ok;
		bool success = args && json_object_object_get_ex(args, "success", &ok) &&
		               json_object_get_boolean(ok);
		if (success) {
			const char *as = str_field(args, "name");
			r->logged_in = true;
			if (as)
				event_mapper_set_bot_name(&c->mapper, as);
			log_info(r->name, "logged in as %s; joined %s", as ? as : r->username,
			         r->channel);
		} else {
			const char *why = str_field(args, "error");
			int64_t delay = backoff_next_ms(&c->bo);
			char labels[160];
			if (delay < 2000)
				delay = 2000;
			snprintf(c->last_reason, sizeof(c->last_reason), "login failed: %s",
			         why ? why : "(no reason)");
			metrics_add(r->d->metrics, "dazd_room_login_failures_total",
			            metrics_labels(labels, sizeof(labels), "room", r->name, NULL),
			            1);
			log_warn(r->name, "login as %s failed: %s; retrying in %lld ms",
			         r->username, why ? why : "(no reason)", (long long)delay);
			snprintf(r->last_error, sizeof(r->last_error), "%s", c->last_reason);
			room_set_state(r, ROOM_CONNECTING, c->last_reason);
			lws_sul_schedule(r->d->lws, 0, &c->sul_login, login_retry_cb,
			                 delay * LWS_US_PER_MS);
		}
	} else if (strcmp(name, "kick") == 0) {
		const char *why = str_field(args, "reason");
		char labels[160];
		snprintf(c->last_reason, sizeof(c->last_reason), "kicked: %s",
		         why ? why : "(no reason)");
		log_warn(r->name, "%s", c->last_reason);
		backoff_kicked(&c->bo);
		metrics_add(r->d->metrics, "dazd_room_kicks_total",
		            metrics_labels(labels, sizeof(labels), "room", r->name, NULL), 1);
	} else if (strcmp(name, "errorMsg") == 0) {
		const char *m = str_field(args, "msg");
		snprintf(c->last_reason, sizeof(c->last_reason), "errorMsg: %s", m ? m : "");
		log_warn(r->name, "%s", c->last_reason);
	} else if (strcmp(name, "partitionChange") == 0) {
		json_object *servers = NULL;
		if (args && json_object_object_get_ex(args, "servers", &servers) &&
		    pick_server(servers, true)) {
			json_object_put(c->partition_servers);
			c->partition_servers = json_object_get(servers);
			log_info(r->name, "partitionChange: reconnecting to %s at once",
			         pick_server(servers, true));
			snprintf(c->last_reason, sizeof(c->last_reason), "partitionChange");
			c->reconnect_now = true;
			c->close_requested = true;
			snprintf(c->close_why, sizeof(c->close_why), "partitionChange");
			lws_callback_on_writable(c->wsi);
		} else {
			log_warn(r->name, "partitionChange without usable servers ignored");
		}
	} else if (strcmp(name, "rank") == 0 && args &&
	           (json_object_is_type(args, json_type_int) ||
	            json_object_is_type(args, json_type_double))) {
		r->rank = json_object_get_double(args);
	} else if (strcmp(name, "userlist") == 0) {
		r->seen_userlist = true;
	} else if (strcmp(name, "needPassword") == 0) {
		snprintf(c->last_reason, sizeof(c->last_reason), "channel needs a password");
		log_warn(r->name, "channel %s needs a password (not supported)", r->channel);
	}

	for (int i = 0; i < n_event_hooks; i++)
		event_hooks[i].fn(r, name, args, recv_us, event_hooks[i].arg);

	if (r->logged_in && r->state != ROOM_JOINED && c->step == WS_OPEN) {
		c->joined_this_attempt = true;
		backoff_reset(&c->bo);
		breaker_success(&c->br);
		set_circuit_metric(c);
		r->connected_since_us = dazd_wall_us();
		r->last_error[0] = '\0';
		room_set_state(r, ROOM_JOINED, NULL);
	}
}

static void reject(struct ws_conn *c, enum sio_result why, const char *err, size_t len)
{
	char labels[200];

	metrics_add(c->r->d->metrics, "dazd_frames_rejected_total",
	            metrics_labels(labels, sizeof(labels), "room", c->r->name, "reason",
	                           sio_reject_name(why), NULL),
	            1);
	log_warn(c->r->name, "frame rejected (%s, %zu bytes): %s", sio_reject_name(why), len,
	         err ? err : "");
}

/* One complete text frame. Returns -1 to close the socket. */
static int on_frame(struct ws_conn *c, const char *buf, size_t len)
{
	struct sio_packet p;
	char err[200] = "", why[200] = "";
	enum sio_result res;
	int64_t t = now_ms(), recv_us = dazd_wall_us();
	unsigned act;

	memset(&p, 0, sizeof(p));
	res = sio_decode(buf, len, sio_conn_max_payload(&c->sio), &p, err, sizeof(err));
	if (res != SIO_OK) {
		reject(c, res, err, len);
		sio_packet_clear(&p);
		/* Any frame is a sign of life for the dead-peer timer. */
		c->sio.last_rx_ms = t;
		return 0;
	}
	log_trace(c->r->name, "<< %.*s", (int)(len > 200 ? 200 : len), buf);
	act = sio_conn_on_packet(&c->sio, &p, t, why, sizeof(why));
	if (act & SIO_ACT_SEND_CONNECT)
		(void)queue_text(c, SIO_FRAME_CONNECT, strlen(SIO_FRAME_CONNECT));
	if (act & SIO_ACT_SEND_PONG)
		(void)queue_text(c, SIO_FRAME_PONG, strlen(SIO_FRAME_PONG));
	if (act & SIO_ACT_CONNECTED)
		on_connected(c);
	if ((act & SIO_ACT_DELIVER) && p.kind == SIO_EVENT && p.name) {
		struct event *ev = event_from_packet(&c->mapper, &p, recv_us);
		push_event(c->r, ev);
		on_event(c, &p, recv_us);
	}
	if (p.kind == SIO_CONNECT_ERROR) {
		const char *m = str_field(p.payload, "message");
		snprintf(c->last_reason, sizeof(c->last_reason), "connect refused: %s", m ? m : "");
	}
	sio_packet_clear(&p);
	if (act & SIO_ACT_CLOSE) {
		log_info(c->r->name, "closing: %s", why);
		if (!c->last_reason[0])
			snprintf(c->last_reason, sizeof(c->last_reason), "%s", why);
		return -1;
	}
	arm_deadline(c);
	return 0;
}

static int on_receive(struct ws_conn *c, struct lws *wsi, const char *in, size_t len)
{
	size_t max = sio_conn_max_payload(&c->sio);

	if (lws_is_first_fragment(wsi)) {
		c->rx_len = 0;
		c->rx_overflow = false;
	}
	if (lws_frame_is_binary(wsi)) {
		if (lws_is_final_fragment(wsi))
			reject(c, SIO_REJECT_BINARY, "binary WebSocket frame", c->rx_len + len);
		c->rx_overflow = true; /* swallow the rest */
		c->sio.last_rx_ms = now_ms();
		return 0;
	}
	if (!c->rx_overflow) {
		if (c->rx_len + len > max) {
			c->rx_overflow = true;
		} else {
			if (c->rx_len + len + 1 > c->rx_cap) {
				size_t cap = c->rx_cap ? c->rx_cap : 4096;
				while (cap < c->rx_len + len + 1)
					cap *= 2;
				char *nb = realloc(c->rx, cap);
				if (!nb)
					return -1;
				c->rx = nb;
				c->rx_cap = cap;
			}
			memcpy(c->rx + c->rx_len, in, len);
			c->rx_len += len;
		}
	}
	if (!lws_is_final_fragment(wsi))
		return 0;
	if (c->rx_overflow) {
		if (!lws_frame_is_binary(wsi))
			reject(c, SIO_REJECT_OVERSIZE, "frame over maxPayload", c->rx_len + len);
		c->rx_len = 0;
		c->rx_overflow = false;
		c->sio.last_rx_ms = now_ms();
		return 0;
	}
	c->rx[c->rx_len] = '\0';
	len = c->rx_len;
	c->rx_len = 0;
	/* Shrink a buffer that grew for one huge frame. */
	int rc = on_frame(c, c->rx, len);
	if (c->rx_cap > 256 * 1024) {
		free(c->rx);
		c->rx = NULL;
		c->rx_cap = 0;
	}
	return rc;
}

/* The WebSocket (or its attempt) ended. */
static void ws_closed(struct ws_conn *c, const char *why)
{
	struct room *r = c->r;
	char msg[400];

	c->wsi = NULL;
	c->step = WS_IDLE;
	frames_free(c);
	lws_sul_cancel(&c->sul_login);
	if (c->announced) {
		pseudo_event(c, "dazd:disconnected", "reason",
		             c->last_reason[0] ? c->last_reason : why);
		c->announced = false;
	}
	r->logged_in = false;
	r->connected_since_us = 0;
	snprintf(msg, sizeof(msg), "%s", c->last_reason[0] ? c->last_reason : why);
	if (c->stop_requested)
		log_info(r->name, "connection closed: %s", msg);
	else
		log_warn(r->name, "connection closed: %s", msg);
	schedule_next(c, msg);
}

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
	struct ws_conn *c = lws_get_opaque_user_data(wsi);
	char buf[LWS_PRE + 2048], *px;
	int lenx;

	(void)user;
	switch (reason) {
	/* ---- discovery over HTTP(S) ---- */
	case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
		if (c && wsi == c->http_wsi)
			c->http_status = (int)lws_http_client_http_response(wsi);
		return 0;
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
		if (c && wsi == c->http_wsi) {
			if (c->body_len + len > WS_DISCOVERY_BODY_MAX)
				return -1;
			char *nb = realloc(c->body, c->body_len + len + 1);
			if (!nb)
				return -1;
			c->body = nb;
			memcpy(c->body + c->body_len, in, len);
			c->body_len += len;
			c->body[c->body_len] = '\0';
		}
		return 0;
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP:
		px = buf + LWS_PRE;
		lenx = (int)sizeof(buf) - LWS_PRE;
		if (lws_http_client_read(wsi, &px, &lenx) < 0)
			return -1;
		return 0;
	case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
		if (c && wsi == c->http_wsi) {
			c->http_wsi = NULL;
			lws_set_opaque_user_data(wsi, NULL);
			discovery_done(c);
			if (c->step == WS_IDLE)
				attempt_failed(c);
		}
		return 0;
	case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
		if (c && wsi == c->http_wsi) {
			c->http_wsi = NULL;
			if (!c->last_reason[0])
				snprintf(c->last_reason, sizeof(c->last_reason),
				         "socketconfig: connection closed before an answer");
			attempt_failed(c);
		}
		return 0;

	/* ---- WebSocket ---- */
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (!c)
			return 0;
		if (wsi == c->http_wsi || (c->step == WS_DISCOVERY && !c->wsi)) {
			c->http_wsi = NULL;
			snprintf(c->last_reason, sizeof(c->last_reason), "socketconfig: %s",
			         in ? (const char *)in : "connection error");
			attempt_failed(c);
		} else if (wsi == c->wsi || c->step == WS_OPENING) {
			c->wsi = NULL;
			snprintf(c->last_reason, sizeof(c->last_reason), "WebSocket: %s",
			         in ? (const char *)in : "connection error");
			attempt_failed(c);
		}
		return 0;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		if (!c || wsi != c->wsi)
			return -1;
		c->step = WS_OPEN;
		c->rx_len = 0;
		sio_conn_init(&c->sio, now_ms());
		event_mapper_reset(&c->mapper);
		event_mapper_set_bot_name(&c->mapper, c->r->username);
		arm_deadline(c);
		log_debug(c->r->name, "WebSocket open to %s", c->server_url);
		if (c->r->d->phase != DAZD_RUNNING || c->close_requested)
			lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (!c || wsi != c->wsi)
			return 0;
		return on_receive(c, wsi, in, len);
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (!c || wsi != c->wsi)
			return 0;
		if (c->out_head) {
			struct ws_frame *f = c->out_head;
			int n = lws_write(wsi, (unsigned char *)f->buf + LWS_PRE, f->len,
			                  LWS_WRITE_TEXT);
			/* Frames that carry a password are never logged, not even at trace. */
			if (strncmp(f->buf + LWS_PRE, "42[\"login\"", 11) == 0 ||
			    strncmp(f->buf + LWS_PRE, "42[\"channelPassword\"", 21) == 0)
				log_trace(c->r->name, ">> 42[\"login\",(redacted)]");
			else
				log_trace(c->r->name, ">> %.*s", (int)(f->len > 200 ? 200 : f->len),
				          f->buf + LWS_PRE);
			c->out_head = f->next;
			if (!c->out_head)
				c->out_tail = NULL;
			c->out_n--;
			free(f->buf);
			free(f);
			if (n < 0)
				return -1;
			if (c->out_head || c->close_requested || c->r->d->phase != DAZD_RUNNING)
				lws_callback_on_writable(wsi);
			return 0;
		}
		if (c->close_requested || c->r->d->phase != DAZD_RUNNING || c->stop_requested) {
			const char *why = c->close_why[0] ? c->close_why : "closing";
			lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)why,
			                 strlen(why));
			return -1;
		}
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (c && wsi == c->wsi)
			ws_closed(c, (c->close_requested || c->stop_requested ||
			              c->r->d->phase != DAZD_RUNNING) &&
			                     c->close_why[0]
			                 ? c->close_why
			                 : "closed by peer");
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		if (c && wsi == c->wsi && c->step != WS_IDLE) {
			/* Closed before it was established (no CLIENT_CLOSED). */
			ws_closed(c, "connection ended");
		} else if (c && wsi == c->http_wsi) {
			c->http_wsi = NULL;
			attempt_failed(c);
		}
		return 0;
	default:
		return 0;
	}
}

const struct lws_protocols ws_lws_protocol = {
    .name = WS_PROTOCOL_NAME,
    .callback = ws_callback,
    .rx_buffer_size = WS_RX_BUFFER,
};

/* ---- public API ------------------------------------------------------------------------- */

bool ws_room_joined(const struct room *r)
{
	return r->state == ROOM_JOINED && r->ws && r->ws->step == WS_OPEN &&
	       !r->ws->close_requested;
}

int ws_send_event(struct room *r, const char *event, struct json_object *payload)
{
	if (!ws_room_joined(r))
		return -1;
	return queue_event(r->ws, event, payload);
}

int ws_send_text(struct room *r, const char *text, size_t len)
{
	if (!ws_room_joined(r) || len > sio_conn_max_payload(&r->ws->sio))
		return -1;
	return queue_text(r->ws, text, len);
}

size_t ws_send_queue_len(const struct room *r)
{
	return r->ws ? r->ws->out_n : 0;
}

void ws_room_start(struct room *r)
{
	struct ws_conn *c = conn_of(r);

	if (!c)
		return;
	c->stop_requested = false;
	if (c->step == WS_IDLE)
		start_attempt(c);
}

void ws_room_stop(struct room *r, const char *why)
{
	struct ws_conn *c = r->ws;

	if (!c) {
		room_set_state(r, ROOM_OFFLINE, NULL);
		return;
	}
	c->stop_requested = true;
	lws_sul_cancel(&c->sul_retry);
	snprintf(c->close_why, sizeof(c->close_why), "%s", why);
	if (c->step == WS_OPEN && c->wsi) {
		c->close_requested = true;
		lws_callback_on_writable(c->wsi);
	} else if (c->step == WS_OPENING && c->wsi) {
		kill_wsi(c->wsi);
	} else if (c->step == WS_DISCOVERY && c->http_wsi) {
		kill_wsi(c->http_wsi);
	} else {
		room_set_state(r, ROOM_OFFLINE, NULL);
	}
}

void ws_room_reconnect(struct room *r, const char *why)
{
	struct ws_conn *c = conn_of(r);

	if (!c)
		return;
	c->stop_requested = false;
	c->reconnect_now = true;
	snprintf(c->close_why, sizeof(c->close_why), "%s", why);
	snprintf(c->last_reason, sizeof(c->last_reason), "%s", why);
	if (c->step == WS_OPEN && c->wsi) {
		c->close_requested = true;
		lws_callback_on_writable(c->wsi);
	} else if (c->step == WS_OPENING && c->wsi) {
		kill_wsi(c->wsi);
	} else if (c->step == WS_DISCOVERY && c->http_wsi) {
		kill_wsi(c->http_wsi);
	} else {
		c->reconnect_now = false;
		start_attempt(c);
	}
}

bool ws_room_closed(const struct room *r)
{
	return !r->ws || (r->ws->step == WS_IDLE && !r->ws->wsi && !r->ws->http_wsi);
}

void ws_room_free(struct room *r)
{
	struct ws_conn *c = r->ws;

	if (!c)
		return;
	lws_sul_cancel(&c->sul_retry);
	lws_sul_cancel(&c->sul_dead);
	lws_sul_cancel(&c->sul_login);
	if (c->wsi)
		lws_set_opaque_user_data(c->wsi, NULL);
	if (c->http_wsi)
		lws_set_opaque_user_data(c->http_wsi, NULL);
	frames_free(c);
	json_object_put(c->partition_servers);
	free(c->rx);
	free(c->body);
	free(c);
	r->ws = NULL;
}

int ws_room_circuit(const struct room *r)
{
	if (!r->ws)
		return 0;
	switch (r->ws->br.state) {
	case BREAKER_OPEN:
		return 2;
	case BREAKER_HALF_OPEN:
		return 1;
	default:
		return 0;
	}
}

void ws_pause_rx_all(struct dazd *d)
{
	for (struct room *r = d->rooms; r; r = r->next)
		if (r->ws && r->ws->wsi && r->ws->step == WS_OPEN && !r->ws->rx_paused) {
			lws_rx_flow_control(r->ws->wsi, 0);
			r->ws->rx_paused = true;
		}
}

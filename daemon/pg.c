/* pg.c — asynchronous libpq connections driven by the lws loop (adopted raw fds). */
#include "pg.h"

#include <errno.h>
#include <libpqtypes.h>
#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backoff.h"
#include "dazd.h"
#include "log.h"

#define PG_MAX_TYPES 8

enum pg_phase {
	PG_BACKOFF = 0,     /* no connection; a retry is scheduled */
	PG_CONNECTING = 1,  /* PQconnectPoll in progress */
	PG_REGISTERING = 2, /* connected; libpqtypes registrations in flight */
	PG_UP = 3,          /* queries flow */
	PG_CLOSED = 4,      /* being freed */
};

struct pg_query {
	struct pg_query *next;
	pg_send_fn send;
	pg_result_cb cb;
	void *arg;
	/* pg_query() text form (owned) */
	char *sql;
	int nparams;
	char **values;
};

struct pg_conn {
	struct dazd *d;
	char *name;
	char *conninfo;
	const struct pg_types *types;
	pg_state_cb on_state;
	pg_notify_cb on_notify;
	void *arg;

	PGconn *conn;
	struct lws *wsi; /* adopted dup() of PQsocket() */
	int sock;        /* the PQsocket() value wsi mirrors, -1 none */
	enum pg_phase phase;

	struct pg_query *head, *tail; /* FIFO; head is in flight when inflight */
	bool inflight;
	PGresult *last; /* result kept for the in-flight query */
	unsigned pending;

	int reg_step; /* 0 userdefined, 1 composites, 2 done */
	bool reg_inflight;
	PGregisterType udt[PG_MAX_TYPES], comp[PG_MAX_TYPES];
	int n_udt, n_comp;

	struct backoff bo;
	lws_sorted_usec_list_t sul_retry;
	/* lws drops POLLOUT after a raw file's writeable callback returns, so a request made inside
	 * that callback is re-issued from this timer on the next loop turn. */
	lws_sorted_usec_list_t sul_write;
	bool in_writeable;
	unsigned long reconnects;
	bool ever_up;
};

/* ---- jsonb for libpqtypes --------------------------------------------------------------- */

int pg_jsonb_put(struct pg_typeargs *args)
{
	const char *json = va_arg(args->ap, const char *);
	size_t len;

	if (!json) {
		args->put.out = NULL;
		return 0;
	}
	len = strlen(json);
	if (len + 1 > (size_t)INT32_MAX - 1)
		return args->errorf(args, "jsonb value too large");
	if ((int)len + 1 > args->put.outl && args->put.expandBuffer(args, (int)len + 1) == -1)
		return -1;
	args->put.out[0] = 1; /* jsonb binary format version */
	memcpy(args->put.out + 1, json, len);
	return (int)len + 1;
}

/* ---- helpers ---------------------------------------------------------------------------- */

bool pg_result_ok(const PGresult *res)
{
	ExecStatusType st;

	if (!res)
		return false;
	st = PQresultStatus(res);
	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

char *pg_text_array(const char *const *items, size_t n)
{
	size_t len = 3;
	for (size_t i = 0; i < n; i++)
		len += 3 + 2 * strlen(items[i]);
	char *out = malloc(len), *p = out;
	if (!out)
		return NULL;
	*p++ = '{';
	for (size_t i = 0; i < n; i++) {
		if (i)
			*p++ = ',';
		*p++ = '"';
		for (const char *c = items[i]; *c; c++) {
			if (*c == '"' || *c == '\\')
				*p++ = '\\';
			*p++ = *c;
		}
		*p++ = '"';
	}
	*p++ = '}';
	*p = '\0';
	return out;
}

/* libpq's message as one log line in buf: trailing newlines and spaces cut, inner newlines made
 * spaces. */
static const char *one_line(char *buf, size_t size, const char *msg)
{
	size_t n;

	snprintf(buf, size, "%s", msg);
	n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	for (char *p = buf; *p; p++)
		if (*p == '\n')
			*p = ' ';
	return buf;
}

const char *pg_result_error(const PGresult *res)
{
	static char buf[512];
	const char *m;

	if (!res)
		return "connection lost";
	m = PQresultErrorMessage(res);
	if (!m || !*m)
		m = PQresStatus(PQresultStatus(res));
	return one_line(buf, sizeof(buf), m);
}

static void query_free(struct pg_query *q)
{
	if (!q)
		return;
	free(q->sql);
	for (int i = 0; i < q->nparams; i++)
		free(q->values[i]);
	free(q->values);
	free(q);
}

/* Forget the adopted descriptor: lws closes its dup() asynchronously. */
static void detach_wsi(struct pg_conn *c)
{
	if (c->wsi) {
		lws_set_opaque_user_data(c->wsi, NULL);
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		c->wsi = NULL;
	}
	c->sock = -1;
}

/* Adopt the current PQsocket() if it changed. -1 on failure. */
static int sync_socket(struct pg_conn *c)
{
	lws_sock_file_fd_type fd;
	int s = PQsocket(c->conn);

	if (s == c->sock && c->wsi)
		return 0;
	detach_wsi(c);
	if (s < 0)
		return -1;
	fd.filefd = dup(s);
	if (fd.filefd < 0) {
		log_error(c->name, "dup(): %s", strerror(errno));
		return -1;
	}
	c->wsi = lws_adopt_descriptor_vhost(c->d->vhost, LWS_ADOPT_RAW_FILE_DESC, fd,
	                                    pg_lws_protocol.name, NULL);
	if (!c->wsi) {
		close(fd.filefd);
		log_error(c->name, "cannot adopt the PostgreSQL socket into the loop");
		return -1;
	}
	lws_set_opaque_user_data(c->wsi, c);
	c->sock = s;
	return 0;
}

static void fail_all(struct pg_conn *c)
{
	struct pg_query *q;

	if (c->last) {
		PQclear(c->last);
		c->last = NULL;
	}
	c->inflight = false;
	/* Detach the list first: callbacks may submit (which fails while down). */
	q = c->head;
	c->head = c->tail = NULL;
	c->pending = 0;
	while (q) {
		struct pg_query *next = q->next;
		if (q->cb)
			q->cb(c, NULL, q->arg);
		query_free(q);
		q = next;
	}
}

static void start_connect(struct pg_conn *c);

static void retry_cb(lws_sorted_usec_list_t *sul)
{
	struct pg_conn *c = lws_container_of(sul, struct pg_conn, sul_retry);

	start_connect(c);
}

/* The connection is gone (or never came): fail queries, tell the owner, schedule a retry. */
static void conn_lost(struct pg_conn *c, const char *why)
{
	bool was_up = c->phase == PG_UP;
	int64_t delay_ms;

	if (c->phase == PG_CLOSED || c->phase == PG_BACKOFF)
		return;
	detach_wsi(c);
	if (c->conn) {
		PQfinish(c->conn);
		c->conn = NULL;
	}
	c->phase = PG_BACKOFF;
	c->reg_inflight = false;
	fail_all(c);
	delay_ms = backoff_next_ms(&c->bo);
	if (was_up)
		log_warn(c->name, "database connection lost: %s; reconnecting in %lld ms", why,
		         (long long)delay_ms);
	else
		log_warn(c->name, "cannot connect to the database: %s; retrying in %lld ms", why,
		         (long long)delay_ms);
	if (was_up && c->on_state)
		c->on_state(c, false, c->arg);
	lws_sul_schedule(c->d->lws, 0, &c->sul_retry, retry_cb, delay_ms * LWS_US_PER_MS);
}

static const char *conn_error(struct pg_conn *c)
{
	static char buf[512];

	return one_line(buf, sizeof(buf), c->conn ? PQerrorMessage(c->conn) : "out of memory");
}

static void write_cb(lws_sorted_usec_list_t *sul)
{
	struct pg_conn *c = lws_container_of(sul, struct pg_conn, sul_write);

	if (c->wsi)
		lws_callback_on_writable(c->wsi);
}

/* Ask for one writeable callback on the socket. */
static void request_write(struct pg_conn *c)
{
	if (!c->wsi)
		return;
	if (c->in_writeable)
		lws_sul_schedule(c->d->lws, 0, &c->sul_write, write_cb, 1);
	else
		lws_callback_on_writable(c->wsi);
}

/* Flush libpq's output buffer; ask for writeable while it is not empty. */
static int flush_out(struct pg_conn *c)
{
	int r = PQflush(c->conn);

	if (r < 0)
		return -1;
	if (r > 0)
		request_write(c);
	return 0;
}

static void kick(struct pg_conn *c);

static void registered(struct pg_conn *c)
{
	c->phase = PG_UP;
	backoff_reset(&c->bo);
	if (c->ever_up)
		c->reconnects++;
	c->ever_up = true;
	log_info(c->name, "database connection ready (server %d, pid %d)", PQserverVersion(c->conn),
	         PQbackendPID(c->conn));
	if (c->on_state)
		c->on_state(c, true, c->arg);
	if (c->phase == PG_UP)
		kick(c);
}

/* Next libpqtypes registration step (asynchronous), or UP when all are done. */
static void reg_next(struct pg_conn *c)
{
	while (c->reg_step < 2) {
		int which = c->reg_step == 0 ? PQT_USERDEFINED : PQT_COMPOSITE;
		PGregisterType *t = c->reg_step == 0 ? c->udt : c->comp;
		int n = c->reg_step == 0 ? c->n_udt : c->n_comp;

		if (n == 0) {
			c->reg_step++;
			continue;
		}
		if (!PQregisterTypes(c->conn, which, t, n, 1)) {
			char why[600];
			snprintf(why, sizeof(why), "type registration: %s", PQgeterror());
			conn_lost(c, why);
			return;
		}
		c->reg_inflight = true;
		if (flush_out(c) < 0)
			conn_lost(c, conn_error(c));
		return;
	}
	registered(c);
}

static void reg_done(struct pg_conn *c, PGresult *res)
{
	int which = c->reg_step == 0 ? PQT_USERDEFINED : PQT_COMPOSITE;
	PGregisterType *t = c->reg_step == 0 ? c->udt : c->comp;
	int n = c->reg_step == 0 ? c->n_udt : c->n_comp;

	c->reg_inflight = false;
	if (!pg_result_ok(res) || !PQregisterResult(c->conn, which, t, n, res)) {
		char why[600];
		snprintf(why, sizeof(why), "type registration failed: %s",
		         pg_result_ok(res) ? PQgeterror() : pg_result_error(res));
		conn_lost(c, why);
		return;
	}
	c->reg_step++;
	reg_next(c);
}

/* Send the head query when nothing is in flight. */
static void kick(struct pg_conn *c)
{
	struct pg_query *q;

	while (c->phase == PG_UP && !c->inflight && c->head) {
		q = c->head;
		if (q->send(c->conn, q) != 0) {
			char why[600];
			snprintf(why, sizeof(why), "sending a query failed: %s", conn_error(c));
			conn_lost(c, why);
			return;
		}
		c->inflight = true;
		if (flush_out(c) < 0) {
			conn_lost(c, conn_error(c));
			return;
		}
	}
}

/* The in-flight query returned everything: deliver, advance. */
static void query_done(struct pg_conn *c)
{
	struct pg_query *q = c->head;
	PGresult *res = c->last;

	c->last = NULL;
	c->inflight = false;
	c->head = q->next;
	if (!c->head)
		c->tail = NULL;
	c->pending--;
	if (q->cb)
		q->cb(c, res, q->arg);
	if (res)
		PQclear(res);
	query_free(q);
}

/* Read what libpq has, deliver notifies and finished results. */
static void drain_input(struct pg_conn *c)
{
	PGnotify *n;

	while (c->conn && (c->phase == PG_UP || c->phase == PG_REGISTERING)) {
		PGresult *res;

		if (!(c->inflight || c->reg_inflight) || PQisBusy(c->conn))
			break;
		res = PQgetResult(c->conn);
		if (res) {
			if (!c->last)
				c->last = res;
			else if (!pg_result_ok(c->last) &&
			         PQresultStatus(c->last) != PGRES_EMPTY_QUERY)
				PQclear(res); /* keep the first error */
			else {
				PQclear(c->last);
				c->last = res;
			}
			continue;
		}
		/* NULL: the query is complete. */
		if (c->reg_inflight) {
			PGresult *r = c->last;
			c->last = NULL;
			reg_done(c, r);
			if (r)
				PQclear(r);
		} else {
			query_done(c);
			kick(c);
		}
	}
	while (c->conn && (n = PQnotifies(c->conn)) != NULL) {
		if (c->on_notify)
			c->on_notify(c, n, c->arg);
		PQfreemem(n);
	}
}

static void connect_poll(struct pg_conn *c)
{
	PostgresPollingStatusType st = PQconnectPoll(c->conn);

	switch (st) {
	case PGRES_POLLING_FAILED:
		conn_lost(c, conn_error(c));
		return;
	case PGRES_POLLING_OK:
		if (sync_socket(c) < 0) {
			conn_lost(c, "socket adoption failed");
			return;
		}
		if (PQsetnonblocking(c->conn, 1) != 0) {
			conn_lost(c, conn_error(c));
			return;
		}
		PQinitTypes(c->conn);
		c->phase = PG_REGISTERING;
		c->reg_step = 0;
		reg_next(c);
		return;
	case PGRES_POLLING_WRITING:
		if (sync_socket(c) < 0) {
			conn_lost(c, "socket adoption failed");
			return;
		}
		request_write(c);
		return;
	default: /* READING: POLLIN is always armed on the adopted fd */
		if (sync_socket(c) < 0)
			conn_lost(c, "socket adoption failed");
		return;
	}
}

static void start_connect(struct pg_conn *c)
{
	if (c->phase == PG_CLOSED)
		return;
	c->phase = PG_CONNECTING;
	c->conn = PQconnectStart(c->conninfo);
	if (!c->conn || PQstatus(c->conn) == CONNECTION_BAD) {
		conn_lost(c, conn_error(c));
		return;
	}
	PQsetNoticeReceiver(c->conn, (PQnoticeReceiver)log_pg_notice, c->name);
	/* As if PQconnectPoll had asked for writing. */
	if (sync_socket(c) < 0) {
		conn_lost(c, "socket adoption failed");
		return;
	}
	request_write(c);
}

/* One readiness report for c's socket. */
static int on_io(struct pg_conn *c, bool readable)
{
	if (c->phase == PG_CONNECTING) {
		connect_poll(c);
		return 0;
	}
	if (c->phase != PG_UP && c->phase != PG_REGISTERING)
		return 0;
	if (readable && !PQconsumeInput(c->conn)) {
		conn_lost(c, conn_error(c));
		return 0;
	}
	if (flush_out(c) < 0) {
		conn_lost(c, conn_error(c));
		return 0;
	}
	drain_input(c);
	return 0;
}

static int pg_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
	struct pg_conn *c = lws_get_opaque_user_data(wsi);

	(void)user;
	(void)in;
	(void)len;
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (c && c->wsi == wsi)
			return on_io(c, true);
		return 0;
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		if (c && c->wsi == wsi) {
			int rc;
			c->in_writeable = true;
			rc = on_io(c, false);
			c->in_writeable = false;
			return rc;
		}
		return 0;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (c && c->wsi == wsi) {
			c->wsi = NULL;
			c->sock = -1;
			conn_lost(c, "socket closed");
		}
		return 0;
	default:
		return 0;
	}
}

const struct lws_protocols pg_lws_protocol = {
    .name = "dazd-pg",
    .callback = pg_callback,
};

/* ---- public API ------------------------------------------------------------------------- */

struct pg_conn *pg_conn_new(struct dazd *d, const struct pg_conn_opts *o)
{
	struct pg_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->d = d;
	c->name = strdup(o->name ? o->name : "db");
	c->conninfo = strdup(o->conninfo ? o->conninfo : "");
	if (!c->name || !c->conninfo)
		goto fail;
	c->types = o->types;
	c->on_state = o->on_state;
	c->on_notify = o->on_notify;
	c->arg = o->arg;
	c->sock = -1;
	if (c->types && c->types->userdefined)
		for (; c->types->userdefined[c->n_udt] && c->n_udt < PG_MAX_TYPES; c->n_udt++) {
			const char *t = c->types->userdefined[c->n_udt];
			size_t l = strlen(t);
			c->udt[c->n_udt].typname = t;
			c->udt[c->n_udt].typput =
			    (l >= 5 && strcmp(t + l - 5, "jsonb") == 0) ? pg_jsonb_put : NULL;
		}
	if (c->types && c->types->composites)
		for (; c->types->composites[c->n_comp] && c->n_comp < PG_MAX_TYPES; c->n_comp++)
			c->comp[c->n_comp].typname = c->types->composites[c->n_comp];
	backoff_init(&c->bo, 200, 3000, 3000, BACKOFF_DECORRELATED,
	             (uint64_t)dazd_mono_us() ^ (uint64_t)(uintptr_t)c);
	start_connect(c);
	return c;
fail:
	free(c->name);
	free(c->conninfo);
	free(c);
	return NULL;
}

void pg_conn_free(struct pg_conn *c)
{
	if (!c)
		return;
	lws_sul_cancel(&c->sul_retry);
	lws_sul_cancel(&c->sul_write);
	c->phase = PG_CLOSED;
	detach_wsi(c);
	if (c->conn)
		PQfinish(c->conn);
	c->conn = NULL;
	fail_all(c);
	free(c->name);
	free(c->conninfo);
	free(c);
}

void pg_conn_set_conninfo(struct pg_conn *c, const char *conninfo)
{
	char *s = strdup(conninfo ? conninfo : "");

	if (!s)
		return;
	free(c->conninfo);
	c->conninfo = s;
}

void pg_conn_reset(struct pg_conn *c, const char *why)
{
	if (c->phase == PG_BACKOFF) {
		lws_sul_cancel(&c->sul_retry);
		start_connect(c);
		return;
	}
	conn_lost(c, why);
}

bool pg_conn_up(const struct pg_conn *c)
{
	return c && c->phase == PG_UP;
}

PGconn *pg_conn_raw(struct pg_conn *c)
{
	return pg_conn_up(c) ? c->conn : NULL;
}

unsigned pg_conn_pending(const struct pg_conn *c)
{
	return c->pending;
}

unsigned long pg_conn_reconnects(const struct pg_conn *c)
{
	return c->reconnects;
}

const char *pg_conn_name(const struct pg_conn *c)
{
	return c->name;
}

static int enqueue(struct pg_conn *c, struct pg_query *q)
{
	if (c->tail)
		c->tail->next = q;
	else
		c->head = q;
	c->tail = q;
	c->pending++;
	kick(c);
	return 0;
}

/* pg_submit's queries: call the user's send with the user's arg. */
struct submit_q {
	struct pg_query q; /* first: the FIFO sees a pg_query */
	pg_send_fn user_send;
};

static int submit_send(PGconn *conn, void *arg)
{
	struct submit_q *s = arg;

	return s->user_send(conn, s->q.arg);
}

int pg_submit(struct pg_conn *c, pg_send_fn send, pg_result_cb cb, void *arg)
{
	struct submit_q *s;

	if (!pg_conn_up(c))
		return -1;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -1;
	s->q.send = submit_send;
	s->q.cb = cb;
	s->q.arg = arg;
	s->user_send = send;
	return enqueue(c, &s->q);
}

static int text_send(PGconn *conn, void *arg)
{
	struct pg_query *q = arg;

	return PQsendQueryParams(conn, q->sql, q->nparams, NULL, (const char *const *)q->values,
	                         NULL, NULL, 0)
	           ? 0
	           : -1;
}

int pg_query(struct pg_conn *c, const char *sql, int nparams, const char *const *values,
             pg_result_cb cb, void *arg)
{
	struct pg_query *q;

	if (!pg_conn_up(c))
		return -1;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -1;
	q->send = text_send;
	q->cb = cb;
	q->arg = arg;
	q->sql = strdup(sql);
	if (!q->sql)
		goto fail;
	if (nparams > 0) {
		q->values = calloc((size_t)nparams, sizeof(char *));
		if (!q->values)
			goto fail;
		q->nparams = nparams;
		for (int i = 0; i < nparams; i++)
			if (values[i] && !(q->values[i] = strdup(values[i])))
				goto fail;
	}
	return enqueue(c, q);
fail:
	query_free(q);
	return -1;
}

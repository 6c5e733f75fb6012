/* pg.h — asynchronous libpq connections driven by the lws loop (adopted raw fds). */
#ifndef DAZD_PG_H
#define DAZD_PG_H

#include <stdbool.h>
#include <libpq-fe.h>

struct dazd;
struct pg_conn;

/*
 * A pg_conn is one libpq connection that never blocks the loop. Its socket is adopted into lws
 * (a dup() of PQsocket(), re-adopted whenever libpq changes sockets). It connects on its own,
 * reconnects with backoff after any loss, and runs a FIFO of queries one at a time: each query
 * is sent when the previous one has returned all its results.
 *
 * Callbacks run on the loop. They must not free the pg_conn.
 */

/*
 * Result of one queued query. res is the last result the query produced (or its first error),
 * borrowed: pg.c PQclear()s it after the callback returns. res is NULL when the query never got
 * a result because the connection was lost (or the pg_conn is being freed): the caller decides
 * whether to resubmit. Queries are never retried by pg.c.
 */
typedef void (*pg_result_cb)(struct pg_conn *c, PGresult *res, void *arg);

/*
 * Issue exactly one PQsend* / PQparamSend* call on conn (non-blocking mode is already set).
 * Return 0 on success, -1 on failure (pg.c then reports the error as a lost query with
 * res NULL and resets the connection). Called when the query reaches the head of the FIFO,
 * so parameters may be built here from the caller's state (e.g. PQparamCreate(conn) + PQputf).
 */
typedef int (*pg_send_fn)(PGconn *conn, void *arg);

/* Connection came up (after type registration) or went down. PQ calls on a down conn fail. */
typedef void (*pg_state_cb)(struct pg_conn *c, bool up, void *arg);

/* One NOTIFY received on this connection; n is borrowed (pg.c PQfreemem()s it). */
typedef void (*pg_notify_cb)(struct pg_conn *c, const PGnotify *n, void *arg);

/* libpqtypes registrations done (asynchronously) after each connect, before on_state(up). */
struct pg_types {
	const char *const *userdefined; /* NULL-terminated names, e.g. "jsonb" (handlers in pg.c) */
	const char *const *composites;  /* NULL-terminated names, e.g. "daz.event_in" */
};

struct pg_conn_opts {
	const char *name;     /* scope for log lines and metrics: "db", "listen" (copied) */
	const char *conninfo; /* libpq conninfo or URI (copied); "" uses libpq's environment */
	const struct pg_types *types; /* may be NULL; borrowed, must outlive the conn */
	pg_state_cb on_state;         /* may be NULL */
	pg_notify_cb on_notify;       /* may be NULL */
	void *arg;                    /* passed to on_state / on_notify */
};

/* Create and start connecting. Caller frees with pg_conn_free(). NULL on allocation failure. */
struct pg_conn *pg_conn_new(struct dazd *d, const struct pg_conn_opts *opts)
    __attribute__((warn_unused_result));

/* Close the connection; pending queries get their callback with res NULL. NULL is a no-op. */
void pg_conn_free(struct pg_conn *c);

/* Replace the conninfo (takes effect at the next reconnect; pg_conn_reset() forces one). */
void pg_conn_set_conninfo(struct pg_conn *c, const char *conninfo);

/* Drop the connection now and reconnect (with backoff). Pending queries get res NULL. */
void pg_conn_reset(struct pg_conn *c, const char *why);

/* True once connected and types registered, until the next loss. */
bool pg_conn_up(const struct pg_conn *c);

/* The PGconn while up (for PQparamCreate, PQescape*), else NULL. Borrowed. */
PGconn *pg_conn_raw(struct pg_conn *c);

/* Queued + in-flight queries. */
unsigned pg_conn_pending(const struct pg_conn *c);

/* Reconnects since start (for metrics). */
unsigned long pg_conn_reconnects(const struct pg_conn *c);

/* Name given at creation (borrowed). */
const char *pg_conn_name(const struct pg_conn *c);

/*
 * Queue a query built by send(conn, arg). cb(c, res, arg) gets the result. Fails (-1) when the
 * connection is down: nothing is queued and cb is not called.
 */
int pg_submit(struct pg_conn *c, pg_send_fn send, pg_result_cb cb, void *arg)
    __attribute__((warn_unused_result));

/*
 * Queue a query with text parameters (values copied; NULL entries are SQL NULL). Results in
 * text format. Fails (-1) when the connection is down.
 */
int pg_query(struct pg_conn *c, const char *sql, int nparams, const char *const *values,
             pg_result_cb cb, void *arg) __attribute__((warn_unused_result));

/* True when res is a success (COMMAND_OK or TUPLES_OK). */
bool pg_result_ok(const PGresult *res);

/* One-line error text of res, without trailing newline (static buffer, overwritten per call). */
const char *pg_result_error(const PGresult *res);

/* libpqtypes put handler for jsonb (binary: version byte 1 + JSON text); register as "jsonb". */
struct pg_typeargs;
int pg_jsonb_put(struct pg_typeargs *args);

/* The lws protocol that drives adopted PostgreSQL sockets (listed in main.c's protocols). */
struct lws_protocols;
extern const struct lws_protocols pg_lws_protocol;

/*
 * A PostgreSQL text[] literal of n strings ({"a","b \"c\""}), for $n::text[] parameters.
 * Caller frees. NULL on out of memory.
 */
char *pg_text_array(const char *const *items, size_t n);

#endif

/* dazd.h — the per-process context every dazd module shares, and its hook lists. */
#ifndef DAZD_DAZD_H
#define DAZD_DAZD_H

#include <stdbool.h>
#include <stdint.h>

#ifdef DAZ_VERSION
#define DAZD_VERSION DAZ_VERSION /* from the Makefile: VERSION + git */
#else
#define DAZD_VERSION "0.1.0"
#endif

struct lws_context;
struct lws_vhost;
struct lws_protocols;
struct cfg;
struct pg_conn;
struct ingest;
struct room;
struct metrics;
struct dazd;

enum dazd_phase {
	DAZD_RUNNING = 0,  /* normal operation */
	DAZD_DRAINING = 1, /* first SIGTERM: stop reading, flush, close */
	DAZD_EXITING = 2,  /* drained (or second SIGTERM): leave the loop */
};

/* Called with the old and the new config after a successful reload (both borrowed). */
typedef void (*dazd_reload_hook)(struct dazd *d, const struct cfg *old_cfg,
                                 const struct cfg *new_cfg, void *arg);
/* Asked during draining: return true when this module has nothing left to do. */
typedef bool (*dazd_drained_hook)(struct dazd *d, void *arg);

#define DAZD_MAX_HOOKS 8

struct dazd {
	struct lws_context *lws;
	struct lws_vhost *vhost; /* listening vhost; raw fds and default TLS client vhost */
	const struct lws_protocols *vhost_protocols; /* the protocol list every vhost uses */
	struct cfg *cfg;                             /* running config, owned */
	const char *config_path;                     /* borrowed from argv */
	char host[128];                              /* gethostname() */
	char worker[160];                            /* "<host>:<pid>", the daz.workers key */
	enum dazd_phase phase;
	int64_t started_wall_us; /* wall clock at start */

	struct pg_conn *db; /* main connection: ingest, room state, heartbeat, leases; claims and
	                     * acks while listen is down */
	struct pg_conn *listen;  /* control connection, created by outbox.c (may be NULL): LISTEN
	                          * daz_jobs/daz_control, and the claims, acks (daz.complete,
	                          * daz.fail_many) and lease extensions of the outbox, so they do not
	                          * wait behind an ingest batch */
	struct ingest *ingest;   /* ingest.c */
	struct room *rooms;      /* room.c: singly linked list */
	struct metrics *metrics; /* metrics.c */
	void *outbox;            /* outbox.c private state (NULL if absent) */

	/* Set before rooms start (e.g. by outbox_init): rooms begin in standby until the
	 * lease holder calls room_set_standby(r, false). */
	bool rooms_need_lease;
	/* daz.room_state / daz.heartbeat exist in the database (probed after each connect). */
	bool db_has_rooms_sql;

	struct {
		dazd_reload_hook fn;
		void *arg;
	} reload_hooks[DAZD_MAX_HOOKS];
	struct {
		dazd_drained_hook fn;
		void *arg;
	} drained_hooks[DAZD_MAX_HOOKS];
	int n_reload_hooks, n_drained_hooks;
};

/* Append {fn, arg} to a hook table of n entries (DAZD_MAX_HOOKS at most): evaluates to 0, or -1
 * when the table is full. */
#define DAZD_HOOK_ADD(table, n, fn_, arg_)                                                         \
	((n) >= DAZD_MAX_HOOKS ? -1 : ((table)[n].fn = (fn_), (table)[(n)++].arg = (arg_), 0))

/* Remove the first entry matching fn and arg from a hook table of n entries (n is decremented). */
#define DAZD_HOOK_REMOVE(table, n, fn_, arg_)                                                      \
	do {                                                                                       \
		for (int i_ = 0; i_ < (n); i_++)                                                   \
			if ((table)[i_].fn == (fn_) && (table)[i_].arg == (arg_)) {                \
				for (int j_ = i_ + 1; j_ < (n); j_++)                              \
					(table)[j_ - 1] = (table)[j_];                             \
				(n)--;                                                             \
				break;                                                             \
			}                                                                          \
	} while (0)

/* Register hooks (-1 when DAZD_MAX_HOOKS are taken); remove them (no-op when absent). */
int dazd_add_reload_hook(struct dazd *d, dazd_reload_hook fn, void *arg)
    __attribute__((warn_unused_result));
int dazd_add_drained_hook(struct dazd *d, dazd_drained_hook fn, void *arg)
    __attribute__((warn_unused_result));

void dazd_remove_reload_hook(struct dazd *d, dazd_reload_hook fn, void *arg);
void dazd_remove_drained_hook(struct dazd *d, dazd_drained_hook fn, void *arg);

/* While draining: re-check every drained hook now (call after finishing a piece of work). */
void dazd_check_drained(struct dazd *d);

/*
 * The outbound half (outbox.c) plugs in here: main.c calls outbox_init() after the database
 * connection and ingest exist and before rooms start (so it can set rooms_need_lease and add
 * hooks), outbox_free() after the loop ended (stops it: its hooks are removed, its own
 * connections closed, late callbacks do nothing), and outbox_release() once d->db is closed too
 * (no callback can arrive any more: the rest of its memory is freed). Weak: dazd runs
 * inbound-only without them.
 */
int outbox_init(struct dazd *d) __attribute__((weak));
void outbox_free(struct dazd *d) __attribute__((weak));
void outbox_release(struct dazd *d) __attribute__((weak));

/* Clocks in microseconds. */
int64_t dazd_mono_us(void);
int64_t dazd_wall_us(void);

#endif

/* outbox.h — outbound: claim cytube jobs, pace per room, send, confirm by echo, batch acks. */
#ifndef DAZD_OUTBOX_H
#define DAZD_OUTBOX_H

#include <stdbool.h>

#include <stddef.h>

struct dazd;
struct pg_conn;
struct room;

/* What d->outbox points to: the private state of each outbound module (owned by outbox.c). */
struct outbound {
	struct outbox_state *ob;       /* outbox.c */
	struct lease_state *lease;     /* lease.c */
	struct control_state *control; /* control.c */
	struct worker_state *worker;   /* worker.c */
	bool dead;                     /* outbox_free ran: late callbacks and hooks do nothing */
};

/* d->outbox as struct outbound, NULL before outbox_init. */
struct outbound *outbound_of(const struct dazd *d);

/*
 * The connection for outbound traffic (claims, acks, lease extension): d->listen while it is up
 * — it is otherwise idle, so a claim never queues behind an ingest batch — else d->db. Borrowed.
 */
struct pg_conn *outbox_db(struct dazd *d);

/*
 * conninfo with application_name set (key=value string or postgres:// URI), so a DBA can tell
 * dazd's connections apart in pg_stat_activity. Caller frees. NULL on out of memory.
 */
char *outbox_conninfo(const char *conninfo, const char *application_name);

/*
 * Start the whole outbound side of dazd: room leases (lease.c), the LISTEN connection and
 * daz_control (control.c), the SQL job worker (worker.c) and the cytube send path (this file).
 * Call once from main after d->cfg, d->db and d->metrics exist and BEFORE room_start_all():
 * it sets d->rooms_need_lease, so rooms start in standby until their lease is taken.
 * Registers its own ws event/state hooks, reload hook and drained hook. -1 on failure (start-up).
 */
int outbox_init(struct dazd *d) __attribute__((warn_unused_result));

/*
 * Tear down after the loop ended: removes its ws and dazd hooks, frees the LISTEN and jobs
 * connections, every held job and the timers. The small fixed state stays allocated until
 * outbox_release, because main frees d->db afterwards and the callbacks of queries still queued
 * on it name that state (they see outbound.dead and return).
 */
void outbox_free(struct dazd *d);

/* After d->db is freed (no callback can come any more): free the rest; d->outbox = NULL. */
void outbox_release(struct dazd *d);

/* Wake-ups (notification, poll timer, reconnect): claim now if nothing is in flight. */
void outbox_wake(struct dazd *d);

/*
 * Stop or resume sending to one room (daz_control 'pause <room>' / 'resume <room>'). A paused
 * room claims nothing; jobs already claimed stay queued (leases extended) until it resumes.
 * Returns false when this dazd does not serve the room.
 */
bool outbox_pause(struct dazd *d, const char *room, bool paused);

/* The room's lease was lost or released: fail its claimed jobs retryably (reason borrowed). */
void outbox_room_gone(struct room *r, const char *reason);

#endif

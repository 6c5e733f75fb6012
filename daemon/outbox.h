/* outbox.h — outbound: claim cytube jobs, pace per room, send, confirm by echo, batch acks. */
#ifndef DAZD_OUTBOX_H
#define DAZD_OUTBOX_H

#include <stdbool.h>

struct dazd;
struct room;

/*
 * Start the whole outbound side of dazd: room leases (lease.c), the LISTEN connection and
 * daz_control (control.c), the SQL job worker (worker.c) and the cytube send path (this file).
 * Call once from main after d->cfg, d->db and d->metrics exist and BEFORE room_start_all():
 * it sets d->rooms_need_lease, so rooms start in standby until their lease is taken.
 * Registers its own ws event/state hooks, reload hook and drained hook. -1 on failure (start-up).
 */
int outbox_init(struct dazd *d) __attribute__((warn_unused_result));

/* Free everything outbox_init created (after the loop ended). NULL-safe on a dazd without it. */
void outbox_free(struct dazd *d);

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

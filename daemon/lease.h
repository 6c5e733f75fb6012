/* lease.h — room leases in daz.rooms: acquire before connecting, heartbeat, takeover, release. */
#ifndef DAZD_LEASE_H
#define DAZD_LEASE_H

#include <stdbool.h>

struct dazd;
struct room;

/*
 * Gate room connections on leases: sets d->rooms_need_lease (rooms start in standby) and starts
 * the heartbeat timer (every lease_s / 3). Each beat calls daz.heartbeat (renews every lease
 * this worker holds and says which it still holds), then daz.room_acquire for every enabled room
 * it does not hold; a room whose lease is taken leaves standby (room_set_standby(r, false)),
 * a room whose lease was taken over by another worker goes back to standby.
 * If the database lacks daz.room_acquire, rooms connect without leases (logged once).
 */
int lease_init(struct dazd *d) __attribute__((warn_unused_result));

/* Run a heartbeat now (start-up, database reconnect, reload). */
void lease_beat_now(struct dazd *d);

/* True when this worker holds the room's lease (or leases are not in use). */
bool lease_held(const struct room *r);

/* Release every lease (shutdown); lease_released() turns true once the database confirmed it
 * or the database is unreachable. */
void lease_release_all(struct dazd *d);
bool lease_released(const struct dazd *d);

/*
 * True once the lease round after start (or after a room was added) is done: a heartbeat went
 * through and the database answered for every enabled room, held or standing by. Always true
 * when leases are not in use. For /readyz.
 */
bool lease_settled(const struct dazd *d);

/* Rooms whose lease this worker holds (for metrics and /readyz). */
unsigned lease_count(const struct dazd *d);

void lease_free(struct dazd *d);
/* Free the lease state and its rooms: only once d->db is closed (no callback can arrive). */
void lease_destroy(struct dazd *d);

#endif

/* lease.c — room leases in daz.rooms: acquire before connecting, heartbeat, takeover, release. */
#include "lease.h"

#include <json-c/json.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "dazd.h"
#include "log.h"
#include "metrics.h"
#include "outbox.h"
#include "pg.h"
#include "room.h"
#include "ws.h"

/*
 * One entry per room name this worker has ever served. Entries are never freed before
 * lease_free(), so a query callback may always point at one, even after the room was removed
 * by a reload.
 */
struct lease_room {
	struct lease_room *next;
	struct lease_state *ls;
	char name[72];
	bool held;           /* the database says we hold it */
	bool asking;         /* daz.room_acquire in flight */
	bool releasing;      /* daz.room_release in flight */
	bool refused_logged; /* "standing by" logged since the last change */
	bool decided;        /* the database answered for this room at least once (held or not) */
};

struct lease_state {
	struct dazd *d;
	lws_sorted_usec_list_t sul; /* heartbeat timer */
	struct lease_room *rooms;
	bool disabled; /* the database has no daz.room_acquire: connect without leases */
	bool beat_in_flight;
	bool beat_again;    /* lease_beat_now while a beat was in flight */
	bool shutting_down; /* lease_release_all called: acquire nothing more */
	unsigned releases_in_flight;
	bool released;
	int64_t last_beat_ok_us; /* monotonic time of the last successful heartbeat */
};

static struct lease_state *state_of(const struct dazd *d)
{
	struct outbound *o = outbound_of(d);
	return o && !o->dead ? o->lease : NULL;
}

/* After outbox_free: a callback arriving during teardown does nothing. */
static bool gone(const struct lease_state *ls)
{
	struct outbound *o = outbound_of(ls->d);
	return !o || o->dead;
}

static int lease_seconds(const struct dazd *d)
{
	int s = d->cfg ? d->cfg->lease_s : 0;
	return s > 0 ? s : 30;
}

static struct lease_room *entry_find(struct lease_state *ls, const char *name)
{
	for (struct lease_room *e = ls->rooms; e; e = e->next)
		if (strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

static struct lease_room *entry_get(struct lease_state *ls, const char *name)
{
	struct lease_room *e = entry_find(ls, name);
	if (e)
		return e;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->ls = ls;
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->next = ls->rooms;
	ls->rooms = e;
	return e;
}

/* A room this worker should hold: configured, enabled, not being removed. */
static bool room_wanted(const struct room *r)
{
	return r && r->enabled && !r->removing;
}

static void update_metrics(struct lease_state *ls)
{
	struct dazd *d = ls->d;
	char lb[160];
	if (!d->metrics)
		return;
	metrics_set(d->metrics, "dazd_leases_held", "", (double)lease_count(d));
	for (struct lease_room *e = ls->rooms; e; e = e->next)
		metrics_set(d->metrics, "dazd_room_lease_held",
		            metrics_labels(lb, sizeof(lb), "room", e->name, NULL),
		            e->held || ls->disabled ? 1 : 0);
}

static void schedule_beat(struct lease_state *ls, lws_usec_t us);

/* ---- release ------------------------------------------------------------------------------ */

static void release_done(struct pg_conn *c, PGresult *res, void *arg)
{
	struct lease_room *e = arg;
	struct lease_state *ls = e->ls;
	(void)c;
	if (gone(ls))
		return;
	e->releasing = false;
	if (res && pg_result_ok(res)) {
		log_info(e->name, "lease released");
	} else {
		log_warn(e->name, "lease release failed (%s); it will expire on its own",
		         res ? pg_result_error(res) : "connection lost");
	}
	e->held = false;
	update_metrics(ls);
	if (ls->releases_in_flight > 0 && --ls->releases_in_flight == 0 && ls->shutting_down) {
		ls->released = true;
		dazd_check_drained(ls->d);
	}
}

static void release_one(struct lease_state *ls, struct lease_room *e)
{
	const char *params[2] = {ls->d->worker, e->name};
	if (!e->held || e->releasing)
		return;
	if (pg_query(ls->d->db, "SELECT daz.room_release($1, $2)", 2, params, release_done, e) !=
	    0) {
		log_warn(e->name, "database down: lease not released, it will expire on its own");
		e->held = false;
		return;
	}
	e->releasing = true;
	ls->releases_in_flight++;
}

/* ---- acquire ------------------------------------------------------------------------------ */

static void acquire_done(struct pg_conn *c, PGresult *res, void *arg)
{
	struct lease_room *e = arg;
	struct lease_state *ls = e->ls;
	struct room *r;
	(void)c;

	if (gone(ls))
		return;
	e->asking = false;
	if (!res) {
		log_warn(e->name, "lease acquire lost with the database connection; retrying");
		return;
	}
	if (!pg_result_ok(res)) {
		const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		if (code && strcmp(code, "42883") == 0 && !ls->disabled) {
			/* An older schema without leases: behave as a single dazd would. */
			log_warn("lease", "daz.room_acquire missing in the database: rooms connect "
			                  "without leases (apply migration 0005_rooms)");
			ls->disabled = true;
			for (struct room *rr = ls->d->rooms; rr; rr = rr->next)
				if (rr->standby)
					room_set_standby(rr, false);
			update_metrics(ls);
			return;
		}
		log_warn(e->name, "lease acquire failed: %s", pg_result_error(res));
		return;
	}
	bool got = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	e->decided = true;
	r = room_find(ls->d, e->name);
	if (got) {
		bool was = e->held;
		e->held = true;
		e->refused_logged = false;
		if (!room_wanted(r) || ls->shutting_down) {
			release_one(ls, e);
		} else if (!was || r->standby) {
			log_info(e->name, "lease taken (worker %s); connecting", ls->d->worker);
			room_set_standby(r, false);
		}
	} else {
		e->held = false;
		if (!e->refused_logged) {
			log_info(e->name,
			         "held by another worker: standing by, retrying every %d s",
			         (lease_seconds(ls->d) + 2) / 3);
			e->refused_logged = true;
		}
		if (r && !r->standby)
			room_set_standby(r, true);
	}
	update_metrics(ls);
}

static void acquire_one(struct lease_state *ls, struct room *r)
{
	char lease[32];
	struct lease_room *e = entry_get(ls, r->name);
	if (!e || e->asking || e->releasing)
		return;
	snprintf(lease, sizeof(lease), "%d seconds", lease_seconds(ls->d));
	const char *params[6] = {ls->d->worker, r->name, r->site, r->channel, r->username, lease};
	if (pg_query(ls->d->db, "SELECT daz.room_acquire($1, $2, $3, $4, $5, $6::interval)", 6,
	             params, acquire_done, e) == 0)
		e->asking = true;
}

/* ---- heartbeat ---------------------------------------------------------------------------- */

static void beat_done(struct pg_conn *c, PGresult *res, void *arg)
{
	struct lease_state *ls = arg;
	struct dazd *d = ls->d;
	(void)c;

	if (gone(ls))
		return;
	ls->beat_in_flight = false;
	if (!res || !pg_result_ok(res)) {
		const char *code = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
		if (code && strcmp(code, "42883") == 0) {
			if (!ls->disabled) {
				log_warn("lease",
				         "daz.heartbeat missing in the database: rooms "
				         "connect without leases (apply migration 0005_rooms)");
				ls->disabled = true;
				for (struct room *r = d->rooms; r; r = r->next)
					if (r->standby)
						room_set_standby(r, false);
				update_metrics(ls);
			}
			return;
		}
		log_warn("lease", "heartbeat failed: %s",
		         res ? pg_result_error(res) : "connection lost");
		return;
	}
	if (ls->disabled) {
		/* The schema appeared (migrated while running): leases apply from the next start.
		 */
		return;
	}
	ls->last_beat_ok_us = dazd_mono_us();

	/* Leases the database says we hold; anything else we believed we held was taken over. */
	for (struct lease_room *e = ls->rooms; e; e = e->next) {
		bool now_held = false;
		for (int i = 0; i < PQntuples(res); i++)
			if (strcmp(PQgetvalue(res, i, 0), e->name) == 0)
				now_held = true;
		if (e->held && !now_held && !e->releasing) {
			struct room *r = room_find(d, e->name);
			log_warn(e->name, "lease lost to another worker: disconnecting");
			e->held = false;
			if (r) {
				outbox_room_gone(r, "lease lost");
				room_set_standby(r, true);
			}
		} else if (now_held && !e->held && !e->releasing) {
			e->held = true; /* e.g. a restart under the same worker name */
		}
	}
	for (int i = 0; i < PQntuples(res); i++) {
		const char *name = PQgetvalue(res, i, 0);
		struct lease_room *e = entry_find(ls, name);
		struct room *r = room_find(d, name);
		if (!e && r)
			e = entry_get(ls, name);
		if (e && !e->held && !e->releasing)
			e->held = true;
		if (e)
			e->decided = true;
		if (e && r && room_wanted(r) && r->standby && !ls->shutting_down) {
			log_info(name, "lease already ours; connecting");
			room_set_standby(r, false);
		}
	}

	if (ls->shutting_down)
		return;
	/* Give back what is no longer configured; ask for what we want and do not hold. */
	for (struct lease_room *e = ls->rooms; e; e = e->next)
		if (e->held && !room_wanted(room_find(d, e->name))) {
			log_info(e->name, "room no longer served: releasing its lease");
			outbox_room_gone(room_find(d, e->name), "room removed");
			release_one(ls, e);
		}
	for (struct room *r = d->rooms; r; r = r->next)
		if (room_wanted(r))
			acquire_one(ls, r);
	update_metrics(ls);
	if (ls->beat_again) {
		ls->beat_again = false;
		schedule_beat(ls, 1);
	}
}

static void beat(struct lease_state *ls)
{
	struct dazd *d = ls->d;
	char lease[32], pid[24];
	const char *names[256];
	size_t n = 0;

	if (ls->shutting_down)
		return;
	if (ls->beat_in_flight) {
		ls->beat_again = true;
		return;
	}
	if (!d->db || !pg_conn_up(d->db))
		return;
	for (struct room *r = d->rooms; r && n < sizeof(names) / sizeof(names[0]); r = r->next)
		if (room_wanted(r))
			names[n++] = r->name;
	char *rooms = pg_text_array(names, n), *ev_rooms, *ev_times;
	if (!rooms)
		return;
	if (room_event_times(d, &ev_rooms, &ev_times) != 0) {
		free(rooms);
		return;
	}
	snprintf(lease, sizeof(lease), "%d seconds", lease_seconds(d));
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	const char *params[8] = {d->worker, d->host, pid,      DAZD_VERSION,
	                         rooms,     lease,   ev_rooms, ev_times};
	/* The last event time of each room rides on the heartbeat: daz.rooms.last_event_at is
	 * at most one beat (lease_s / 3) old, for one statement per beat. */
	if (pg_query(d->db,
	             "SELECT room FROM unnest(daz.heartbeat($1, $2, $3::int, $4, $5::text[], "
	             "$6::interval, $7::text[], $8::timestamptz[])) AS room",
	             8, params, beat_done, ls) == 0)
		ls->beat_in_flight = true;
	free(rooms);
	free(ev_rooms);
	free(ev_times);
}

static void beat_timer(lws_sorted_usec_list_t *sul)
{
	struct lease_state *ls = lws_container_of(sul, struct lease_state, sul);
	int s = lease_seconds(ls->d);
	if (!ls->d->db || !pg_conn_up(ls->d->db)) {
		/* start-up or reconnect: beat as soon as the database is there */
		schedule_beat(ls, 100000);
		return;
	}
	beat(ls);
	/* lease_s / 3, at least 1 s: two beats may be lost before the lease lapses. */
	schedule_beat(ls, (lws_usec_t)(s >= 3 ? s * 1000000LL / 3 : 1000000LL));
}

static void schedule_beat(struct lease_state *ls, lws_usec_t us)
{
	lws_sul_schedule(ls->d->lws, 0, &ls->sul, beat_timer, us);
}

/*
 * CyTube kicks the older socket when the same account logs in again. If that happens while our
 * lease could not be renewed for a whole lease period (database unreachable), another dazd has
 * most likely taken the room over: stand by instead of kicking it back, until a heartbeat gets
 * through and daz.room_acquire decides.
 */
static void on_event(struct room *r, const char *type, struct json_object *args,
                     int64_t received_us, void *arg)
{
	struct lease_state *ls = arg;
	struct json_object *reason;
	struct lease_room *e;
	(void)received_us;

	if (gone(ls) || ls->disabled || strcmp(type, "kick") != 0 || !args ||
	    !json_object_object_get_ex(args, "reason", &reason) ||
	    !strstr(json_object_get_string(reason), "Duplicate login"))
		return;
	if (dazd_mono_us() - ls->last_beat_ok_us < (int64_t)lease_seconds(ls->d) * 1000000)
		return; /* our lease is fresh: someone else is using the account; ws.c reconnects */
	e = entry_find(ls, r->name);
	log_warn(r->name, "kicked for a duplicate login while the lease could not be renewed: "
	                  "standing by until the database says who holds the room");
	if (e)
		e->held = false;
	outbox_room_gone(r, "lease lost");
	room_set_standby(r, true);
	update_metrics(ls);
}

/* ---- public ------------------------------------------------------------------------------- */

int lease_init(struct dazd *d)
{
	struct outbound *o = outbound_of(d);
	struct lease_state *ls;

	if (!o)
		return -1;
	ls = calloc(1, sizeof(*ls));
	if (!ls)
		return -1;
	ls->d = d;
	o->lease = ls;
	d->rooms_need_lease = true;
	ls->last_beat_ok_us = dazd_mono_us();
	if (ws_add_event_hook(d, on_event, ls) != 0)
		return -1;
	if (d->metrics) {
		if (metrics_declare(d->metrics, "dazd_leases_held", METRICS_GAUGE,
		                    "Rooms whose lease in daz.rooms this worker holds", NULL,
		                    0) != 0 ||
		    metrics_declare(
		        d->metrics, "dazd_room_lease_held", METRICS_GAUGE,
		        "1 when this worker holds the room's lease, 0 while standing by", NULL,
		        0) != 0)
			return -1;
	}
	schedule_beat(ls, 1);
	return 0;
}

void lease_beat_now(struct dazd *d)
{
	struct lease_state *ls = state_of(d);
	if (!ls || ls->shutting_down)
		return;
	schedule_beat(ls, 1);
}

bool lease_held(const struct room *r)
{
	struct lease_state *ls = state_of(r->d);
	if (!ls || ls->disabled)
		return true;
	struct lease_room *e = entry_find(ls, r->name);
	return e && e->held;
}

void lease_release_all(struct dazd *d)
{
	struct lease_state *ls = state_of(d);
	if (!ls || ls->shutting_down)
		return;
	ls->shutting_down = true;
	lws_sul_cancel(&ls->sul);
	if (!ls->disabled && d->db && pg_conn_up(d->db))
		for (struct lease_room *e = ls->rooms; e; e = e->next)
			release_one(ls, e);
	if (ls->releases_in_flight == 0)
		ls->released = true;
}

bool lease_released(const struct dazd *d)
{
	struct lease_state *ls = state_of(d);
	if (!ls)
		return true;
	/* Never hold shutdown hostage to an unreachable database: the leases expire anyway. */
	return ls->released || !d->db || !pg_conn_up(d->db);
}

bool lease_settled(const struct dazd *d)
{
	struct lease_state *ls = state_of(d);

	if (!d->rooms_need_lease || !ls || ls->disabled)
		return true;
	if (!ls->last_beat_ok_us)
		return false;
	for (const struct room *r = d->rooms; r; r = r->next) {
		const struct lease_room *e = room_wanted(r) ? entry_find(ls, r->name) : NULL;
		if (room_wanted(r) && (!e || !e->decided))
			return false;
	}
	return true;
}

unsigned lease_count(const struct dazd *d)
{
	struct lease_state *ls = state_of(d);
	unsigned n = 0;
	if (!ls)
		return 0;
	for (struct lease_room *e = ls->rooms; e; e = e->next)
		if (e->held)
			n++;
	return n;
}

/* Stop the timer. The state and its entries stay: queued d->db callbacks point at them. */
void lease_free(struct dazd *d)
{
	struct outbound *o = outbound_of(d);
	struct lease_state *ls = o ? o->lease : NULL;
	if (!ls)
		return;
	lws_sul_cancel(&ls->sul);
}

void lease_destroy(struct dazd *d)
{
	struct outbound *o = outbound_of(d);
	struct lease_state *ls = o ? o->lease : NULL;

	if (!ls)
		return;
	lws_sul_cancel(&ls->sul);
	while (ls->rooms) {
		struct lease_room *e = ls->rooms;
		ls->rooms = e->next;
		free(e);
	}
	free(ls);
	o->lease = NULL;
}

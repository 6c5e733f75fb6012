/* room.c — per-room state: rooms from the config, state changes, daz.rooms / daz.workers rows. */
#include "room.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfg.h"
#include "dazd.h"
#include "log.h"
#include "metrics.h"
#include "pg.h"
#include "ws.h"

#define HEARTBEAT_MS    5000
#define LEASE_S_DEFAULT 30

void ws_run_state_hooks(struct room *r, enum room_state old_state, enum room_state new_state);

static const char *const state_names[] = {"offline", "connecting", "joined", "backoff",
                                          "open-circuit"};

static lws_sorted_usec_list_t sul_heartbeat;
static struct dazd *hb_dazd;

const char *room_state_name(enum room_state s)
{
	if ((unsigned)s < sizeof(state_names) / sizeof(state_names[0]))
		return state_names[s];
	return "offline";
}

struct room *room_find(struct dazd *d, const char *name)
{
	for (struct room *r = d->rooms; r; r = r->next)
		if (!r->removing && strcmp(r->name, name) == 0)
			return r;
	return NULL;
}

unsigned room_count(const struct dazd *d)
{
	unsigned n = 0;

	for (const struct room *r = d->rooms; r; r = r->next)
		if (!r->removing)
			n++;
	return n;
}

bool room_all_joined(const struct dazd *d)
{
	for (const struct room *r = d->rooms; r; r = r->next)
		if (!r->removing && r->enabled && !r->standby && r->state != ROOM_JOINED)
			return false;
	return true;
}

/* ---- database rows (daz.rooms, daz.workers; SQL owned by the rooms migration) ------------ */

static void report_done(struct pg_conn *c, PGresult *res, void *arg)
{
	(void)c;
	(void)arg;
	if (res && !pg_result_ok(res))
		log_debug("db", "room state not recorded: %s", pg_result_error(res));
}

/* The one place that writes a room's state to the database. */
static void room_report(struct room *r)
{
	struct dazd *d = r->d;
	const char *v[4];

	if (!d->db_has_rooms_sql || !pg_conn_up(d->db))
		return;
	v[0] = d->worker;
	v[1] = r->name;
	v[2] = room_state_name(r->state);
	v[3] = r->last_error[0] ? r->last_error : NULL;
	if (pg_query(d->db, "SELECT daz.room_state($1, $2, $3, $4)", 4, v, report_done, NULL) != 0)
		log_debug(r->name, "cannot queue the room state report");
}

void room_set_state(struct room *r, enum room_state s, const char *error)
{
	enum room_state old = r->state;
	char labels[200];
	bool err_changed = false;

	if (error && strcmp(error, r->last_error) != 0) {
		snprintf(r->last_error, sizeof(r->last_error), "%s", error);
		err_changed = true;
	}
	if (old == s && !err_changed)
		return;
	r->state = s;
	if (old != s) {
		log_info(r->name, "state %s -> %s%s%s", room_state_name(old), room_state_name(s),
		         error ? ": " : "", error ? error : "");
		for (int i = 0; i <= ROOM_OPEN_CIRCUIT; i++)
			metrics_set(r->d->metrics, "dazd_room_state",
			            metrics_labels(labels, sizeof(labels), "room", r->name, "state",
			                           room_state_name((enum room_state)i), NULL),
			            i == (int)s ? 1 : 0);
	}
	room_report(r);
	if (old != s)
		ws_run_state_hooks(r, old, s);
}

/* ---- rooms from the config -------------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static bool same(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

/* The settings copied from the config (the password wiped first). */
static void free_settings(struct room *r)
{
	free(r->site);
	free(r->channel);
	free(r->username);
	if (r->password) {
		explicit_bzero(r->password, strlen(r->password));
		free(r->password);
	}
	free(r->tls_ca_file);
}

static void room_free(struct room *r)
{
	if (!r)
		return;
	ws_room_free(r);
	free(r->name);
	free_settings(r);
	free(r);
}

static int copy_settings(struct room *r, const struct cfg_room *cr)
{
	char *site = strdup(cr->site), *ch = strdup(cr->channel), *user = strdup(cr->username),
	     *pw = dup_or_null(cr->password), *ca = dup_or_null(cr->tls_ca_file);

	if (!site || !ch || !user || (cr->password && !pw) || (cr->tls_ca_file && !ca)) {
		free(site);
		free(ch);
		free(user);
		free(pw);
		free(ca);
		return -1;
	}
	free_settings(r);
	r->site = site;
	r->channel = ch;
	r->username = user;
	r->password = pw;
	r->tls_ca_file = ca;
	r->enabled = cr->enabled;
	r->cfg = cr;
	return 0;
}

static struct room *room_new(struct dazd *d, const struct cfg_room *cr)
{
	struct room *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->d = d;
	r->rank = -1;
	r->name = strdup(cr->key);
	if (!r->name || copy_settings(r, cr) != 0) {
		room_free(r);
		return NULL;
	}
	r->standby = d->rooms_need_lease;
	return r;
}

static void append(struct dazd *d, struct room *r)
{
	struct room **pp = &d->rooms;

	while (*pp)
		pp = &(*pp)->next;
	*pp = r;
}

int room_start_all(struct dazd *d)
{
	for (size_t i = 0; i < d->cfg->n_rooms; i++) {
		struct room *r = room_new(d, &d->cfg->rooms[i]);
		if (!r)
			return -1;
		append(d, r);
		room_set_state(r, ROOM_OFFLINE, NULL);
		if (r->enabled && !r->standby)
			ws_room_start(r);
	}
	return 0;
}

void room_apply_config(struct dazd *d)
{
	struct room *r;

	for (r = d->rooms; r; r = r->next) {
		const struct cfg_room *cr;
		if (r->removing)
			continue;
		cr = cfg_room_find(d->cfg, r->name);
		if (!cr) {
			log_info(r->name, "removed from the config: leaving");
			r->removing = true;
			r->cfg = NULL;
			ws_room_stop(r, "removed from the config");
			continue;
		}
		bool changed = !same(r->site, cr->site) || !same(r->channel, cr->channel) ||
		               !same(r->username, cr->username) ||
		               !same(r->password, cr->password) ||
		               !same(r->tls_ca_file, cr->tls_ca_file) || r->enabled != cr->enabled;
		if (copy_settings(r, cr) != 0) {
			log_error(r->name, "out of memory applying the new config");
			continue;
		}
		if (!changed)
			continue;
		if (!r->enabled) {
			log_info(r->name, "disabled in the config: leaving");
			ws_room_stop(r, "disabled in the config");
		} else if (!r->standby) {
			log_info(r->name, "connection settings changed: reconnecting");
			ws_room_reconnect(r, "config changed");
		}
	}
	for (size_t i = 0; i < d->cfg->n_rooms; i++) {
		const struct cfg_room *cr = &d->cfg->rooms[i];
		if (room_find(d, cr->key))
			continue;
		r = room_new(d, cr);
		if (!r) {
			log_error(cr->key, "out of memory adding the room");
			continue;
		}
		append(d, r);
		log_info(r->name, "added by the config: joining %s", r->channel);
		room_set_state(r, ROOM_OFFLINE, NULL);
		if (r->enabled && !r->standby)
			ws_room_start(r);
	}
}

void room_report_all(struct dazd *d)
{
	for (struct room *r = d->rooms; r; r = r->next)
		if (!r->removing)
			room_report(r);
}

void room_set_standby(struct room *r, bool standby)
{
	if (r->standby == standby)
		return;
	r->standby = standby;
	if (standby)
		ws_room_stop(r, "lease not held");
	else if (r->enabled && !r->removing)
		ws_room_start(r);
}

void room_stop_all(struct dazd *d, const char *why)
{
	for (struct room *r = d->rooms; r; r = r->next)
		ws_room_stop(r, why);
}

bool room_all_closed(const struct dazd *d)
{
	for (const struct room *r = d->rooms; r; r = r->next)
		if (!ws_room_closed(r))
			return false;
	return true;
}

/* Free rooms removed by a reload once their connection is closed. */
static void reap(struct dazd *d)
{
	struct room **pp = &d->rooms;
	char needle[200];

	while (*pp) {
		struct room *r = *pp;
		if (r->removing && ws_room_closed(r)) {
			*pp = r->next;
			snprintf(needle, sizeof(needle), "room=\"%s\"", r->name);
			metrics_forget(d->metrics, "dazd_room_state", needle);
			metrics_forget(d->metrics, "dazd_room_circuit_state", needle);
			room_free(r);
			continue;
		}
		pp = &r->next;
	}
}

void room_free_all(struct dazd *d)
{
	struct room *r = d->rooms, *n;

	lws_sul_cancel(&sul_heartbeat);
	for (; r; r = n) {
		n = r->next;
		room_free(r);
	}
	d->rooms = NULL;
}

/* ---- heartbeat -------------------------------------------------------------------------- */

/* rooms as a text[] literal: {"a","b"} with \ and " escaped. */
static char *rooms_literal(struct dazd *d)
{
	const char **names = malloc((room_count(d) + 1) * sizeof(*names));
	size_t n = 0;
	char *s;

	if (!names)
		return NULL;
	for (struct room *r = d->rooms; r; r = r->next)
		if (!r->removing)
			names[n++] = r->name;
	s = pg_text_array(names, n);
	free(names);
	return s;
}

int room_event_times(struct dazd *d, char **rooms, char **times)
{
	size_t cap = room_count(d) + 1, n = 0;
	const char **names = malloc(cap * sizeof(*names));
	char(*stamps)[40] = malloc(cap * sizeof(*stamps));
	const char **stamp_ptrs = malloc(cap * sizeof(*stamp_ptrs));
	int rc = -1;

	*rooms = *times = NULL;
	if (!names || !stamps || !stamp_ptrs)
		goto out;
	for (struct room *r = d->rooms; r && n < cap; r = r->next) {
		time_t secs = (time_t)(r->last_event_us / 1000000);
		struct tm tm;

		if (r->removing || r->last_event_us <= 0 || !gmtime_r(&secs, &tm))
			continue;
		size_t len = strftime(stamps[n], sizeof(stamps[n]), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(stamps[n] + len, sizeof(stamps[n]) - len, ".%06dZ",
		         (int)(r->last_event_us % 1000000));
		names[n] = r->name;
		stamp_ptrs[n] = stamps[n];
		n++;
	}
	*rooms = pg_text_array(names, n);
	*times = pg_text_array(stamp_ptrs, n);
	if (*rooms && *times)
		rc = 0;
	else {
		free(*rooms);
		free(*times);
		*rooms = *times = NULL;
	}
out:
	free(names);
	free(stamps);
	free(stamp_ptrs);
	return rc;
}

static void heartbeat_cb(lws_sorted_usec_list_t *sul)
{
	struct dazd *d = hb_dazd;
	char pid[16], lease[32], *rooms, *ev_rooms, *ev_times;
	const char *v[8];

	(void)sul;
	reap(d);
	/* With leases (lease.c) the lease heartbeat renews daz.workers; this one is for
	 * inbound-only builds. */
	if (!d->rooms_need_lease && d->db_has_rooms_sql && pg_conn_up(d->db) &&
	    (rooms = rooms_literal(d)) != NULL) {
		if (room_event_times(d, &ev_rooms, &ev_times) != 0) {
			free(rooms);
			goto again;
		}
		snprintf(pid, sizeof(pid), "%d", (int)getpid());
		snprintf(lease, sizeof(lease), "%d seconds",
		         d->cfg->lease_s > 0 ? d->cfg->lease_s : LEASE_S_DEFAULT);
		v[0] = d->worker;
		v[1] = d->host;
		v[2] = pid;
		v[3] = DAZD_VERSION;
		v[4] = rooms;
		v[5] = lease;
		v[6] = ev_rooms;
		v[7] = ev_times;
		if (pg_query(d->db,
		             "SELECT daz.heartbeat($1, $2, $3::int, $4, $5::text[], $6::interval, "
		             "$7::text[], $8::timestamptz[])",
		             8, v, report_done, NULL) != 0)
			log_debug("db", "cannot queue the heartbeat");
		free(rooms);
		free(ev_rooms);
		free(ev_times);
	}
again:
	if (d->phase == DAZD_RUNNING)
		lws_sul_schedule(d->lws, 0, &sul_heartbeat, heartbeat_cb,
		                 (lws_usec_t)HEARTBEAT_MS * LWS_US_PER_MS);
}

void room_heartbeat_start(struct dazd *d)
{
	hb_dazd = d;
	lws_sul_schedule(d->lws, 0, &sul_heartbeat, heartbeat_cb, 1000 * LWS_US_PER_MS);
}

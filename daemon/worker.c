/* worker.c — SQL job worker: runs daz.run_jobs on its own connection when notified and on a timer.
 */
#include "worker.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "dazd.h"
#include "log.h"
#include "metrics.h"
#include "outbox.h"
#include "pg.h"

#define WORKER_TIMER_US 1000000 /* fallback when a notification is lost */

struct worker_state {
	struct dazd *d;
	struct pg_conn *conn; /* "jobs": only daz.run_jobs, so a slow handler delays nobody else */
	lws_sorted_usec_list_t sul;
	bool in_flight, again;
	bool missing_logged;
};

static struct worker_state *state_of(const struct dazd *d)
{
	struct outbound *o = outbound_of(d);
	return o ? o->worker : NULL;
}

static void run(struct worker_state *w);

static void run_done(struct pg_conn *c, PGresult *res, void *arg)
{
	struct worker_state *w = arg;
	(void)c;
	w->in_flight = false;
	if (!res) {
		log_warn("jobs",
		         "daz.run_jobs lost with the connection; running again after reconnect");
		return;
	}
	if (!pg_result_ok(res)) {
		const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		if (code && strcmp(code, "42883") == 0) {
			if (!w->missing_logged)
				log_warn("jobs",
				         "daz.run_jobs missing in the database: SQL jobs not run");
			w->missing_logged = true;
		} else {
			log_warn("jobs", "daz.run_jobs failed: %s", pg_result_error(res));
		}
		w->again = false;
		return;
	}
	w->missing_logged = false;
	int n = PQntuples(res) == 1 ? atoi(PQgetvalue(res, 0, 0)) : 0;
	if (n > 0) {
		log_debug("jobs", "daz.run_jobs ran %d job(s)", n);
		if (w->d->metrics)
			metrics_add(w->d->metrics, "dazd_sql_jobs_run_total", "", n);
	}
	/* A full batch means more are probably waiting. */
	if (n >= WORKER_BATCH || w->again) {
		w->again = false;
		run(w);
	}
}

static void run(struct worker_state *w)
{
	char limit[16];
	if (w->d->phase != DAZD_RUNNING || !pg_conn_up(w->conn))
		return;
	if (w->in_flight) {
		w->again = true;
		return;
	}
	snprintf(limit, sizeof(limit), "%d", WORKER_BATCH);
	const char *params[2] = {w->d->worker, limit};
	if (pg_query(w->conn, "SELECT daz.run_jobs($1, $2::int)", 2, params, run_done, w) == 0) {
		w->in_flight = true;
		w->again = false;
		if (w->d->metrics)
			metrics_add(w->d->metrics, "dazd_sql_worker_calls_total", "", 1);
	}
}

static void timer(lws_sorted_usec_list_t *sul)
{
	struct worker_state *w = lws_container_of(sul, struct worker_state, sul);
	run(w);
	lws_sul_schedule(w->d->lws, 0, &w->sul, timer, WORKER_TIMER_US);
}

static void on_conn_state(struct pg_conn *c, bool up, void *arg)
{
	struct worker_state *w = arg;
	(void)c;
	if (up)
		run(w);
}

int worker_init(struct dazd *d)
{
	struct outbound *o = outbound_of(d);
	struct worker_state *w;
	if (!o || !(w = calloc(1, sizeof(*w))))
		return -1;
	w->d = d;
	o->worker = w;
	if (d->metrics &&
	    (metrics_declare(d->metrics, "dazd_sql_worker_calls_total", METRICS_COUNTER,
	                     "daz.run_jobs calls made by this dazd", NULL, 0) != 0 ||
	     metrics_declare(d->metrics, "dazd_sql_jobs_run_total", METRICS_COUNTER,
	                     "In-database jobs run through daz.run_jobs by this dazd", NULL,
	                     0) != 0))
		return -1;
	struct pg_conn_opts opts = {
	    .name = "jobs",
	    .conninfo = d->cfg && d->cfg->db_conninfo ? d->cfg->db_conninfo : "",
	    .on_state = on_conn_state,
	    .arg = w,
	};
	w->conn = pg_conn_new(d, &opts);
	if (!w->conn)
		return -1;
	lws_sul_schedule(d->lws, 0, &w->sul, timer, WORKER_TIMER_US);
	return 0;
}

void worker_wake(struct dazd *d)
{
	struct worker_state *w = state_of(d);
	if (w)
		run(w);
}

void worker_free(struct dazd *d)
{
	struct outbound *o = outbound_of(d);
	struct worker_state *w = o ? o->worker : NULL;
	if (!w)
		return;
	lws_sul_cancel(&w->sul);
	pg_conn_free(w->conn); /* a pending run_done gets res NULL: w must still exist */
	free(w);
	o->worker = NULL;
}

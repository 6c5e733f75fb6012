/* control.c — the LISTEN connection: daz_jobs wake-ups and daz_control commands. */
#include "control.h"

#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "dazd.h"
#include "lease.h"
#include "log.h"
#include "metrics.h"
#include "outbox.h"
#include "pg.h"
#include "worker.h"

struct control_state {
	struct dazd *d;
	bool listening;
};

static void count_command(struct dazd *d, const char *cmd)
{
	char lb[64];
	if (d->metrics)
		metrics_add(d->metrics, "dazd_control_commands_total",
		            metrics_labels(lb, sizeof(lb), "command", cmd, NULL), 1);
}

bool control_command(struct dazd *d, const char *payload)
{
	char cmd[16], arg[80];
	size_t n = 0, k = 0;
	const char *p = payload;

	while (*p && isspace((unsigned char)*p))
		p++;
	while (*p && !isspace((unsigned char)*p) && n < sizeof(cmd) - 1)
		cmd[n++] = *p++;
	cmd[n] = '\0';
	while (*p && isspace((unsigned char)*p))
		p++;
	while (*p && k < sizeof(arg) - 1)
		arg[k++] = *p++;
	while (k > 0 && isspace((unsigned char)arg[k - 1]))
		k--;
	arg[k] = '\0';
	if (*p) {
		log_warn("control", "daz_control payload too long: ignored");
		count_command(d, "invalid");
		return false;
	}

	if (strcmp(cmd, "reload") == 0 && !*arg) {
		/* Exactly what SIGHUP does: main's signalfd picks it up. */
		log_info("control", "daz_control: reload");
		count_command(d, "reload");
		kill(getpid(), SIGHUP);
		return true;
	}
	if (strcmp(cmd, "shutdown") == 0 && !*arg) {
		log_info("control", "daz_control: shutdown");
		count_command(d, "shutdown");
		kill(getpid(), SIGTERM);
		return true;
	}
	if ((strcmp(cmd, "pause") == 0 || strcmp(cmd, "resume") == 0) && *arg) {
		bool pause = cmd[0] == 'p';
		count_command(d, cmd);
		if (!outbox_pause(d, arg, pause)) {
			log_debug("control", "daz_control: %s %s: not a room of this dazd", cmd,
			          arg);
			return false;
		}
		return true;
	}
	log_warn("control",
	         "daz_control: unknown command \"%.60s\" (reload, shutdown, pause <room>, "
	         "resume <room>)",
	         payload);
	count_command(d, "invalid");
	return false;
}

static void on_notify(struct pg_conn *c, const PGnotify *n, void *arg)
{
	struct control_state *cs = arg;
	(void)c;
	if (strcmp(n->relname, "daz_jobs") == 0) {
		if (strcmp(n->extra, "cytube") == 0)
			outbox_wake(cs->d);
		else
			worker_wake(cs->d);
	} else if (strcmp(n->relname, "daz_control") == 0) {
		(void)control_command(cs->d, n->extra);
	}
}

static void listen_done(struct pg_conn *c, PGresult *res, void *arg)
{
	struct control_state *cs = arg;
	(void)c;
	if (!res || !pg_result_ok(res)) {
		log_warn("control", "LISTEN failed: %s (the poll timers still claim)",
		         res ? pg_result_error(res) : "connection lost");
		return;
	}
	cs->listening = true;
	log_debug("control", "listening on daz_jobs and daz_control");
	/* Anything enqueued while we were not listening: claim and run now. */
	outbox_wake(cs->d);
	worker_wake(cs->d);
	lease_beat_now(cs->d);
}

static void ignore_result(struct pg_conn *c, PGresult *res, void *arg)
{
	(void)c;
	(void)res;
	(void)arg;
}

static void on_state(struct pg_conn *c, bool up, void *arg)
{
	struct control_state *cs = arg;
	cs->listening = false;
	if (!up)
		return;
	if (pg_query(c, "LISTEN daz_jobs", 0, NULL, ignore_result, NULL) != 0 ||
	    pg_query(c, "LISTEN daz_control", 0, NULL, listen_done, cs) != 0)
		log_warn("control", "could not queue LISTEN");
}

int control_init(struct dazd *d)
{
	struct outbound *o = outbound_of(d);
	struct control_state *cs;
	if (!o || !(cs = calloc(1, sizeof(*cs))))
		return -1;
	cs->d = d;
	o->control = cs;
	if (d->metrics &&
	    metrics_declare(d->metrics, "dazd_control_commands_total", METRICS_COUNTER,
	                    "daz_control commands received, by command", NULL, 0) != 0)
		return -1;
	struct pg_conn_opts opts = {
	    .name = "listen",
	    .conninfo = d->cfg && d->cfg->db_conninfo ? d->cfg->db_conninfo : "",
	    .on_state = on_state,
	    .on_notify = on_notify,
	    .arg = cs,
	};
	d->listen = pg_conn_new(d, &opts);
	return d->listen ? 0 : -1;
}

void control_free(struct dazd *d)
{
	struct outbound *o = outbound_of(d);
	if (!o || !o->control)
		return;
	pg_conn_free(d->listen);
	d->listen = NULL;
	free(o->control);
	o->control = NULL;
}

/* main.c — dazd entry point: options, config, the lws context, signals, shutdown and reload. */
#include <errno.h>
#include <getopt.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "cfg.h"
#include "dazd.h"
#include "http.h"
#include "ingest.h"
#include "log.h"
#include "metrics.h"
#include "pg.h"
#include "room.h"
#include "ws.h"

#define DRAIN_TIMEOUT_MS 15000

static struct dazd the_dazd;
static lws_sorted_usec_list_t sul_drain_check, sul_drain_timeout;
static struct lws *sig_wsi;

/* ---- shutdown --------------------------------------------------------------------------- */

static void drain_check_cb(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	dazd_check_drained(&the_dazd);
	if (the_dazd.phase == DAZD_DRAINING)
		lws_sul_schedule(the_dazd.lws, 0, &sul_drain_check, drain_check_cb,
		                 100 * LWS_US_PER_MS);
}

static void drain_timeout_cb(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	log_warn("main", "drain did not finish in %d ms: spooling what is left and exiting",
	         DRAIN_TIMEOUT_MS);
	ingest_spool_now(the_dazd.ingest);
	the_dazd.phase = DAZD_EXITING;
	lws_cancel_service(the_dazd.lws);
}

static void begin_drain(struct dazd *d, const char *why)
{
	if (d->phase != DAZD_RUNNING)
		return;
	log_info("main", "%s: draining (stop reading, store or spool buffered events, close rooms)",
	         why);
	d->phase = DAZD_DRAINING;
	room_stop_all(d, "shutting down");
	ingest_drain(d->ingest);
	lws_sul_schedule(d->lws, 0, &sul_drain_timeout, drain_timeout_cb,
	                 (lws_usec_t)DRAIN_TIMEOUT_MS * LWS_US_PER_MS);
	lws_sul_schedule(d->lws, 0, &sul_drain_check, drain_check_cb, 20 * LWS_US_PER_MS);
}

/* ---- reload ----------------------------------------------------------------------------- */

static enum log_level map_level(enum cfg_log_level l)
{
	switch (l) {
	case CFG_LOG_ERROR:
		return LOG_LVL_ERROR;
	case CFG_LOG_WARN:
		return LOG_LVL_WARN;
	case CFG_LOG_DEBUG:
		return LOG_LVL_DEBUG;
	default:
		return LOG_LVL_INFO;
	}
}

static void reload(struct dazd *d)
{
	struct cfg *nc = NULL, *old;
	char err[512];
	unsigned global = 0;
	struct cfg_room_diff *diff = NULL;
	size_t n_diff = 0;

	if (d->phase != DAZD_RUNNING)
		return;
	if (cfg_load(d->config_path, &nc, err, sizeof(err)) != 0) {
		log_error("main", "reload of %s failed, keeping the running config: %s",
		          d->config_path, err);
		return;
	}
	for (size_t i = 0; i < nc->n_warnings; i++)
		log_warn("main", "config: %s", nc->warnings[i]);
	if (cfg_diff(d->cfg, nc, &diff, &n_diff, &global) != 0) {
		log_error("main", "reload: out of memory, keeping the running config");
		cfg_free(nc);
		return;
	}
	if (global & CFG_DIFF_DATABASE)
		log_warn("main",
		         "reload: database.conninfo changed; applies at the next reconnect");
	if (global & CFG_DIFF_HTTP)
		log_warn("main", "reload: http.listen changed; needs a restart");
	if (global & CFG_DIFF_SPOOL)
		log_warn("main", "reload: spool.dir changed; needs a restart");
	if (global & CFG_DIFF_WORKER)
		log_warn("main", "reload: worker.name changed; needs a restart");
	free(diff);

	old = d->cfg;
	d->cfg = nc;
	log_setup(map_level(nc->log_level), nc->log_format == CFG_LOG_JSON);
	if (global & CFG_DIFF_DATABASE)
		pg_conn_set_conninfo(d->db, nc->db_conninfo);
	room_apply_config(d); /* rooms now point into nc */
	ingest_reconfigure(d->ingest);
	for (int i = 0; i < d->n_reload_hooks; i++)
		d->reload_hooks[i].fn(d, old, nc, d->reload_hooks[i].arg);
	cfg_free(old);
	log_info("main", "reloaded %s: %zu room(s)", d->config_path, nc->n_rooms);
}

/* ---- signals through a signalfd --------------------------------------------------------- */

static int sig_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
	struct signalfd_siginfo si;
	struct dazd *d = &the_dazd;

	(void)user;
	(void)in;
	(void)len;
	if (reason != LWS_CALLBACK_RAW_RX_FILE)
		return 0;
	while (read(lws_get_socket_fd(wsi), &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGHUP:
			log_info("main", "SIGHUP: reloading %s", d->config_path);
			reload(d);
			break;
		case SIGTERM:
		case SIGINT:
			if (d->phase != DAZD_RUNNING) {
				log_warn("main", "second %s: exiting at once",
				         si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
				_exit(1);
			}
			begin_drain(d, si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
			break;
		default:
			break;
		}
	}
	return 0;
}

static const struct lws_protocols sig_protocol = {
    .name = "dazd-signal",
    .callback = sig_callback,
};

static int setup_signals(struct dazd *d)
{
	sigset_t mask;
	lws_sock_file_fd_type fd;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0)
		return -1;
	fd.filefd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd.filefd < 0)
		return -1;
	sig_wsi = lws_adopt_descriptor_vhost(d->vhost, LWS_ADOPT_RAW_FILE_DESC, fd,
	                                     sig_protocol.name, NULL);
	return sig_wsi ? 0 : -1;
}

/* ---- database connection ---------------------------------------------------------------- */

static const char *const udt_names[] = {"jsonb", NULL};
static const char *const comp_names[] = {"daz.event_in", NULL};
static const struct pg_types db_types = {udt_names, comp_names};

static void probe_done(struct pg_conn *c, PGresult *res, void *arg)
{
	struct dazd *d = arg;

	(void)c;
	if (!pg_result_ok(res) || PQntuples(res) != 1)
		return;
	d->db_has_rooms_sql = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	room_report_all(d);
	log_debug("db", "daz.room_state/daz.heartbeat %s",
	          d->db_has_rooms_sql ? "present" : "absent: room state not written");
}

static void db_state(struct pg_conn *c, bool up, void *arg)
{
	struct dazd *d = arg;

	metrics_set(d->metrics, "dazd_db_up", "", up ? 1 : 0);
	if (up &&
	    pg_query(c,
	             "SELECT to_regprocedure('daz.room_state(text,text,text,text)') IS NOT NULL"
	             " AND to_regproc('daz.heartbeat') IS NOT NULL",
	             0, NULL, probe_done, d) != 0)
		log_warn("db", "cannot probe for daz.room_state");
	ingest_db_state(d->ingest, up);
}

/* ---- start-up --------------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f, "usage: dazd -c FILE [--check]\n"
	           "       dazd --version | --help\n"
	           "\n"
	           "  -c, --config FILE  configuration file (JSON; see docs/config.md)\n"
	           "      --check        validate the configuration, print a summary and exit\n"
	           "                     (0 valid, 2 invalid with one line naming the key)\n"
	           "  -V, --version      print the version and exit\n"
	           "  -h, --help         this text\n"
	           "\n"
	           "Signals: SIGHUP reloads the config; SIGTERM drains and exits (a second one\n"
	           "exits at once). HTTP: /metrics, /healthz, /readyz on http.listen.\n");
}

/* "host:port", "[v6]:port" or ":port" → iface (NULL = any) and port. -1 if malformed. */
static int parse_listen(const char *s, char *iface, size_t ifsz, int *port)
{
	const char *colon = strrchr(s, ':');
	char *end;
	long p;

	if (!colon)
		return -1;
	p = strtol(colon + 1, &end, 10);
	if (*end || p < 0 || p > 65535)
		return -1;
	*port = (int)p;
	if (s[0] == '[') {
		size_t n = (size_t)(colon - s);
		if (n < 2 || s[n - 1] != ']' || n - 2 >= ifsz)
			return -1;
		memcpy(iface, s + 1, n - 2);
		iface[n - 2] = '\0';
	} else {
		size_t n = (size_t)(colon - s);
		if (n >= ifsz)
			return -1;
		memcpy(iface, s, n);
		iface[n] = '\0';
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check", no_argument, NULL, 'k'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static struct lws_protocols protos[5];
	struct lws_context_creation_info info;
	struct dazd *d = &the_dazd;
	const char *path = NULL;
	bool check = false;
	char err[512], iface[128] = "";
	int ch, port = 0;

	while ((ch = getopt_long(argc, argv, "c:Vh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'k':
			check = true;
			break;
		case 'V':
			printf("dazd %s (libwebsockets %s)\n", DAZD_VERSION,
			       lws_get_library_version());
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || !path) {
		usage(stderr);
		return 2;
	}

	if (cfg_load(path, &d->cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "dazd: %s: %s\n", path, err);
		return 2;
	}
	if (d->cfg->http_listen[0] && strcmp(d->cfg->http_listen, "off") != 0 &&
	    parse_listen(d->cfg->http_listen, iface, sizeof(iface), &port) != 0) {
		fprintf(stderr, "dazd: %s: http.listen: expected \"host:port\"\n", path);
		return 2;
	}
	if (check) {
		static char summary[16384];
		for (size_t i = 0; i < d->cfg->n_warnings; i++)
			fprintf(stderr, "dazd: warning: %s\n", d->cfg->warnings[i]);
		cfg_summary(d->cfg, summary, sizeof(summary));
		printf("%s: OK\n%s", path, summary);
		cfg_free(d->cfg);
		return 0;
	}

	d->config_path = path;
	d->started_wall_us = dazd_wall_us();
	log_setup(map_level(d->cfg->log_level), d->cfg->log_format == CFG_LOG_JSON);
	for (size_t i = 0; i < d->cfg->n_warnings; i++)
		log_warn("main", "config: %s", d->cfg->warnings[i]);
	if (gethostname(d->host, sizeof(d->host) - 1) != 0)
		snprintf(d->host, sizeof(d->host), "localhost");
	if (d->cfg->worker_name && d->cfg->worker_name[0])
		snprintf(d->worker, sizeof(d->worker), "%.150s", d->cfg->worker_name);
	else
		snprintf(d->worker, sizeof(d->worker), "%.100s:%d", d->host, (int)getpid());

	lws_set_log_level(LLL_ERR | LLL_WARN, log_lws_emit);
	protos[0] = http_lws_protocol;
	protos[1] = ws_lws_protocol;
	protos[2] = pg_lws_protocol;
	protos[3] = sig_protocol;
	memset(&protos[4], 0, sizeof(protos[4]));

	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	d->lws = lws_create_context(&info);
	if (!d->lws)
		die(1, "cannot create the libwebsockets context");

	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.protocols = protos;
	d->vhost_protocols = protos;
	info.vhost_name = "dazd";
	info.port = port ? port : CONTEXT_PORT_NO_LISTEN;
	info.iface = iface[0] ? iface : NULL;
	d->vhost = lws_create_vhost(d->lws, &info);
	if (!d->vhost)
		die(1, "cannot listen on %s (http.listen)", d->cfg->http_listen);

	d->metrics = metrics_new();
	(void)http_attach(d);
	if (!d->metrics || metrics_declare_dazd(d->metrics) != 0)
		die(1, "out of memory");
	if (setup_signals(d) != 0)
		die(1, "cannot set up the signal descriptor: %s", strerror(errno));

	d->ingest = ingest_new(d);
	if (!d->ingest)
		die(1, "cannot start ingest (spool.dir %s)", d->cfg->spool_dir);
	{
		struct pg_conn_opts o = {
		    .name = "db",
		    .conninfo = d->cfg->db_conninfo,
		    .types = &db_types,
		    .on_state = db_state,
		    .arg = d,
		};
		d->db = pg_conn_new(d, &o);
		if (!d->db)
			die(1, "out of memory");
	}
	if (outbox_init && outbox_init(d) != 0)
		die(1, "cannot start the outbox");
	log_info("main", "dazd %s starting: worker %s, %zu room(s), http %s", DAZD_VERSION,
	         d->worker, d->cfg->n_rooms, port ? d->cfg->http_listen : "off");
	if (room_start_all(d) != 0)
		die(1, "cannot start rooms");
	room_heartbeat_start(d);

	while (d->phase != DAZD_EXITING)
		if (lws_service(d->lws, 0) < 0)
			break;

	lws_sul_cancel(&sul_drain_check);
	lws_sul_cancel(&sul_drain_timeout);
	if (outbox_free)
		outbox_free(d);
	ingest_free(d->ingest); /* closes the spool (fsync) */
	d->ingest = NULL;
	pg_conn_free(d->db);
	d->db = NULL;
	if (outbox_release)
		outbox_release(d);
	room_free_all(d);
	lws_context_destroy(d->lws);
	metrics_free(d->metrics);
	cfg_free(d->cfg);
	log_info("main", "exit");
	return 0;
}

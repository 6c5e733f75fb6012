/* cfg.h — dazd configuration: load, validate, diff for reload (json-c, no logging). */
#ifndef DAZ_CFG_H
#define DAZ_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Default values; docs/config.md lists them too. */
#define CFG_DEFAULT_HTTP_LISTEN "127.0.0.1:9187"
#define CFG_DEFAULT_SITE        "https://cytu.be"
#define CFG_DEFAULT_MAX_LEN     320

enum cfg_log_level {
	CFG_LOG_ERROR, /* errors only */
	CFG_LOG_WARN,  /* errors and warnings */
	CFG_LOG_INFO,  /* normal operation (default) */
	CFG_LOG_DEBUG, /* everything, including frames */
};

enum cfg_log_format {
	CFG_LOG_TEXT, /* one human-readable line per message (default) */
	CFG_LOG_JSON, /* one JSON object per line */
};

/* Outbound pacing for one room (token bucket, see bucket.h). */
struct cfg_pacing {
	double burst;      /* tokens the bucket holds; default 4 */
	double per_second; /* refill rate; 0 disables pacing (moderator-like rooms); default 1 */
	int max_len;       /* CyTube message limit in UTF-16 code units; default 320 */
};

/* One configured room. Every string is owned by the struct cfg it belongs to. */
struct cfg_room {
	char *key;           /* room identity: name if given, else channel (never NULL) */
	char *name;          /* rooms[].name, NULL when absent */
	char *channel;       /* CyTube channel, matches ^[A-Za-z0-9_-]{1,30}$ */
	char *site;          /* http(s)://host[:port] without trailing slash */
	char *username;      /* account the bot logs in with */
	char *password;      /* resolved secret (from password, _env or _file); NEVER print.
	                      * NULL (no source) or "" (empty "password"): guest login, send no pw */
	char *password_env;  /* name of the environment variable, NULL when unused */
	char *password_file; /* path of the password file, NULL when unused */
	char *tls_ca_file;   /* CA bundle for wss/https, NULL = system CAs */
	bool enabled;        /* default true */
	struct cfg_pacing pacing;
};

struct cfg {
	char *path;              /* file it was loaded from ("<string>" for cfg_parse) */
	char *db_conninfo;       /* database.conninfo; "" = libpq environment defaults */
	char *http_listen;       /* http.listen, "host:port" ("" or "off" disables) */
	char *spool_dir;         /* spool.dir */
	int64_t spool_max_bytes; /* spool.max_bytes */
	int ingest_batch_max;    /* ingest.batch_max events per round trip */
	int ingest_flush_ms;     /* ingest.flush_ms */
	int ingest_buffer_max;   /* ingest.buffer_max events held in memory before spooling */
	int64_t ingest_buffer_max_bytes; /* ingest.buffer_max_bytes: the same bound in bytes */
	enum cfg_log_level log_level;
	enum cfg_log_format log_format;
	char *worker_name;       /* worker.name, default "<hostname>:<pid>" */
	int outbound_poll_ms;    /* outbound.poll_ms: slow claim timer */
	int outbound_confirm_ms; /* outbound.confirm_ms: echo wait before completing anyway */
	int lease_s;             /* lease_s: room and job lease length in seconds */
	size_t n_rooms;
	struct cfg_room *rooms; /* n_rooms entries, in file order */
	size_t n_warnings;
	char **warnings; /* non-fatal findings (e.g. world-readable password file) */
};

/*
 * Read and validate the JSON config at path. On success *out is a new config (caller frees with
 * cfg_free) and 0 is returned; warnings are in (*out)->warnings. On failure -1 is returned, *out
 * is NULL and err holds one line naming the key path, e.g. "rooms[1].pasword: unknown key".
 * Passwords are resolved here (password_env read with getenv, password_file read from disk).
 */
int cfg_load(const char *path, struct cfg **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Same as cfg_load on a JSON text held in memory (text borrowed). */
int cfg_parse(const char *text, size_t len, struct cfg **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Free a config and everything it owns (passwords are wiped first). cfg_free(NULL) is a no-op. */
void cfg_free(struct cfg *c);

/* Room with this key, or NULL. Borrowed from c. */
const struct cfg_room *cfg_room_find(const struct cfg *c, const char *key);

/*
 * Printable multi-line summary for --check and the start-up log: every setting except secrets
 * (passwords show as "(set)" and their source). Writes at most buflen bytes, always terminated;
 * returns the length it needed (like snprintf).
 */
size_t cfg_summary(const struct cfg *c, char *buf, size_t buflen);

enum cfg_room_change {
	CFG_ROOM_ADDED,   /* only in the new config: join it */
	CFG_ROOM_REMOVED, /* only in the old config: leave it */
	CFG_ROOM_CHANGED, /* connection settings differ (site, channel, account, TLS, enabled):
	                     reconnect */
	CFG_ROOM_PACING,  /* only pacing differs: apply in place, no reconnect */
};

/* One entry of a reload diff. Room pointers are borrowed from the two configs given to cfg_diff. */
struct cfg_room_diff {
	const char *key;
	enum cfg_room_change change;
	const struct cfg_room *old_room; /* NULL for ADDED */
	const struct cfg_room *new_room; /* NULL for REMOVED */
};

/* Bits of cfg_diff's *global result: settings that a reload cannot apply without a restart. */
#define CFG_DIFF_DATABASE (1u << 0) /* database.conninfo */
#define CFG_DIFF_HTTP     (1u << 1) /* http.listen */
#define CFG_DIFF_SPOOL    (1u << 2) /* spool.dir */
#define CFG_DIFF_WORKER   (1u << 3) /* worker.name */

/*
 * Compare two configs for SIGHUP. *out gets one entry per added, removed or changed room (rooms
 * that are equal are not listed); caller frees *out with free(). *global gets CFG_DIFF_* bits for
 * top-level settings that changed and need a restart (the others — log, ingest, outbound, lease,
 * spool.max_bytes — can be applied in place). Returns 0, or -1 when out of memory.
 */
int cfg_diff(const struct cfg *old_cfg, const struct cfg *new_cfg, struct cfg_room_diff **out,
             size_t *n_out, unsigned *global) __attribute__((warn_unused_result));

/* Every key path the loader accepts ("database.conninfo", "rooms[].pacing.burst", ...),
 * NULL-terminated. Static storage. docs/config.md must mention each one. */
extern const char *const cfg_known_keys[];

const char *cfg_log_level_name(enum cfg_log_level l);
const char *cfg_log_format_name(enum cfg_log_format f);

#endif

/* cfg.c — dazd configuration: load, validate, diff for reload (json-c, no logging). */
#include "cfg.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define CFG_FILE_MAX     (1024 * 1024) /* a config larger than this is a mistake */
#define CFG_MAX_DEPTH    16
#define CFG_PASSWORD_MAX 4096
#define CFG_MAX_ROOMS    1000

/* Defaults (documented in docs/config.md). */
#define DEF_SPOOL_DIR        "var/spool"
#define DEF_SPOOL_MAX_BYTES  (256LL * 1024 * 1024)
#define DEF_BATCH_MAX        500
#define DEF_FLUSH_MS         50
#define DEF_BUFFER_MAX       50000
#define DEF_BUFFER_MAX_BYTES (8LL * 1024 * 1024)
#define DEF_POLL_MS          2000
#define DEF_CONFIRM_MS       3000
#define DEF_LEASE_S          30
#define DEF_BURST            4.0
#define DEF_PER_SECOND       1.0

const char *const cfg_known_keys[] = {
    "database",
    "database.conninfo",
    "http",
    "http.listen",
    "spool",
    "spool.dir",
    "spool.max_bytes",
    "ingest",
    "ingest.batch_max",
    "ingest.flush_ms",
    "ingest.buffer_max",
    "ingest.buffer_max_bytes",
    "log",
    "log.level",
    "log.format",
    "worker",
    "worker.name",
    "outbound",
    "outbound.poll_ms",
    "outbound.confirm_ms",
    "lease_s",
    "rooms",
    "rooms[].name",
    "rooms[].channel",
    "rooms[].site",
    "rooms[].username",
    "rooms[].password",
    "rooms[].password_env",
    "rooms[].password_file",
    "rooms[].tls_ca_file",
    "rooms[].enabled",
    "rooms[].pacing",
    "rooms[].pacing.burst",
    "rooms[].pacing.per_second",
    "rooms[].pacing.max_len",
    NULL,
};

struct ctx {
	char *err;
	size_t errlen;
	struct cfg *c;
};

__attribute__((format(printf, 3, 4))) static int fail(struct ctx *x, const char *path,
                                                      const char *fmt, ...)
{
	va_list ap;
	size_t n;
	if (!x->err || !x->errlen)
		return -1;
	n = (size_t)snprintf(x->err, x->errlen, "%s: ", path);
	if (n < x->errlen) {
		va_start(ap, fmt);
		vsnprintf(x->err + n, x->errlen - n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int warn(struct ctx *x, const char *path, const char *fmt, const char *arg)
{
	char buf[512], **nw;
	size_t n = (size_t)snprintf(buf, sizeof(buf), "%s: ", path);
	if (n < sizeof(buf))
		snprintf(buf + n, sizeof(buf) - n, fmt, arg);
	nw = realloc(x->c->warnings, (x->c->n_warnings + 1) * sizeof(*nw));
	if (!nw)
		return -1;
	x->c->warnings = nw;
	nw[x->c->n_warnings] = strdup(buf);
	if (!nw[x->c->n_warnings])
		return -1;
	x->c->n_warnings++;
	return 0;
}

static const char *type_name(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "boolean";
	case json_type_double:
		return "number";
	case json_type_int:
		return "integer";
	case json_type_object:
		return "object";
	case json_type_array:
		return "array";
	case json_type_string:
		return "string";
	}
	return "?";
}

static void join(char *out, size_t cap, const char *parent, const char *key)
{
	if (parent && *parent)
		snprintf(out, cap, "%s.%s", parent, key);
	else
		snprintf(out, cap, "%s", key);
}

/* Every key of obj must be in allowed (NULL-terminated). */
static int check_keys(struct ctx *x, struct json_object *obj, const char *path,
                      const char *const *allowed)
{
	json_object_object_foreach(obj, key, val)
	{
		bool ok = false;
		(void)val;
		for (const char *const *a = allowed; *a; a++) {
			if (strcmp(*a, key) == 0) {
				ok = true;
				break;
			}
		}
		if (!ok) {
			char p[256];
			join(p, sizeof(p), path, key);
			return fail(x, p, "unknown key");
		}
	}
	return 0;
}

/* Optional sub-object: *out NULL when absent. */
static int get_object(struct ctx *x, struct json_object *obj, const char *parent, const char *key,
                      struct json_object **out)
{
	struct json_object *v;
	char p[256];
	*out = NULL;
	if (!json_object_object_get_ex(obj, key, &v))
		return 0;
	join(p, sizeof(p), parent, key);
	if (!json_object_is_type(v, json_type_object))
		return fail(x, p, "expected an object, got %s", type_name(v));
	*out = v;
	return 0;
}

static bool has_control(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	}
	return false;
}

/* String value (copied into *out; def copied when absent, NULL def and absent → NULL or error). */
static int get_string(struct ctx *x, struct json_object *obj, const char *parent, const char *key,
                      const char *def, bool required, size_t max_len, char **out)
{
	struct json_object *v;
	char p[256];
	const char *s;
	join(p, sizeof(p), parent, key);
	*out = NULL;
	if (!obj || !json_object_object_get_ex(obj, key, &v)) {
		if (required)
			return fail(x, p, "missing (required)");
		if (def && !(*out = strdup(def)))
			return fail(x, p, "out of memory");
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return fail(x, p, "expected a string, got %s", type_name(v));
	s = json_object_get_string(v);
	if ((size_t)json_object_get_string_len(v) != strlen(s))
		return fail(x, p, "contains a NUL character");
	if (max_len && strlen(s) > max_len)
		return fail(x, p, "longer than %zu characters", max_len);
	if (has_control(s))
		return fail(x, p, "contains control characters");
	if (!(*out = strdup(s)))
		return fail(x, p, "out of memory");
	return 0;
}

static int get_int(struct ctx *x, struct json_object *obj, const char *parent, const char *key,
                   int64_t def, int64_t min, int64_t max, int64_t *out)
{
	struct json_object *v;
	char p[256];
	join(p, sizeof(p), parent, key);
	*out = def;
	if (!obj || !json_object_object_get_ex(obj, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return fail(x, p, "expected an integer, got %s", type_name(v));
	errno = 0;
	*out = json_object_get_int64(v);
	if (errno == ERANGE || *out < min || *out > max)
		return fail(x, p, "out of range (%lld..%lld)", (long long)min, (long long)max);
	return 0;
}

static int get_intv(struct ctx *x, struct json_object *obj, const char *parent, const char *key,
                    int def, int min, int max, int *out)
{
	int64_t v;
	if (get_int(x, obj, parent, key, def, min, max, &v) < 0)
		return -1;
	*out = (int)v;
	return 0;
}

static int get_number(struct ctx *x, struct json_object *obj, const char *parent, const char *key,
                      double def, double min, double max, double *out)
{
	struct json_object *v;
	char p[256];
	join(p, sizeof(p), parent, key);
	*out = def;
	if (!obj || !json_object_object_get_ex(obj, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
		return fail(x, p, "expected a number, got %s", type_name(v));
	*out = json_object_get_double(v);
	if (!(*out >= min && *out <= max))
		return fail(x, p, "out of range (%g..%g)", min, max);
	return 0;
}

static int get_bool(struct ctx *x, struct json_object *obj, const char *parent, const char *key,
                    bool def, bool *out)
{
	struct json_object *v;
	char p[256];
	join(p, sizeof(p), parent, key);
	*out = def;
	if (!obj || !json_object_object_get_ex(obj, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return fail(x, p, "expected true or false, got %s", type_name(v));
	*out = json_object_get_boolean(v);
	return 0;
}

/* ---- Value checks ----------------------------------------------------------------------- */

static bool word_chars(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n < 1 || n > max)
		return false;
	for (; *s; s++) {
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
			return false;
	}
	return true;
}

static bool valid_port(const char *s, size_t n, bool allow_zero)
{
	long v = 0;
	if (n < 1 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	return (v >= 1 || allow_zero) && v <= 65535;
}

/* host[:port] with host a DNS name, IPv4 address or [IPv6]; port optional unless need_port
 * (a listen address, where port 0 means any free port). */
static bool valid_hostport(const char *s, bool need_port)
{
	const char *colon;
	size_t hl;
	if (*s == '[') {
		const char *end = strchr(s, ']');
		if (!end || end == s + 1)
			return false;
		for (const char *c = s + 1; c < end; c++) {
			if (!isxdigit((unsigned char)*c) && *c != ':' && *c != '.')
				return false;
		}
		if (end[1] == '\0')
			return !need_port;
		return end[1] == ':' && valid_port(end + 2, strlen(end + 2), need_port);
	}
	colon = strchr(s, ':');
	hl = colon ? (size_t)(colon - s) : strlen(s);
	if (hl < 1 || hl > 253)
		return false;
	for (size_t i = 0; i < hl; i++) {
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '-')
			return false;
	}
	if (!colon)
		return !need_port;
	return valid_port(colon + 1, strlen(colon + 1), need_port);
}

/* http(s)://host[:port][/] → normalised without the trailing slash, in place. */
static bool valid_site(char *s)
{
	char *hp;
	size_t n;
	if (strncmp(s, "https://", 8) == 0)
		hp = s + 8;
	else if (strncmp(s, "http://", 7) == 0)
		hp = s + 7;
	else
		return false;
	n = strlen(hp);
	if (n > 0 && hp[n - 1] == '/')
		hp[--n] = '\0';
	return valid_hostport(hp, false);
}

/* ---- Rooms ------------------------------------------------------------------------------ */

static int read_password_file(struct ctx *x, const char *p, const char *file, char **out)
{
	struct stat st;
	char buf[CFG_PASSWORD_MAX + 2];
	ssize_t n;
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	*out = NULL;
	if (fd < 0)
		return fail(x, p, "cannot open %s: %s", file, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return fail(x, p, "%s is not a regular file", file);
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return fail(x, p, "cannot read %s: %s", file, strerror(errno));
	if (n > CFG_PASSWORD_MAX)
		return fail(x, p, "%s is longer than %d bytes", file, CFG_PASSWORD_MAX);
	buf[n] = '\0';
	if (memchr(buf, '\0', (size_t)n))
		return fail(x, p, "%s contains a NUL byte", file);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (n == 0)
		return fail(x, p, "%s is empty", file);
	if (st.st_mode & S_IROTH &&
	    warn(x, p, "%s is readable by every user (chmod 600 it)", file) < 0)
		return fail(x, p, "out of memory");
	*out = strdup(buf);
	memset(buf, 0, sizeof(buf));
	if (!*out)
		return fail(x, p, "out of memory");
	return 0;
}

static int load_room(struct ctx *x, struct json_object *o, size_t idx, struct cfg_room *r)
{
	static const char *const keys[] = {
	    "name",          "channel",     "site",    "username", "password", "password_env",
	    "password_file", "tls_ca_file", "enabled", "pacing",   NULL};
	static const char *const pacing_keys[] = {"burst", "per_second", "max_len", NULL};
	char path[64], p[128];
	struct json_object *pacing;
	int sources = 0;

	snprintf(path, sizeof(path), "rooms[%zu]", idx);
	if (!json_object_is_type(o, json_type_object))
		return fail(x, path, "expected an object, got %s", type_name(o));
	if (check_keys(x, o, path, keys) < 0)
		return -1;
	if (get_string(x, o, path, "name", NULL, false, 64, &r->name) < 0 ||
	    get_string(x, o, path, "channel", NULL, true, 0, &r->channel) < 0 ||
	    get_string(x, o, path, "site", CFG_DEFAULT_SITE, false, 255, &r->site) < 0 ||
	    get_string(x, o, path, "username", NULL, true, 0, &r->username) < 0 ||
	    get_string(x, o, path, "password", NULL, false, CFG_PASSWORD_MAX, &r->password) < 0 ||
	    get_string(x, o, path, "password_env", NULL, false, 255, &r->password_env) < 0 ||
	    get_string(x, o, path, "password_file", NULL, false, 4096, &r->password_file) < 0 ||
	    get_string(x, o, path, "tls_ca_file", NULL, false, 4096, &r->tls_ca_file) < 0 ||
	    get_bool(x, o, path, "enabled", true, &r->enabled) < 0)
		return -1;
	if (r->name && !*r->name)
		return fail(x, (join(p, sizeof(p), path, "name"), p), "must not be empty");
	if (!word_chars(r->channel, 30))
		return fail(x, (join(p, sizeof(p), path, "channel"), p),
		            "\"%s\" is not a CyTube channel name (^[A-Za-z0-9_-]{1,30}$)",
		            r->channel);
	if (!word_chars(r->username, 20))
		return fail(x, (join(p, sizeof(p), path, "username"), p),
		            "\"%s\" is not a CyTube user name (^[A-Za-z0-9_-]{1,20}$)",
		            r->username);
	if (!valid_site(r->site))
		return fail(x, (join(p, sizeof(p), path, "site"), p),
		            "\"%s\" is not an http(s)://host[:port] URL", r->site);
	r->key = strdup(r->name ? r->name : r->channel);
	if (!r->key)
		return fail(x, path, "out of memory");

	sources = (r->password != NULL) + (r->password_env != NULL) + (r->password_file != NULL);
	/* none: a guest login (CyTube accepts guests in most channels) */
	if (sources > 1)
		return fail(x, path,
		            "give at most one of password, password_env, password_file (found %d)",
		            sources);
	/* a disabled room is not joined: its secret is resolved once it is enabled (on reload) */
	if (!r->enabled) {
		/* nothing to resolve yet */
	} else if (r->password_env) {
		const char *v = getenv(r->password_env);
		join(p, sizeof(p), path, "password_env");
		if (!v)
			return fail(x, p, "environment variable %s is not set", r->password_env);
		if (strlen(v) > CFG_PASSWORD_MAX)
			return fail(x, p, "value of %s is too long", r->password_env);
		if (!(r->password = strdup(v)))
			return fail(x, p, "out of memory");
	} else if (r->password_file) {
		join(p, sizeof(p), path, "password_file");
		if (read_password_file(x, p, r->password_file, &r->password) < 0)
			return -1;
	}
	if (r->enabled && r->tls_ca_file && access(r->tls_ca_file, R_OK) < 0)
		return fail(x, (join(p, sizeof(p), path, "tls_ca_file"), p), "cannot read %s: %s",
		            r->tls_ca_file, strerror(errno));

	if (get_object(x, o, path, "pacing", &pacing) < 0)
		return -1;
	join(p, sizeof(p), path, "pacing");
	if (pacing && check_keys(x, pacing, p, pacing_keys) < 0)
		return -1;
	if (get_number(x, pacing, p, "burst", DEF_BURST, 1, 1000, &r->pacing.burst) < 0 ||
	    get_number(x, pacing, p, "per_second", DEF_PER_SECOND, 0, 1000, &r->pacing.per_second) <
	        0 ||
	    get_intv(x, pacing, p, "max_len", CFG_DEFAULT_MAX_LEN, 8, 1000, &r->pacing.max_len) < 0)
		return -1;
	return 0;
}

static bool str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

static int load_rooms(struct ctx *x, struct json_object *root)
{
	struct json_object *arr;
	size_t n;
	if (!json_object_object_get_ex(root, "rooms", &arr))
		return 0;
	if (!json_object_is_type(arr, json_type_array))
		return fail(x, "rooms", "expected an array, got %s", type_name(arr));
	n = json_object_array_length(arr);
	if (n > CFG_MAX_ROOMS)
		return fail(x, "rooms", "more than %d rooms", CFG_MAX_ROOMS);
	if (n == 0)
		return 0;
	x->c->rooms = calloc(n, sizeof(*x->c->rooms));
	if (!x->c->rooms)
		return fail(x, "rooms", "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct cfg_room *r = &x->c->rooms[i];
		x->c->n_rooms = i + 1; /* so cfg_free releases a partly loaded room */
		if (load_room(x, json_object_array_get_idx(arr, i), i, r) < 0)
			return -1;
		for (size_t j = 0; j < i; j++) {
			const struct cfg_room *o = &x->c->rooms[j];
			char path[64];
			snprintf(path, sizeof(path), "rooms[%zu]", i);
			if (strcmp(o->key, r->key) == 0)
				return fail(x, path, "duplicate room \"%s\" (also rooms[%zu])",
				            r->key, j);
			if (str_eq(o->site, r->site) && strcasecmp(o->channel, r->channel) == 0 &&
			    strcasecmp(o->username, r->username) == 0)
				return fail(x, path,
				            "same site, channel and username as rooms[%zu] (CyTube "
				            "would kick one of them)",
				            j);
		}
	}
	return 0;
}

/* ---- Top level -------------------------------------------------------------------------- */

static int default_worker_name(struct ctx *x)
{
	char host[256] = "localhost", buf[300];
	if (gethostname(host, sizeof(host) - 1) < 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(buf, sizeof(buf), "%s:%d", host, (int)getpid());
	if (!(x->c->worker_name = strdup(buf)))
		return fail(x, "worker.name", "out of memory");
	return 0;
}

static int load_root(struct ctx *x, struct json_object *root)
{
	static const char *const top[] = {"database", "http",     "spool",   "ingest", "log",
	                                  "worker",   "outbound", "lease_s", "rooms",  NULL};
	static const char *const k_db[] = {"conninfo", NULL};
	static const char *const k_http[] = {"listen", NULL};
	static const char *const k_spool[] = {"dir", "max_bytes", NULL};
	static const char *const k_ingest[] = {"batch_max", "flush_ms", "buffer_max",
	                                       "buffer_max_bytes", NULL};
	static const char *const k_log[] = {"level", "format", NULL};
	static const char *const k_worker[] = {"name", NULL};
	static const char *const k_out[] = {"poll_ms", "confirm_ms", NULL};
	struct json_object *db, *http, *spool, *ingest, *log, *worker, *out;
	struct cfg *c = x->c;
	char *s = NULL;
	int64_t v;

	if (!json_object_is_type(root, json_type_object))
		return fail(x, "(top level)", "expected an object, got %s", type_name(root));
	if (check_keys(x, root, "", top) < 0 || get_object(x, root, "", "database", &db) < 0 ||
	    get_object(x, root, "", "http", &http) < 0 ||
	    get_object(x, root, "", "spool", &spool) < 0 ||
	    get_object(x, root, "", "ingest", &ingest) < 0 ||
	    get_object(x, root, "", "log", &log) < 0 ||
	    get_object(x, root, "", "worker", &worker) < 0 ||
	    get_object(x, root, "", "outbound", &out) < 0)
		return -1;
	if ((db && check_keys(x, db, "database", k_db) < 0) ||
	    (http && check_keys(x, http, "http", k_http) < 0) ||
	    (spool && check_keys(x, spool, "spool", k_spool) < 0) ||
	    (ingest && check_keys(x, ingest, "ingest", k_ingest) < 0) ||
	    (log && check_keys(x, log, "log", k_log) < 0) ||
	    (worker && check_keys(x, worker, "worker", k_worker) < 0) ||
	    (out && check_keys(x, out, "outbound", k_out) < 0))
		return -1;

	if (get_string(x, db, "database", "conninfo", "", false, 4096, &c->db_conninfo) < 0 ||
	    get_string(x, http, "http", "listen", CFG_DEFAULT_HTTP_LISTEN, false, 300,
	               &c->http_listen) < 0 ||
	    get_string(x, spool, "spool", "dir", DEF_SPOOL_DIR, false, 4096, &c->spool_dir) < 0 ||
	    get_int(x, spool, "spool", "max_bytes", DEF_SPOOL_MAX_BYTES, 1024 * 1024, 1LL << 40,
	            &c->spool_max_bytes) < 0 ||
	    get_intv(x, ingest, "ingest", "batch_max", DEF_BATCH_MAX, 1, 10000,
	             &c->ingest_batch_max) < 0 ||
	    get_intv(x, ingest, "ingest", "flush_ms", DEF_FLUSH_MS, 1, 60000, &c->ingest_flush_ms) <
	        0 ||
	    get_intv(x, ingest, "ingest", "buffer_max", DEF_BUFFER_MAX, 100, 10000000,
	             &c->ingest_buffer_max) < 0 ||
	    get_int(x, ingest, "ingest", "buffer_max_bytes", DEF_BUFFER_MAX_BYTES, 64 * 1024,
	            1LL << 32, &c->ingest_buffer_max_bytes) < 0 ||
	    get_string(x, worker, "worker", "name", NULL, false, 64, &c->worker_name) < 0 ||
	    get_intv(x, out, "outbound", "poll_ms", DEF_POLL_MS, 100, 600000,
	             &c->outbound_poll_ms) < 0 ||
	    get_intv(x, out, "outbound", "confirm_ms", DEF_CONFIRM_MS, 100, 60000,
	             &c->outbound_confirm_ms) < 0 ||
	    get_int(x, root, "", "lease_s", DEF_LEASE_S, 5, 3600, &v) < 0)
		return -1;
	c->lease_s = (int)v;
	if (c->ingest_buffer_max < c->ingest_batch_max)
		return fail(x, "ingest.buffer_max", "smaller than ingest.batch_max (%d)",
		            c->ingest_batch_max);
	if (*c->http_listen && strcmp(c->http_listen, "off") != 0 &&
	    !valid_hostport(c->http_listen, true))
		return fail(x, "http.listen", "\"%s\" is not host:port (or \"off\")",
		            c->http_listen);
	if (!*c->spool_dir)
		return fail(x, "spool.dir", "must not be empty");
	if (c->worker_name && !*c->worker_name)
		return fail(x, "worker.name", "must not be empty");
	if (!c->worker_name && default_worker_name(x) < 0)
		return -1;

	if (get_string(x, log, "log", "level", "info", false, 16, &s) < 0)
		return -1;
	if (!strcmp(s, "error"))
		c->log_level = CFG_LOG_ERROR;
	else if (!strcmp(s, "warn"))
		c->log_level = CFG_LOG_WARN;
	else if (!strcmp(s, "info"))
		c->log_level = CFG_LOG_INFO;
	else if (!strcmp(s, "debug"))
		c->log_level = CFG_LOG_DEBUG;
	else {
		fail(x, "log.level", "\"%s\" is not one of error, warn, info, debug", s);
		free(s);
		return -1;
	}
	free(s);
	if (get_string(x, log, "log", "format", "text", false, 16, &s) < 0)
		return -1;
	if (!strcmp(s, "text"))
		c->log_format = CFG_LOG_TEXT;
	else if (!strcmp(s, "json"))
		c->log_format = CFG_LOG_JSON;
	else {
		fail(x, "log.format", "\"%s\" is not one of text, json", s);
		free(s);
		return -1;
	}
	free(s);
	return load_rooms(x, root);
}

int cfg_parse(const char *text, size_t len, struct cfg **out, char *err, size_t errlen)
{
	struct ctx x = {err, errlen, NULL};
	struct json_tokener *tok = NULL;
	struct json_object *root = NULL;
	enum json_tokener_error jerr;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (len > CFG_FILE_MAX || memchr(text, '\0', len))
		return fail(&x, "(file)", "larger than 1 MiB or contains NUL bytes");
	x.c = calloc(1, sizeof(*x.c));
	tok = json_tokener_new_ex(CFG_MAX_DEPTH);
	if (!x.c || !tok) {
		fail(&x, "(file)", "out of memory");
		goto fail;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_continue)
		jerr = json_tokener_error_parse_eof;
	if (jerr == json_tokener_success && json_tokener_get_parse_end(tok) != len) {
		/* only whitespace may follow the document */
		for (size_t i = json_tokener_get_parse_end(tok); i < len; i++) {
			if (!isspace((unsigned char)text[i])) {
				jerr = json_tokener_error_parse_unexpected;
				break;
			}
		}
	}
	if (jerr != json_tokener_success) {
		size_t end = json_tokener_get_parse_end(tok), line = 1;
		for (size_t i = 0; i < end && i < len; i++)
			line += text[i] == '\n';
		fail(&x, "(file)", "invalid JSON at line %zu: %s", line,
		     json_tokener_error_desc(jerr));
		goto fail;
	}
	if (load_root(&x, root) < 0)
		goto fail;
	json_object_put(root);
	json_tokener_free(tok);
	if (!x.c->path && !(x.c->path = strdup("<string>"))) {
		fail(&x, "(file)", "out of memory");
		goto fail2;
	}
	*out = x.c;
	return 0;
fail:
	json_object_put(root);
	json_tokener_free(tok);
fail2:
	cfg_free(x.c);
	return -1;
}

int cfg_load(const char *path, struct cfg **out, char *err, size_t errlen)
{
	char *buf = NULL;
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd, rc;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > CFG_FILE_MAX) {
		snprintf(err, errlen, "%s: not a regular file of at most 1 MiB", path);
		close(fd);
		return -1;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		snprintf(err, errlen, "%s: out of memory", path);
		close(fd);
		return -1;
	}
	while (got < (size_t)st.st_size &&
	       (n = read(fd, buf + got, (size_t)st.st_size - got)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
			close(fd);
			free(buf);
			return -1;
		}
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	rc = cfg_parse(buf, got, out, err, errlen);
	free(buf);
	if (rc == 0) {
		free((*out)->path);
		(*out)->path = strdup(path);
		if (!(*out)->path) {
			cfg_free(*out);
			*out = NULL;
			snprintf(err, errlen, "%s: out of memory", path);
			return -1;
		}
	}
	return rc;
}

static void wipe_free(char *s)
{
	if (s) {
		volatile char *p = s;
		while (*p)
			*p++ = 0;
		free(s);
	}
}

void cfg_free(struct cfg *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_rooms; i++) {
		struct cfg_room *r = &c->rooms[i];
		free(r->key);
		free(r->name);
		free(r->channel);
		free(r->site);
		free(r->username);
		wipe_free(r->password);
		free(r->password_env);
		free(r->password_file);
		free(r->tls_ca_file);
	}
	free(c->rooms);
	for (size_t i = 0; i < c->n_warnings; i++)
		free(c->warnings[i]);
	free(c->warnings);
	free(c->path);
	wipe_free(c->db_conninfo);
	free(c->http_listen);
	free(c->spool_dir);
	free(c->worker_name);
	free(c);
}

const struct cfg_room *cfg_room_find(const struct cfg *c, const char *key)
{
	for (size_t i = 0; i < c->n_rooms; i++) {
		if (strcmp(c->rooms[i].key, key) == 0)
			return &c->rooms[i];
	}
	return NULL;
}

const char *cfg_log_level_name(enum cfg_log_level l)
{
	switch (l) {
	case CFG_LOG_ERROR:
		return "error";
	case CFG_LOG_WARN:
		return "warn";
	case CFG_LOG_INFO:
		return "info";
	case CFG_LOG_DEBUG:
		return "debug";
	}
	return "?";
}

const char *cfg_log_format_name(enum cfg_log_format f)
{
	return f == CFG_LOG_JSON ? "json" : "text";
}

/* cfg_report.c — what a loaded config says: printable summary without secrets, reload diff. */
#include "cfg.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

/* ---- Summary ---------------------------------------------------------------------------- */

struct sbuf {
	char *buf;
	size_t cap, len;
};

__attribute__((format(printf, 2, 3))) static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;
	va_start(ap, fmt);
	n = vsnprintf(b->len < b->cap ? b->buf + b->len : NULL,
	              b->len < b->cap ? b->cap - b->len : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->len += (size_t)n;
}

/*
 * conninfo with secrets masked: password=... (key/value form, quoted or not), user:pass@ and
 * ?password= / &password= in URIs. Written to b.
 */
static void sb_conninfo(struct sbuf *b, const char *ci)
{
	const char *p = ci;
	bool uri = strncmp(ci, "postgres://", 11) == 0 || strncmp(ci, "postgresql://", 13) == 0;
	if (uri) {
		const char *auth = strstr(ci, "://") + 3;
		const char *at = strchr(auth, '@');
		const char *slash = strchr(auth, '/');
		const char *colon = strchr(auth, ':');
		if (at && (!slash || at < slash) && colon && colon < at) {
			sb_printf(b, "%.*s:***", (int)(colon - ci), ci);
			p = at;
		}
		/* copy the rest, masking password= parameters */
		while (*p) {
			if ((*p == '?' || *p == '&') && strncmp(p + 1, "password=", 9) == 0) {
				sb_printf(b, "%cpassword=***", *p);
				p += 10;
				while (*p && *p != '&')
					p++;
				continue;
			}
			sb_printf(b, "%c", *p++);
		}
		return;
	}
	while (*p) {
		const char *start = p;
		/* skip spaces */
		while (*p && isspace((unsigned char)*p))
			sb_printf(b, "%c", *p++);
		start = p;
		while (*p && *p != '=' && !isspace((unsigned char)*p))
			p++;
		bool is_pw = (size_t)(p - start) == 8 && strncmp(start, "password", 8) == 0;
		sb_printf(b, "%.*s", (int)(p - start), start);
		while (*p && isspace((unsigned char)*p))
			p++;
		if (*p != '=')
			continue;
		sb_printf(b, "=");
		p++;
		while (*p && isspace((unsigned char)*p))
			p++;
		const char *vs = p;
		if (*p == '\'') {
			p++;
			while (*p && *p != '\'') {
				if (*p == '\\' && p[1])
					p++;
				p++;
			}
			if (*p)
				p++;
		} else {
			while (*p && !isspace((unsigned char)*p))
				p++;
		}
		if (is_pw)
			sb_printf(b, "***");
		else
			sb_printf(b, "%.*s", (int)(p - vs), vs);
	}
}

size_t cfg_summary(const struct cfg *c, char *buf, size_t buflen)
{
	struct sbuf b = {buf, buflen, 0};
	if (buflen)
		buf[0] = '\0';
	sb_printf(&b, "config %s\n", c->path ? c->path : "");
	sb_printf(&b, "database.conninfo = ");
	sb_conninfo(&b, c->db_conninfo ? c->db_conninfo : "");
	sb_printf(&b, "\n");
	sb_printf(&b, "http.listen = %s\n", c->http_listen);
	sb_printf(&b, "spool.dir = %s\nspool.max_bytes = %lld\n", c->spool_dir,
	          (long long)c->spool_max_bytes);
	sb_printf(&b,
	          "ingest.batch_max = %d\ningest.flush_ms = %d\ningest.buffer_max = %d\n"
	          "ingest.buffer_max_bytes = %lld\n",
	          c->ingest_batch_max, c->ingest_flush_ms, c->ingest_buffer_max,
	          (long long)c->ingest_buffer_max_bytes);
	sb_printf(&b, "log.level = %s\nlog.format = %s\n", cfg_log_level_name(c->log_level),
	          cfg_log_format_name(c->log_format));
	sb_printf(&b, "worker.name = %s\n", c->worker_name);
	sb_printf(&b, "outbound.poll_ms = %d\noutbound.confirm_ms = %d\nlease_s = %d\n",
	          c->outbound_poll_ms, c->outbound_confirm_ms, c->lease_s);
	for (size_t i = 0; i < c->n_rooms; i++) {
		const struct cfg_room *r = &c->rooms[i];
		char pw[300];
		if (r->password_env)
			snprintf(pw, sizeof(pw), "password from password_env %s%s", r->password_env,
			         r->enabled ? " (set)" : "");
		else if (r->password_file)
			snprintf(pw, sizeof(pw), "password from password_file %s%s",
			         r->password_file, r->enabled ? " (read)" : "");
		else if (r->password && *r->password)
			snprintf(pw, sizeof(pw), "password (set, in the config)");
		else
			snprintf(pw, sizeof(pw), "guest login (no password)");
		sb_printf(&b,
		          "room %s: %s/r/%s as %s, %s, tls_ca_file %s, %s, pacing burst %g "
		          "per_second %g max_len %d\n",
		          r->key, r->site, r->channel, r->username, pw,
		          r->tls_ca_file ? r->tls_ca_file : "(system)",
		          r->enabled ? "enabled" : "disabled", r->pacing.burst,
		          r->pacing.per_second, r->pacing.max_len);
	}
	for (size_t i = 0; i < c->n_warnings; i++)
		sb_printf(&b, "warning: %s\n", c->warnings[i]);
	return b.len;
}

/* ---- Diff ------------------------------------------------------------------------------- */

static bool connection_equal(const struct cfg_room *a, const struct cfg_room *b)
{
	return str_eq(a->channel, b->channel) && str_eq(a->site, b->site) &&
	       str_eq(a->username, b->username) && str_eq(a->password, b->password) &&
	       str_eq(a->tls_ca_file, b->tls_ca_file) && a->enabled == b->enabled;
}

static bool pacing_equal(const struct cfg_room *a, const struct cfg_room *b)
{
	return a->pacing.burst == b->pacing.burst && a->pacing.per_second == b->pacing.per_second &&
	       a->pacing.max_len == b->pacing.max_len;
}

int cfg_diff(const struct cfg *old_cfg, const struct cfg *new_cfg, struct cfg_room_diff **out,
             size_t *n_out, unsigned *global)
{
	size_t cap = old_cfg->n_rooms + new_cfg->n_rooms, n = 0;
	struct cfg_room_diff *d;

	*out = NULL;
	*n_out = 0;
	*global = 0;
	if (!str_eq(old_cfg->db_conninfo, new_cfg->db_conninfo))
		*global |= CFG_DIFF_DATABASE;
	if (!str_eq(old_cfg->http_listen, new_cfg->http_listen))
		*global |= CFG_DIFF_HTTP;
	if (!str_eq(old_cfg->spool_dir, new_cfg->spool_dir))
		*global |= CFG_DIFF_SPOOL;
	if (!str_eq(old_cfg->worker_name, new_cfg->worker_name))
		*global |= CFG_DIFF_WORKER;
	d = calloc(cap ? cap : 1, sizeof(*d));
	if (!d)
		return -1;
	for (size_t i = 0; i < old_cfg->n_rooms; i++) {
		const struct cfg_room *o = &old_cfg->rooms[i];
		const struct cfg_room *nr = cfg_room_find(new_cfg, o->key);
		if (!nr) {
			d[n++] = (struct cfg_room_diff){o->key, CFG_ROOM_REMOVED, o, NULL};
		} else if (!connection_equal(o, nr)) {
			d[n++] = (struct cfg_room_diff){nr->key, CFG_ROOM_CHANGED, o, nr};
		} else if (!pacing_equal(o, nr)) {
			d[n++] = (struct cfg_room_diff){nr->key, CFG_ROOM_PACING, o, nr};
		}
	}
	for (size_t i = 0; i < new_cfg->n_rooms; i++) {
		const struct cfg_room *nr = &new_cfg->rooms[i];
		if (!cfg_room_find(old_cfg, nr->key))
			d[n++] = (struct cfg_room_diff){nr->key, CFG_ROOM_ADDED, NULL, nr};
	}
	*out = d;
	*n_out = n;
	return 0;
}

/* metrics.c — in-process counters, gauges and histograms rendered as Prometheus text. */
#include "metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "split.h"

#define METRICS_HASH 128
/* Series per family. Labels can come from the network (event names): past this many, new label
 * sets share one series labelled overflow="true" so memory stays bounded. */
#define METRICS_MAX_SERIES 2000
#define METRICS_OVERFLOW   "overflow=\"true\""

struct series {
	struct series *next;     /* hash chain */
	struct series *next_all; /* insertion order, for rendering */
	char *labels;
	double value;     /* counter/gauge value; histogram sum */
	uint64_t count;   /* histogram observations */
	uint64_t *bucket; /* histogram: count per bucket (not cumulative) */
};

struct family {
	struct family *next;
	char *name;
	char *help;
	enum metrics_kind kind;
	double *bounds;
	size_t n_bounds;
	struct series *hash[METRICS_HASH];
	struct series *all, *all_tail;
	size_t n_series;
};

struct metrics {
	struct family *fams, *tail;
};

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

struct metrics *metrics_new(void)
{
	return calloc(1, sizeof(struct metrics));
}

static void series_free(struct series *s)
{
	free(s->labels);
	free(s->bucket);
	free(s);
}

void metrics_free(struct metrics *m)
{
	struct family *f, *fn;
	struct series *s, *sn;

	if (!m)
		return;
	for (f = m->fams; f; f = fn) {
		fn = f->next;
		for (s = f->all; s; s = sn) {
			sn = s->next_all;
			series_free(s);
		}
		free(f->name);
		free(f->help);
		free(f->bounds);
		free(f);
	}
	free(m);
}

static struct family *find_family(const struct metrics *m, const char *name)
{
	for (struct family *f = m->fams; f; f = f->next)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

int metrics_declare(struct metrics *m, const char *name, enum metrics_kind kind, const char *help,
                    const double *buckets, size_t n_buckets)
{
	struct family *f;

	if (find_family(m, name))
		return 0;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	f->name = strdup(name);
	f->help = strdup(help);
	f->kind = kind;
	if (kind == METRICS_HISTOGRAM && n_buckets) {
		f->bounds = malloc(n_buckets * sizeof(double));
		if (f->bounds)
			memcpy(f->bounds, buckets, n_buckets * sizeof(double));
		f->n_bounds = n_buckets;
	}
	if (!f->name || !f->help || (kind == METRICS_HISTOGRAM && n_buckets && !f->bounds)) {
		free(f->name);
		free(f->help);
		free(f->bounds);
		free(f);
		return -1;
	}
	if (m->tail)
		m->tail->next = f;
	else
		m->fams = f;
	m->tail = f;
	return 0;
}

static struct series *get_series(struct family *f, const char *labels)
{
	uint32_t h = hash_str(labels) % METRICS_HASH;
	struct series *s;

	for (s = f->hash[h]; s; s = s->next)
		if (strcmp(s->labels, labels) == 0)
			return s;
	if (f->n_series >= METRICS_MAX_SERIES && strcmp(labels, METRICS_OVERFLOW) != 0)
		return get_series(f, METRICS_OVERFLOW);
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->labels = strdup(labels);
	if (f->kind == METRICS_HISTOGRAM)
		s->bucket = calloc(f->n_bounds + 1, sizeof(uint64_t));
	if (!s->labels || (f->kind == METRICS_HISTOGRAM && !s->bucket)) {
		series_free(s);
		return NULL;
	}
	s->next = f->hash[h];
	f->hash[h] = s;
	if (f->all_tail)
		f->all_tail->next_all = s;
	else
		f->all = s;
	f->all_tail = s;
	f->n_series++;
	return s;
}

void metrics_add(struct metrics *m, const char *name, const char *labels, double v)
{
	struct family *f = m ? find_family(m, name) : NULL;
	struct series *s = f ? get_series(f, labels) : NULL;

	if (s)
		s->value += v;
}

void metrics_set(struct metrics *m, const char *name, const char *labels, double v)
{
	struct family *f = m ? find_family(m, name) : NULL;
	struct series *s = f ? get_series(f, labels) : NULL;

	if (s)
		s->value = v;
}

void metrics_observe(struct metrics *m, const char *name, const char *labels, double v)
{
	struct family *f = m ? find_family(m, name) : NULL;
	struct series *s;
	size_t i;

	if (!f || f->kind != METRICS_HISTOGRAM || !(s = get_series(f, labels)))
		return;
	for (i = 0; i < f->n_bounds && v > f->bounds[i]; i++)
		;
	s->bucket[i]++;
	s->count++;
	s->value += v;
}

void metrics_forget(struct metrics *m, const char *name, const char *needle)
{
	struct family *f = m ? find_family(m, name) : NULL;
	struct series **pp, *s, *prev = NULL;

	if (!f)
		return;
	for (s = f->all; s;) {
		struct series *next = s->next_all;
		if (strstr(s->labels, needle)) {
			uint32_t h = hash_str(s->labels) % METRICS_HASH;
			for (pp = &f->hash[h]; *pp != s; pp = &(*pp)->next)
				;
			*pp = s->next;
			if (prev)
				prev->next_all = next;
			else
				f->all = next;
			if (f->all_tail == s)
				f->all_tail = prev;
			f->n_series--;
			series_free(s);
		} else {
			prev = s;
		}
		s = next;
	}
}

char *metrics_labels(char *buf, size_t size, ...)
{
	va_list ap;
	size_t pos = 0;
	const char *k, *v;

	buf[0] = '\0';
	va_start(ap, size);
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		if (!v)
			v = "";
		if (pos + strlen(k) + 4 >= size)
			break;
		pos += (size_t)snprintf(buf + pos, size - pos, "%s%s=\"", pos ? "," : "", k);
		/* Values can come from the network: cut only between whole escapes and whole UTF-8
		 * characters, and write invalid UTF-8 as U+FFFD, so the exposition stays valid. */
		for (size_t left = strlen(v); *v && pos + 3 < size;) {
			unsigned units;
			uint32_t cp;
			size_t n = split_utf8_char(v, left, &units, &cp);
			const char *out = v;
			if (*v == '\\' || *v == '"' || *v == '\n') {
				buf[pos++] = '\\';
				buf[pos++] = *v == '\n' ? 'n' : *v;
				v++;
				left--;
				continue;
			}
			if (cp == 0xFFFD && n == 1 && (unsigned char)*v >= 0x80)
				out = "\xEF\xBF\xBD";
			size_t w = out == v ? n : 3;
			if (pos + w + 1 >= size)
				break;
			memcpy(buf + pos, out, w);
			pos += w;
			v += n;
			left -= n;
		}
		if (pos + 1 < size)
			buf[pos++] = '"';
		buf[pos] = '\0';
	}
	va_end(ap);
	return buf;
}

struct out {
	char *buf;
	size_t len, cap;
	bool oom;
};

static void outf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->oom = true;
			return;
		}
		if ((size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		char *nb = realloc(o->buf, o->cap * 2 + (size_t)n);
		if (!nb) {
			o->oom = true;
			return;
		}
		o->buf = nb;
		o->cap = o->cap * 2 + (size_t)n;
	}
}

static void fmt_num(char *b, size_t sz, double v)
{
	if (isinf(v))
		snprintf(b, sz, v > 0 ? "+Inf" : "-Inf");
	else if (v == (double)(int64_t)v && fabs(v) < 1e15)
		snprintf(b, sz, "%lld", (long long)v);
	else
		snprintf(b, sz, "%.6g", v);
}

char *metrics_render(const struct metrics *m, size_t *len)
{
	static const char *const kinds[] = {"counter", "gauge", "histogram"};
	struct out o = {malloc(8192), 0, 8192, false};
	char num[64], le[64];

	if (!o.buf)
		return NULL;
	o.buf[0] = '\0';
	for (const struct family *f = m->fams; f; f = f->next) {
		outf(&o, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, kinds[f->kind]);
		for (const struct series *s = f->all; s; s = s->next_all) {
			const char *sep = s->labels[0] ? "," : "";
			if (f->kind != METRICS_HISTOGRAM) {
				fmt_num(num, sizeof(num), s->value);
				if (s->labels[0])
					outf(&o, "%s{%s} %s\n", f->name, s->labels, num);
				else
					outf(&o, "%s %s\n", f->name, num);
				continue;
			}
			uint64_t cum = 0;
			for (size_t i = 0; i <= f->n_bounds; i++) {
				cum += s->bucket[i];
				if (i < f->n_bounds)
					fmt_num(le, sizeof(le), f->bounds[i]);
				else
					snprintf(le, sizeof(le), "+Inf");
				outf(&o, "%s_bucket{%s%sle=\"%s\"} %llu\n", f->name, s->labels, sep,
				     le, (unsigned long long)cum);
			}
			fmt_num(num, sizeof(num), s->value);
			if (s->labels[0]) {
				outf(&o, "%s_sum{%s} %s\n", f->name, s->labels, num);
				outf(&o, "%s_count{%s} %llu\n", f->name, s->labels,
				     (unsigned long long)s->count);
			} else {
				outf(&o, "%s_sum %s\n%s_count %llu\n", f->name, num, f->name,
				     (unsigned long long)s->count);
			}
		}
	}
	if (o.oom) {
		free(o.buf);
		return NULL;
	}
	*len = o.len;
	return o.buf;
}

int metrics_declare_dazd(struct metrics *m)
{
	static const double batch_sizes[] = {1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000};
	static const double latency_s[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
	                                   0.05,   0.1,   0.25,   0.5,   1,    2.5};
	static const struct {
		const char *name;
		enum metrics_kind kind;
		const char *help;
	} fams[] = {
	    {"dazd_events_received_total", METRICS_COUNTER,
	     "Events received from CyTube (and dazd pseudo-events), by room and type."},
	    {"dazd_events_stored_total", METRICS_COUNTER,
	     "Events acknowledged by daz.ingest, by room and type."},
	    {"dazd_events_dropped_total", METRICS_COUNTER,
	     "Events dropped because the buffer and spool were full, by room, type and reason."},
	    {"dazd_frames_rejected_total", METRICS_COUNTER,
	     "Inbound frames rejected by the codec, by room and reason."},
	    {"dazd_ingest_batches_total", METRICS_COUNTER,
	     "daz.ingest calls, by result (ok, error, lost)."},
	    {"dazd_ingest_batch_size", METRICS_HISTOGRAM, "Events per daz.ingest call."},
	    {"dazd_ingest_latency_seconds", METRICS_HISTOGRAM,
	     "Round trip of one daz.ingest call."},
	    {"dazd_ingest_buffer_events", METRICS_GAUGE, "Events held in memory, not yet stored."},
	    {"dazd_ingest_buffer_bytes", METRICS_GAUGE,
	     "Memory held by the events waiting for a batch (bounded by ingest.buffer_max_bytes)."},
	    {"dazd_spool_bytes", METRICS_GAUGE, "Size of the spool file."},
	    {"dazd_spool_events", METRICS_GAUGE, "Events in the spool file."},
	    {"dazd_spool_written_total", METRICS_COUNTER, "Events appended to the spool file."},
	    {"dazd_spool_replayed_total", METRICS_COUNTER,
	     "Events read back from the spool file and stored."},
	    {"dazd_spool_skipped_bytes_total", METRICS_COUNTER,
	     "Torn or corrupt spool bytes skipped during replay."},
	    {"dazd_room_state", METRICS_GAUGE,
	     "1 for the room's current state (offline, connecting, joined, backoff, "
	     "open-circuit)."},
	    {"dazd_room_reconnects_total", METRICS_COUNTER, "Reconnect attempts per room."},
	    {"dazd_room_kicks_total", METRICS_COUNTER, "Kicks received per room."},
	    {"dazd_room_circuit_state", METRICS_GAUGE,
	     "Circuit breaker per room: 0 closed, 1 half-open, 2 open."},
	    {"dazd_room_login_failures_total", METRICS_COUNTER, "Failed CyTube logins per room."},
	    {"dazd_db_up", METRICS_GAUGE, "1 when the main database connection is ready."},
	    {"dazd_db_reconnects_total", METRICS_GAUGE, "Database reconnects since start."},
	    {"dazd_up", METRICS_GAUGE, "Always 1 while dazd serves metrics."},
	    {"dazd_start_time_seconds", METRICS_GAUGE, "Unix time dazd started."},
	};

	for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
		const double *b = NULL;
		size_t nb = 0;
		if (strcmp(fams[i].name, "dazd_ingest_batch_size") == 0) {
			b = batch_sizes;
			nb = sizeof(batch_sizes) / sizeof(batch_sizes[0]);
		} else if (fams[i].kind == METRICS_HISTOGRAM) {
			b = latency_s;
			nb = sizeof(latency_s) / sizeof(latency_s[0]);
		}
		if (metrics_declare(m, fams[i].name, fams[i].kind, fams[i].help, b, nb) != 0)
			return -1;
	}
	metrics_set(m, "dazd_up", "", 1);
	return 0;
}

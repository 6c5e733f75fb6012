/* metrics.h — in-process counters, gauges and histograms rendered as Prometheus text. */
#ifndef DAZD_METRICS_H
#define DAZD_METRICS_H

#include <stddef.h>

struct metrics;

enum metrics_kind {
	METRICS_COUNTER = 0,   /* only goes up */
	METRICS_GAUGE = 1,     /* set to a value */
	METRICS_HISTOGRAM = 2, /* observations in fixed buckets */
};

struct metrics *metrics_new(void) __attribute__((warn_unused_result));
void metrics_free(struct metrics *m);

/*
 * Declare a family once (name "dazd_events_received_total", help text, kind). For histograms,
 * buckets are the upper bounds in increasing order (copied). Re-declaring is a no-op.
 */
int metrics_declare(struct metrics *m, const char *name, enum metrics_kind kind, const char *help,
		    const double *buckets, size_t n_buckets) __attribute__((warn_unused_result));

/*
 * labels: a preformatted label set without braces ('room="r1",type="chatMsg"', "" for none);
 * build it with metrics_labels(). Undeclared names are ignored.
 */
void metrics_add(struct metrics *m, const char *name, const char *labels, double v);
void metrics_set(struct metrics *m, const char *name, const char *labels, double v);
void metrics_observe(struct metrics *m, const char *name, const char *labels, double v);
/* Remove every series of name whose labels contain needle (e.g. a removed room). */
void metrics_forget(struct metrics *m, const char *name, const char *needle);

/*
 * Format label pairs (key, value, …, NULL) into buf with Prometheus escaping; returns buf.
 * Truncates safely.
 */
char *metrics_labels(char *buf, size_t size, ...) __attribute__((sentinel));

/* Declare every family dazd's inbound side uses (docs/metrics.md lists them). */
int metrics_declare_dazd(struct metrics *m) __attribute__((warn_unused_result));

/* Render everything in the text exposition format. Caller frees the string. */
char *metrics_render(const struct metrics *m, size_t *len) __attribute__((warn_unused_result));

#endif

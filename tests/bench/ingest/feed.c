/* feed.c — ingest benchmark driver: sends events to daz.ingest in batches the way dazd does (libpqtypes, binary daz.event_in[]), or COPYs them into a table. */

/*
 * Usage (connection from the libpq environment: PGHOST, PGPORT, PGDATABASE, PGUSER):
 *   feed ingest FEED.tsv BATCH     batches of BATCH events through SELECT daz.ingest($1)
 *   feed copy   EVENTS.tsv TABLE   one COPY TABLE (id, ..., payload) FROM STDIN of the same rows
 * FEED.tsv and EVENTS.tsv are written by gen.py. The input is read into memory first and each
 * batch parameter is built before the clock starts, so only the database work (including the
 * transfer and the server's decoding of the parameter) is timed. Prints one line:
 *   <mode> events=<n> seconds=<s> events_per_s=<r> server_cpu_s=<c> stored=<n>
 * server_cpu_s is the CPU time of the serving backend (from /proc), a steadier figure than the
 * wall clock when other work shares the machine.
 */
#include <errno.h>
#include <libpq-fe.h>
#include <libpqtypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FEED_MAX_TAGS 16

/* One event of FEED.tsv; the strings point into the file buffer. */
struct feed_event {
	unsigned char id[16];
	int64_t received_us;
	int64_t server_us; /* -1: none */
	const char *room;
	const char *type;
	const char *tags[FEED_MAX_TAGS];
	int n_tags;
	const char *actor; /* NULL: none */
	const char *payload;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds used so far by the server process serving conn (same machine: /proc). */
static double backend_cpu_s(PGconn *conn)
{
	char path[64], buf[1024];
	unsigned long ut = 0, st = 0;
	FILE *f;
	char *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", PQbackendPID(conn));
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return 0;
	}
	fclose(f);
	p = strrchr(buf, ')');
	/* After the command name: state, then fields 4..; utime and stime are fields 14 and 15. */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		goto fail;
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
		goto fail;
	buf[n] = '\0';
	*len = (size_t)n;
	fclose(f);
	return buf;
fail:
	free(buf);
	fclose(f);
	return NULL;
}

/* jsonb in binary: a version byte (1), then the JSON text. */
static int jsonb_put(PGtypeArgs *args)
{
	const char *s = va_arg(args->ap, const char *);
	size_t n;

	if (!s) {
		args->put.out = NULL;
		return 0;
	}
	n = strlen(s);
	if (args->put.expandBuffer(args, (int)n + 1) == -1)
		return -1;
	args->put.out[0] = 1;
	memcpy(args->put.out + 1, s, n);
	return (int)n + 1;
}

static void to_pgts(int64_t us, PGtimestamp *ts)
{
	time_t secs = (time_t)(us / 1000000);
	struct tm tm;

	memset(ts, 0, sizeof(*ts));
	gmtime_r(&secs, &tm);
	ts->epoch = secs;
	ts->date.year = tm.tm_year + 1900;
	ts->date.mon = tm.tm_mon;
	ts->date.mday = tm.tm_mday;
	ts->date.yday = tm.tm_yday;
	ts->date.wday = tm.tm_wday;
	ts->time.hour = tm.tm_hour;
	ts->time.min = tm.tm_min;
	ts->time.sec = tm.tm_sec;
	ts->time.usec = (int)(us % 1000000);
	ts->time.withtz = 1;
	snprintf(ts->time.tzabbr, sizeof(ts->time.tzabbr), "UTC");
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Splits FEED.tsv in place into events. Returns the number parsed, or -1. */
static long parse_feed(char *buf, struct feed_event **out)
{
	size_t cap = 1024, n = 0;
	struct feed_event *evs = malloc(cap * sizeof(*evs));
	char *line = buf;

	if (!evs)
		return -1;
	while (*line) {
		char *nl = strchr(line, '\n');
		char *f[8];
		int k = 0;
		struct feed_event *e;

		if (nl)
			*nl = '\0';
		f[k++] = line;
		for (char *p = line; *p && k < 8; p++)
			if (*p == '\t') {
				*p = '\0';
				f[k++] = p + 1;
			}
		if (k != 8)
			goto bad;
		if (n == cap) {
			struct feed_event *m = realloc(evs, (cap *= 2) * sizeof(*evs));

			if (!m)
				goto bad;
			evs = m;
		}
		e = &evs[n++];
		memset(e, 0, sizeof(*e));
		for (int i = 0, j = 0; f[0][i] && j < 32; i++) {
			int v = hexval(f[0][i]);

			if (v < 0)
				continue;
			e->id[j / 2] = (unsigned char)(e->id[j / 2] << 4 | v);
			j++;
		}
		e->received_us = strtoll(f[1], NULL, 10);
		e->room = f[2];
		e->type = f[3];
		for (char *t = f[4]; t && *t && e->n_tags < FEED_MAX_TAGS;) {
			char *c = strchr(t, ',');

			e->tags[e->n_tags++] = t;
			if (c)
				*c++ = '\0';
			t = c;
		}
		e->actor = *f[5] ? f[5] : NULL;
		e->server_us = *f[6] ? strtoll(f[6], NULL, 10) : -1;
		e->payload = f[7];
		if (!nl)
			break;
		line = nl + 1;
	}
	*out = evs;
	return (long)n;
bad:
	free(evs);
	return -1;
}

/* Builds the daz.event_in[] parameter of one batch. Caller clears the result. */
static PGparam *build_batch(PGconn *conn, const struct feed_event *evs, long n)
{
	PGparam *param = PQparamCreate(conn);
	PGarray arr;

	memset(&arr, 0, sizeof(arr));
	arr.param = PQparamCreate(conn);
	if (!param || !arr.param)
		goto fail;
	for (long i = 0; i < n; i++) {
		const struct feed_event *e = &evs[i];
		PGparam *row = PQparamCreate(conn);
		PGarray tags;
		PGtimestamp recv, st;
		int ok = 1;

		memset(&tags, 0, sizeof(tags));
		tags.param = PQparamCreate(conn);
		for (int k = 0; ok && k < e->n_tags; k++)
			ok = PQputf(tags.param, "%text", e->tags[k]);
		to_pgts(e->received_us, &recv);
		if (e->server_us >= 0)
			to_pgts(e->server_us, &st);
		ok = ok && PQputf(row, "%uuid %timestamptz %text %text %text[] %text %timestamptz %jsonb", (PGuuid)e->id, &recv,
				  e->room, e->type, &tags, e->actor, e->server_us >= 0 ? &st : NULL, e->payload);
		ok = ok && PQputf(arr.param, "%daz.event_in", row);
		PQparamClear(row);
		PQparamClear(tags.param);
		if (!ok)
			goto fail;
	}
	if (!PQputf(param, "%daz.event_in[]", &arr))
		goto fail;
	PQparamClear(arr.param);
	return param;
fail:
	fprintf(stderr, "feed: building a batch failed: %s\n", PQgeterror());
	PQparamClear(arr.param);
	PQparamClear(param);
	return NULL;
}

static int run_ingest(PGconn *conn, const char *path, long batch)
{
	PGregisterType jsonb = {"jsonb", jsonb_put, NULL};
	PGregisterType event_in = {"daz.event_in", NULL, NULL};
	struct feed_event *evs = NULL;
	size_t len;
	char *buf = read_file(path, &len);
	long n, stored = 0;
	double spent = 0, cpu0;

	if (!buf || (n = parse_feed(buf, &evs)) < 0) {
		fprintf(stderr, "feed: cannot read %s\n", path);
		return 1;
	}
	if (!PQinitTypes(conn) || !PQregisterTypes(conn, PQT_USERDEFINED, &jsonb, 1, 0) ||
	    !PQregisterTypes(conn, PQT_COMPOSITE, &event_in, 1, 0)) {
		fprintf(stderr, "feed: registering types failed: %s\n", PQgeterror());
		return 1;
	}
	cpu0 = backend_cpu_s(conn);
	for (long i = 0; i < n; i += batch) {
		long m = n - i < batch ? n - i : batch;
		PGparam *param = build_batch(conn, evs + i, m);
		PGresult *res;
		double t0;

		if (!param)
			return 1;
		t0 = now_s();
		res = PQparamExec(conn, param, "SELECT daz.ingest($1)", 0);
		spent += now_s() - t0;
		PQparamClear(param);
		if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
			fprintf(stderr, "feed: daz.ingest failed: %s\n", res ? PQresultErrorMessage(res) : PQgeterror());
			PQclear(res);
			return 1;
		}
		stored += strtol(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
	}
	printf("ingest events=%ld seconds=%.3f events_per_s=%.0f server_cpu_s=%.2f stored=%ld\n", n, spent, n / spent,
	       backend_cpu_s(conn) - cpu0, stored);
	free(evs);
	free(buf);
	return 0;
}

static int run_copy(PGconn *conn, const char *path, const char *table)
{
	size_t len, off = 0;
	char *buf = read_file(path, &len);
	char sql[256];
	long n = 0;
	PGresult *res;
	double t0, spent, cpu0 = backend_cpu_s(conn);

	if (!buf) {
		fprintf(stderr, "feed: cannot read %s\n", path);
		return 1;
	}
	for (size_t i = 0; i < len; i++)
		n += buf[i] == '\n';
	snprintf(sql, sizeof(sql), "COPY %s (id, received_at, room, type, tags, actor, server_time, payload) FROM STDIN", table);
	t0 = now_s();
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		fprintf(stderr, "feed: %s", PQresultErrorMessage(res));
		PQclear(res);
		return 1;
	}
	PQclear(res);
	while (off < len) {
		size_t chunk = len - off < 65536 ? len - off : 65536;

		if (PQputCopyData(conn, buf + off, (int)chunk) != 1) {
			fprintf(stderr, "feed: COPY failed: %s", PQerrorMessage(conn));
			return 1;
		}
		off += chunk;
	}
	if (PQputCopyEnd(conn, NULL) != 1)
		return 1;
	res = PQgetResult(conn);
	spent = now_s() - t0;
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		fprintf(stderr, "feed: COPY failed: %s", PQresultErrorMessage(res));
		PQclear(res);
		return 1;
	}
	PQclear(res);
	printf("copy events=%ld seconds=%.3f events_per_s=%.0f server_cpu_s=%.2f stored=%ld\n", n, spent, n / spent,
	       backend_cpu_s(conn) - cpu0, n);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	PGconn *conn;
	int rc;

	if (argc != 4 || (strcmp(argv[1], "ingest") != 0 && strcmp(argv[1], "copy") != 0)) {
		fprintf(stderr, "usage: feed ingest FEED.tsv BATCH | feed copy EVENTS.tsv TABLE\n");
		return 2;
	}
	conn = PQconnectdb("");
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "feed: %s", PQerrorMessage(conn));
		return 1;
	}
	if (strcmp(argv[1], "ingest") == 0) {
		long batch = strtol(argv[3], NULL, 10);

		rc = batch > 0 ? run_ingest(conn, argv[2], batch) : 2;
	} else {
		rc = run_copy(conn, argv[2], argv[3]);
	}
	PQfinish(conn);
	return rc;
}

/* log.c — leveled log lines (text or JSON) on stderr; every line names its scope. */
#include "log.h"

#include <libpq-fe.h>
#include <libwebsockets.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

enum log_level log_threshold = LOG_LVL_INFO;
static bool log_json;

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};

void log_setup(enum log_level level, bool json)
{
	log_threshold = level;
	log_json = json;
}

int log_level_parse(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

const char *log_level_name(enum log_level level)
{
	if ((unsigned)level < sizeof(level_names) / sizeof(level_names[0]))
		return level_names[level];
	return "?";
}

/* Append s to out as a JSON string body (no quotes), escaping what JSON requires. */
static size_t json_escape(char *out, size_t size, size_t pos, const char *s)
{
	for (; *s && pos + 7 < size; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[pos++] = '\\';
			out[pos++] = (char)c;
		} else if (c < 0x20) {
			pos += (size_t)snprintf(out + pos, size - pos, "\\u%04x", c);
		} else {
			out[pos++] = (char)c;
		}
	}
	out[pos] = '\0';
	return pos;
}

void log_line(enum log_level level, const char *scope, const char *fmt, ...)
{
	char msg[2048], line[4608], ts[96];
	struct timeval tv;
	struct tm tm;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One event, one line: fold newlines that came from peers or libpq. */
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (int)(tv.tv_usec / 1000));
	if (!scope)
		scope = "main";

	if (log_json) {
		size_t pos = (size_t)snprintf(line, sizeof(line), "{\"ts\":\"%s\",\"level\":\"%s\",\"scope\":\"",
					      ts, log_level_name(level));
		pos = json_escape(line, sizeof(line), pos, scope);
		pos += (size_t)snprintf(line + pos, sizeof(line) - pos, "\",\"msg\":\"");
		if (pos < sizeof(line))
			pos = json_escape(line, sizeof(line), pos, msg);
		if (pos + 3 < sizeof(line))
			memcpy(line + pos, "\"}", 3);
	} else {
		snprintf(line, sizeof(line), "%s %-5s [%s] %s", ts, log_level_name(level), scope, msg);
	}
	fprintf(stderr, "%s\n", line);
}

void log_lws_emit(int lws_level, const char *line)
{
	enum log_level lvl = LOG_LVL_DEBUG;
	char buf[1024];
	size_t n;

	if (lws_level & LLL_ERR)
		lvl = LOG_LVL_WARN; /* lws errors are peer trouble: the room reconnects */
	else if (lws_level & LLL_WARN)
		lvl = LOG_LVL_INFO;
	if (lvl > log_threshold)
		return;
	snprintf(buf, sizeof(buf), "%s", line);
	n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	log_line(lvl, "lws", "%s", buf);
}

void log_pg_notice(void *scope, const struct pg_result *res)
{
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	enum log_level lvl = LOG_LVL_INFO;

	if (sev && strcmp(sev, "WARNING") == 0)
		lvl = LOG_LVL_WARN;
	else if (sev && (strcmp(sev, "DEBUG") == 0 || strcmp(sev, "LOG") == 0))
		lvl = LOG_LVL_DEBUG;
	LOG_AT(lvl, (const char *)scope, "postgres %s: %s", sev ? sev : "NOTICE", msg ? msg : "");
}

void die(int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_line(LOG_LVL_ERROR, "main", "%s", msg);
	exit(code);
}

/* log.h — leveled log lines (text or JSON) on stderr; every line names its scope. */
#ifndef DAZD_LOG_H
#define DAZD_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_LVL_ERROR = 0, /* something failed and was not retried */
	LOG_LVL_WARN = 1,  /* something failed and will be retried, or was dropped */
	LOG_LVL_INFO = 2,  /* state changes: connected, joined, reloaded */
	LOG_LVL_DEBUG = 3, /* per batch / per reconnect detail */
	LOG_LVL_TRACE = 4, /* per frame */
};

/* Current threshold: lines above it are not formatted at all. */
extern enum log_level log_threshold;

/* Set level and format (json = true for one JSON object per line). */
void log_setup(enum log_level level, bool json);

/* "error" | "warn" | "info" | "debug" | "trace" → level; -1 if unknown. */
int log_level_parse(const char *name, enum log_level *out) __attribute__((warn_unused_result));
const char *log_level_name(enum log_level level);

/* Write one line. scope: room name, "db", "http", "main" … (borrowed, may be NULL). */
void log_line(enum log_level level, const char *scope, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Emit hook for lws_set_log_level(): lws lines become dazd lines with scope "lws". */
void log_lws_emit(int lws_level, const char *line);

/* libpq notice receiver (PQsetNoticeReceiver); arg is the scope string (borrowed). */
struct pg_result;
void log_pg_notice(void *scope, const struct pg_result *res);

#define LOG_AT(lvl, scope, ...)                                                                    \
	do {                                                                                       \
		if ((lvl) <= log_threshold)                                                        \
			log_line((lvl), (scope), __VA_ARGS__);                                     \
	} while (0)

#define log_error(scope, ...) LOG_AT(LOG_LVL_ERROR, scope, __VA_ARGS__)
#define log_warn(scope, ...)  LOG_AT(LOG_LVL_WARN, scope, __VA_ARGS__)
#define log_info(scope, ...)  LOG_AT(LOG_LVL_INFO, scope, __VA_ARGS__)
#define log_debug(scope, ...) LOG_AT(LOG_LVL_DEBUG, scope, __VA_ARGS__)
#define log_trace(scope, ...) LOG_AT(LOG_LVL_TRACE, scope, __VA_ARGS__)

/* Start-up failure only: log and exit(code). */
void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

#endif

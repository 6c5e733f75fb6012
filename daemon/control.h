/* control.h — the LISTEN connection: daz_jobs wake-ups and daz_control commands. */
#ifndef DAZD_CONTROL_H
#define DAZD_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

struct dazd;

/*
 * Open d->listen (a connection that only LISTENs on daz_jobs and daz_control). A 'cytube'
 * daz_jobs notification wakes the outbox; any other queue wakes the SQL worker. After every
 * (re)connect it LISTENs again and wakes both at once, so nothing waits for the poll timer.
 */
int control_init(struct dazd *d) __attribute__((warn_unused_result));
void control_free(struct dazd *d);

/*
 * Act on one daz_control payload: "reload" (like SIGHUP), "shutdown" (like SIGTERM),
 * "pause <room>", "resume <room>". Returns false for an unknown or malformed command (logged).
 */
bool control_command(struct dazd *d, const char *payload);

#endif

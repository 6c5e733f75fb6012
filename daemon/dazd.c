/* dazd.c — the shared context's helpers: hook registration, drain check, clocks. */
#include "dazd.h"

#include <libwebsockets.h>
#include <time.h>

#include "ingest.h"
#include "log.h"
#include "room.h"

int64_t dazd_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t dazd_wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int dazd_add_reload_hook(struct dazd *d, dazd_reload_hook fn, void *arg)
{
	return DAZD_HOOK_ADD(d->reload_hooks, d->n_reload_hooks, fn, arg);
}

int dazd_add_drained_hook(struct dazd *d, dazd_drained_hook fn, void *arg)
{
	return DAZD_HOOK_ADD(d->drained_hooks, d->n_drained_hooks, fn, arg);
}

void dazd_remove_reload_hook(struct dazd *d, dazd_reload_hook fn, void *arg)
{
	DAZD_HOOK_REMOVE(d->reload_hooks, d->n_reload_hooks, fn, arg);
}

void dazd_remove_drained_hook(struct dazd *d, dazd_drained_hook fn, void *arg)
{
	DAZD_HOOK_REMOVE(d->drained_hooks, d->n_drained_hooks, fn, arg);
}

void dazd_check_drained(struct dazd *d)
{
	if (d->phase != DAZD_DRAINING)
		return;
	if (!room_all_closed(d) || !ingest_idle(d->ingest))
		return;
	for (int i = 0; i < d->n_drained_hooks; i++)
		if (!d->drained_hooks[i].fn(d, d->drained_hooks[i].arg))
			return;
	log_info("main", "drained: everything stored or spooled, sockets closed");
	d->phase = DAZD_EXITING;
	lws_cancel_service(d->lws);
}

/* worker.h — SQL job worker: runs daz.run_jobs on its own connection when notified and on a timer.
 */
#ifndef DAZD_WORKER_H
#define DAZD_WORKER_H

struct dazd;

/*
 * Open the "jobs" connection and start the timer. One daz.run_jobs(worker, WORKER_BATCH) call is
 * in flight at most; when it returns a full batch it is called again at once. Handlers may take
 * long: they run on this connection so ingest and the outbox never wait behind them.
 */
int worker_init(struct dazd *d) __attribute__((warn_unused_result));

/* A daz_jobs notification for an in-database queue (or a reconnect): run jobs now. */
void worker_wake(struct dazd *d);

void worker_free(struct dazd *d);

#define WORKER_BATCH 50

#endif

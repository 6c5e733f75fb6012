/* ack.h — batched acknowledgements: daz.complete / daz.fail_many, one round trip per loop turn. */
#ifndef DAZD_ACK_H
#define DAZD_ACK_H

#include <stdbool.h>
#include <stddef.h>

struct dazd;
struct ack;

/*
 * Completions and failures gathered during one loop turn go out together on d->db: one
 * daz.complete(ids, results) and one daz.fail_many(ids, errors, retryable), at most one of each
 * in flight. A batch lost with the connection is sent again once the database is back; a batch
 * the database refuses is logged (the jobs' leases then expire and they are retried).
 */
struct ack *ack_new(struct dazd *d) __attribute__((warn_unused_result));

/* Queue a completion; result_json is copied (e.g. {"sent": 1, "confirmed": true}). */
void ack_complete(struct ack *a, long long id, const char *result_json);

/* Queue a failure; error is copied. retryable false sends the job to the dead letters. */
void ack_fail(struct ack *a, long long id, const char *error, bool retryable);

/* Send what is pending now (if the database is up and nothing of that kind is in flight). */
void ack_flush(struct ack *a);

/* Nothing pending and nothing in flight. */
bool ack_idle(const struct ack *a);

/* Cancel the timer and free the batches (the small struct stays for late callbacks). */
void ack_free(struct ack *a);
/* ack_free, then the struct itself: only once no database callback can arrive any more. */
void ack_destroy(struct ack *a);

/* ---- Batches (pure: no I/O) ----------------------------------------------------------- */

/* One batch of acks: what is waiting to go out, or what is in flight. Zero-initialise. */
struct ack_list {
	long long *ids;
	char **texts;    /* complete: result JSON; fail: error (owned copies) */
	bool *retryable; /* fail only */
	size_t n, cap;
};

/* Append (text copied); -1 when out of memory (the list is unchanged). */
int ack_list_push(struct ack_list *a, long long id, const char *text, bool retryable);
/* Empty it, keeping the arrays; ack_list_free also frees them. */
void ack_list_clear(struct ack_list *a);
void ack_list_free(struct ack_list *a);
/* A batch lost with the connection: append fly's entries to pending, then empty fly. */
void ack_list_requeue(struct ack_list *fly, struct ack_list *pending);
/*
 * The three array literals of a batch for daz.complete / daz.fail_many: ids {1,2}, texts
 * {"…","…"} (escaped), flags {t,f}. Caller frees all three; -1 (all NULL) when out of memory.
 */
int ack_list_literals(struct ack_list *a, char **ids, char **texts, char **flags);

#endif

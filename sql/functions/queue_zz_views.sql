-- queue_zz_views.sql — DBA and dashboard views over the queues (after the queue functions, by file name).

CREATE OR REPLACE VIEW daz.queue_overview AS
SELECT q.name                            AS queue,
       q.paused,
       coalesce(j.ready, 0)              AS ready,
       coalesce(j.scheduled, 0)          AS scheduled,
       coalesce(j.retrying, 0)           AS retrying,
       coalesce(j.running, 0)            AS running,
       coalesce(j.expired, 0)            AS expired,
       coalesce(d.dead, 0)               AS dead,
       coalesce(r.completed_1h, 0)       AS completed_1h,
       now() - j.oldest_ready            AS oldest_ready_age,
       j.next_run_at
  FROM daz.queues q
  LEFT JOIN (
        SELECT x.queue,
               count(*) FILTER (WHERE x.state = 'ready' AND x.run_at <= now())                      AS ready,
               count(*) FILTER (WHERE x.state = 'ready' AND x.run_at > now() AND x.attempts = 0)    AS scheduled,
               count(*) FILTER (WHERE x.state = 'ready' AND x.run_at > now() AND x.attempts > 0)    AS retrying,
               count(*) FILTER (WHERE x.state = 'running')                                          AS running,
               count(*) FILTER (WHERE x.state = 'running' AND x.lease_until < now())                AS expired,
               min(x.run_at) FILTER (WHERE x.state = 'ready' AND x.run_at <= now())                 AS oldest_ready,
               min(x.run_at) FILTER (WHERE x.state = 'ready' AND x.run_at > now())                  AS next_run_at
          FROM daz.jobs x
         GROUP BY x.queue) AS j ON j.queue = q.name
  LEFT JOIN (
        SELECT y.queue, count(*) AS dead FROM daz.dead_letters y WHERE y.reason <> 'cancelled' GROUP BY y.queue
       ) AS d ON d.queue = q.name
  LEFT JOIN (
        SELECT z.queue, count(*) AS completed_1h FROM daz.job_results z
         WHERE z.completed_at > now() - interval '1 hour' GROUP BY z.queue
       ) AS r ON r.queue = q.name;

COMMENT ON VIEW daz.queue_overview IS
    'Per queue: paused; ready (runnable now), scheduled (first run later), retrying (waiting for backoff), running, '
    'expired (running past their lease, rescued within a minute), dead (dead letters, not counting cancelled), '
    'completed_1h, oldest_ready_age (how long the oldest runnable job has waited), next_run_at.';
GRANT SELECT ON daz.queue_overview TO daz_reader, daz_operator;

CREATE OR REPLACE VIEW daz.dead_letter_overview AS
SELECT d.queue,
       d.kind,
       d.reason,
       left(d.last_error, 200) AS error,
       count(*)                AS dead,
       min(d.died_at)          AS first_died_at,
       max(d.died_at)          AS last_died_at,
       max(d.id)               AS last_id
  FROM daz.dead_letters d
 GROUP BY d.queue, d.kind, d.reason, left(d.last_error, 200);

COMMENT ON VIEW daz.dead_letter_overview IS
    'Dead letters grouped by queue, kind, reason and error (first 200 characters): how many, first and last death, '
    'and the id of the latest (for daz.job_status or a look at its errors).';
GRANT SELECT ON daz.dead_letter_overview TO daz_reader, daz_operator;

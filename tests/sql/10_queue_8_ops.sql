-- 10_queue_8_ops.sql — retry_dead(_many), cancel, job_status, await_result, views, pruning, pg_cron schedule.
BEGIN;
SELECT plan(37);

INSERT INTO daz.queues (name, max_attempts, backoff_base, backoff_max, retention, comment)
VALUES ('tq_ops', 2, '1 hour', '1 hour', '1 hour', 'test queue');

-- Run a job through claim + fail until it is dead.
CREATE FUNCTION pg_temp.kill(p_id bigint, p_error text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_out text;
BEGIN
    LOOP
        -- what daz.claim does, for this one job only
        UPDATE daz.jobs SET state = 'running', attempts = attempts + 1, lease_until = now() + interval '1 minute',
                            locked_by = 'w'
         WHERE id = p_id;
        v_out := daz.fail(p_id, p_error);
        EXIT WHEN v_out IS DISTINCT FROM 'retry';
    END LOOP;
    RETURN v_out;
END
$$;

CREATE TEMP TABLE j (what text PRIMARY KEY, id bigint);
INSERT INTO j VALUES
    ('dead1', daz.enqueue('tq_ops', 'send', '{"n":1}', 'r1', 0, now(), 'key-1')),
    ('dead2', daz.enqueue('tq_ops', 'send', '{"n":2}', 'r1')),
    ('dead3', daz.enqueue('tq_ops', 'other', '{"n":3}')),
    ('ready', daz.enqueue('tq_ops', 'wait')),
    ('later', daz.enqueue('tq_ops', 'wait', p_run_at => now() + interval '1 hour')),
    ('done', daz.enqueue('tq_ops', 'quick'));
SELECT is(pg_temp.kill((SELECT id FROM j WHERE what = 'dead1'), 'room offline'), 'dead', 'dead1 died');
SELECT is(pg_temp.kill((SELECT id FROM j WHERE what = 'dead2'), 'room offline'), 'dead', 'dead2 died');
SELECT is(pg_temp.kill((SELECT id FROM j WHERE what = 'dead3'), 'errorMsg: nope'), 'dead', 'dead3 died');
CREATE TEMP TABLE c AS SELECT * FROM daz.claim('tq_ops', 'w', 1) WHERE false;
UPDATE daz.jobs SET state = 'running', attempts = 1, lease_until = now() + interval '1 minute', locked_by = 'w'
 WHERE id = (SELECT id FROM j WHERE what = 'done');
SELECT is(daz.complete(ARRAY[(SELECT id FROM j WHERE what = 'done')], ARRAY['{"sent":1}'::jsonb]), 1, 'done completed');

-- views
SELECT results_eq($$SELECT paused, ready, scheduled, retrying, running, expired, dead, completed_1h
                      FROM daz.queue_overview WHERE queue = 'tq_ops'$$,
                  $$VALUES (false, 1::bigint, 1::bigint, 0::bigint, 0::bigint, 0::bigint, 3::bigint, 1::bigint)$$,
                  'queue_overview counts ready, scheduled, dead and completed jobs');
SELECT ok((SELECT oldest_ready_age >= interval '0' FROM daz.queue_overview WHERE queue = 'tq_ops'),
          'queue_overview shows how long the oldest ready job has waited');
SELECT results_eq($$SELECT kind, reason, error, dead FROM daz.dead_letter_overview WHERE queue = 'tq_ops' ORDER BY kind$$,
                  $$VALUES ('other', 'exhausted', 'errorMsg: nope', 1::bigint), ('send', 'exhausted', 'room offline', 2::bigint)$$,
                  'dead_letter_overview groups dead letters by kind, reason and error');

-- job_status in every state
SELECT is((SELECT array_agg(s.status ORDER BY j.what) FROM j, LATERAL daz.job_status(j.id) s),
          ARRAY['dead', 'dead', 'dead', 'completed', 'scheduled', 'ready'], 'job_status: dead, completed, scheduled, ready');
SELECT is((SELECT result FROM daz.job_status((SELECT id FROM j WHERE what = 'done'))), '{"sent": 1}'::jsonb,
          'job_status carries the result of a completed job');
SELECT is((SELECT status FROM daz.job_status(-1)), 'unknown', 'job_status of an unknown id says unknown');

-- await_result
SELECT is(daz.await_result((SELECT id FROM j WHERE what = 'done'), '1 second'), '{"sent": 1}'::jsonb,
          'await_result returns the result of a completed job');
SELECT throws_ok($$SELECT daz.await_result((SELECT id FROM j WHERE what = 'dead3'), '1 second')$$, 'P0001',
                 format('daz.await_result: job %s is dead after 2 attempts: errorMsg: nope', (SELECT id FROM j WHERE what = 'dead3')),
                 'await_result raises with the last error when the job died');
SELECT throws_ok($$SELECT daz.await_result(-1, '1 second')$$, 'P0002',
                 'daz.await_result: no job -1 (never existed, or its result was pruned)', 'await_result on an unknown id');
CREATE TEMP TABLE t0 AS SELECT clock_timestamp() AS t;
SELECT throws_ok($$SELECT daz.await_result((SELECT id FROM j WHERE what = 'ready'), '0.2 seconds')$$, '55000',
                 format('daz.await_result: job %s not finished after 00:00:00.2', (SELECT id FROM j WHERE what = 'ready')),
                 'await_result gives up after its timeout');
SELECT ok(clock_timestamp() - (SELECT t FROM t0) BETWEEN interval '0.2 seconds' AND interval '1 second',
          'after waiting about as long as asked');
SELECT throws_ok($$SELECT daz.await_result(1, '2 hours')$$, '22023', NULL, 'await_result refuses a timeout over an hour');

-- retry_dead
SELECT is(daz.retry_dead((SELECT id FROM j WHERE what = 'dead1')), (SELECT id FROM j WHERE what = 'dead1'),
          'retry_dead returns the same id');
SELECT results_eq($$SELECT state::text, attempts, run_at = now(), jsonb_array_length(errors), dedup_key, payload
                      FROM daz.jobs WHERE id = (SELECT id FROM j WHERE what = 'dead1')$$,
                  $$VALUES ('ready', 0, true, 2, 'key-1', '{"n":1}'::jsonb)$$,
                  'the job is ready now with fresh attempts, its error history and dedup key kept');
SELECT is((SELECT count(*)::int FROM daz.dead_letters WHERE id = (SELECT id FROM j WHERE what = 'dead1')), 0,
          'and is no longer a dead letter');
SELECT throws_ok($$SELECT daz.retry_dead(-1)$$, 'P0002', 'daz.retry_dead: no dead letter with id -1', 'retry_dead: unknown id');
SELECT is(pg_temp.kill((SELECT id FROM j WHERE what = 'dead1'), 'room offline'), 'dead', 'dead1 died again');
INSERT INTO j VALUES ('holder', daz.enqueue('tq_ops', 'send', p_dedup_key => 'key-1'));
SELECT throws_ok($$SELECT daz.retry_dead((SELECT id FROM j WHERE what = 'dead1'))$$, '23505',
                 format('daz.retry_dead: job %s has dedup key "key-1", which a live job of queue tq_ops holds',
                        (SELECT id FROM j WHERE what = 'dead1')),
                 'retry_dead refuses when a live job holds the dedup key');

-- retry_dead_many
SELECT is(daz.retry_dead_many('tq_ops', p_error_like => 'room%', p_since => now() - interval '1 hour'), 1,
          'retry_dead_many retries what died of "room..." in the last hour, except a dedup clash');
SELECT is((SELECT array_agg(j.what ORDER BY j.what) FROM j JOIN daz.dead_letters d ON d.id = j.id), ARRAY['dead1', 'dead3'],
          'dead1 (dedup clash) and dead3 (other error) stay dead');
SELECT is(daz.retry_dead_many('tq_ops', 'other', p_since => now() + interval '1 minute'), 0,
          'a time window in the future matches nothing');
SELECT is(daz.retry_dead_many(p_kind => 'other'), 1, 'retry_dead_many by kind alone');
SELECT throws_ok($$SELECT daz.retry_dead_many('nope')$$, '22023', 'daz.retry_dead_many: unknown queue "nope"',
                 'retry_dead_many: unknown queue');

-- cancel
SELECT is(daz.cancel((SELECT id FROM j WHERE what = 'ready')), true, 'cancel takes a ready job off the queue');
SELECT results_eq($$SELECT reason, last_error FROM daz.dead_letters WHERE id = (SELECT id FROM j WHERE what = 'ready')$$,
                  $$VALUES ('cancelled', 'cancelled')$$, 'into dead letters with reason cancelled');
SELECT is((SELECT status FROM daz.job_status((SELECT id FROM j WHERE what = 'ready'))), 'cancelled', 'job_status says cancelled');
SELECT is(daz.cancel(-1), false, 'cancel of an unknown job returns false');
SELECT is((SELECT dead FROM daz.queue_overview WHERE queue = 'tq_ops'), 1::bigint,
          'cancelled jobs do not count as dead in queue_overview');

-- pruning
UPDATE daz.job_results SET completed_at = now() - interval '2 hours' WHERE id = (SELECT id FROM j WHERE what = 'done');
INSERT INTO daz.job_results (id, queue, kind, payload, attempts, created_at, result)
VALUES (-42, 'tq_ops', 'fresh', '{}', 1, now(), '{}');
SET LOCAL client_min_messages = warning;
CALL daz.prune_job_results();
RESET client_min_messages;
SELECT is((SELECT array_agg(id) FROM daz.job_results WHERE queue = 'tq_ops'), ARRAY[-42::bigint],
          'prune_job_results removes results older than the queue''s retention and keeps newer ones');
SELECT lives_ok($$SELECT daz.prune_cron_history()$$, 'prune_cron_history runs');

-- pg_cron schedule (only where pg_cron is installed)
SELECT CASE WHEN to_regnamespace('cron') IS NULL
            THEN skip('pg_cron is not installed in this database', 3)
            ELSE collect_tap(
                is(daz.install_cron(), 4, 'install_cron schedules four jobs'),
                is(daz.install_cron(), 4, 'and can run again'),
                results_eq($$SELECT jobname::text COLLATE "default", schedule::text COLLATE "default" FROM cron.job WHERE jobname LIKE 'daz-%' AND jobname IN
                               ('daz-rescue-expired', 'daz-run-jobs', 'daz-prune-job-results', 'daz-prune-cron-history')
                             ORDER BY jobname$$,
                           $$VALUES ('daz-prune-cron-history', '43 3 * * *'), ('daz-prune-job-results', '17 * * * *'),
                                    ('daz-rescue-expired', '* * * * *'), ('daz-run-jobs', '* * * * *')$$,
                           'once each: lease rescue and run_jobs every minute, result pruning hourly, cron history daily'))
       END;

SELECT * FROM finish();
ROLLBACK;

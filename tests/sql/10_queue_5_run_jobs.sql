-- 10_queue_5_run_jobs.sql — daz.run_jobs: handlers, per-job subtransactions, errors, statement timeouts.
BEGIN;
SELECT plan(20);

INSERT INTO daz.queues (name, max_attempts, backoff_base, handler, comment)
VALUES ('tq_run', 3, '1 minute', NULL, 'test queue with handlers');

CREATE TABLE daz.tap_side_effects (job_id bigint, note text);
CREATE FUNCTION daz.tap_echo(p_job daz.jobs) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO daz.tap_side_effects VALUES (p_job.id, 'echo');
    RETURN jsonb_build_object('echo', p_job.payload, 'kind', p_job.kind);
END
$$;
CREATE FUNCTION daz.tap_raise(p_job daz.jobs) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO daz.tap_side_effects VALUES (p_job.id, 'raise');   -- must be rolled back with the job
    RAISE EXCEPTION 'handler says no to %', p_job.kind;
END
$$;
CREATE FUNCTION daz.tap_bad_data(p_job daz.jobs) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    RETURN jsonb_build_object('n', 1 / 0);
END
$$;
CREATE FUNCTION daz.tap_spin(p_job daz.jobs) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO daz.tap_side_effects VALUES (p_job.id, 'spin');
    LOOP
        PERFORM pg_sleep(0.01);
    END LOOP;
END
$$;
UPDATE daz.queues SET handler = 'daz.tap_echo(daz.jobs)' WHERE name = 'tq_run';

CREATE TEMP TABLE j AS
SELECT 'echo'::text AS what, daz.enqueue('tq_run', 'e1', '{"x":1}') AS id
UNION ALL SELECT 'raise', daz.enqueue('tq_run', 'r1', p_handler => 'daz.tap_raise(daz.jobs)', p_priority => 1)
UNION ALL SELECT 'bad', daz.enqueue('tq_run', 'b1', p_handler => 'daz.tap_bad_data(daz.jobs)', p_priority => 1)
UNION ALL SELECT 'later', daz.enqueue('tq_run', 'l1', p_run_at => now() + interval '1 hour')
UNION ALL SELECT 'unrouted', daz.enqueue('bot', 'no_such_command')
UNION ALL SELECT 'cytube', daz.say('lobby', 'not for run_jobs');

SELECT is(daz.run_jobs('tap', 100), 4, 'run_jobs runs every runnable job of queues with a handler (bot, tq_run)');
SELECT is((SELECT result FROM daz.job_results WHERE id = (SELECT id FROM j WHERE what = 'echo')),
          '{"echo": {"x": 1}, "kind": "e1"}'::jsonb, 'a handler''s result completes its job');
SELECT is((SELECT locked_by FROM daz.job_results WHERE id = (SELECT id FROM j WHERE what = 'echo')), 'tap',
          'the worker name is recorded');
SELECT results_eq($$SELECT state::text, attempts, last_error, run_at > now() FROM daz.jobs WHERE id = (SELECT id FROM j WHERE what = 'raise')$$,
                  $$VALUES ('ready', 1, 'handler says no to r1', true)$$,
                  'a job''s own handler overrides the queue''s; a raising handler fails its job for a retry');
SELECT is((SELECT array_agg(note ORDER BY note) FROM daz.tap_side_effects), ARRAY['echo'],
          'the failed handler''s writes were rolled back with its subtransaction, the others kept');
SELECT results_eq($$SELECT reason, last_error FROM daz.dead_letters WHERE id = (SELECT id FROM j WHERE what = 'bad')$$,
                  $$VALUES ('fatal', 'division by zero')$$, 'a data error (class 22) is not retried');
SELECT results_eq($$SELECT queue, reason, last_error FROM daz.dead_letters WHERE id = (SELECT id FROM j WHERE what = 'unrouted')$$,
                  $$VALUES ('bot', 'fatal', 'no handler for kind "no_such_command"')$$,
                  'queue bot''s handler daz.unrouted_job sends unknown kinds straight to dead letters');
SELECT results_eq($$SELECT state::text FROM daz.jobs WHERE id IN (SELECT id FROM j WHERE what IN ('later', 'cytube')) ORDER BY id$$,
                  $$VALUES ('ready'), ('ready')$$, 'future jobs and queues without a handler (cytube) are left alone');

-- limit and pause
CREATE TEMP TABLE five AS SELECT unnest(daz.enqueue_many(
    (SELECT jsonb_agg(jsonb_build_object('queue', 'tq_run', 'kind', 'n' || g)) FROM generate_series(1, 5) g))) AS id;
SELECT is(daz.run_jobs('tap', 2), 2, 'run_jobs stops at its limit');
SELECT is(daz.pause('tq_run'), true, 'pause tq_run');
SELECT is(daz.run_jobs('tap', 100), 0, 'run_jobs skips a paused queue');
SELECT is(daz.resume('tq_run'), true, 'resume tq_run');
SELECT is(daz.run_jobs('tap', 100), 3, 'and runs it again once resumed');

-- an untrusted handler (owned by a role that does not own schema daz) is never called
CREATE FUNCTION daz.tap_foreign(p_job daz.jobs) RETURNS jsonb LANGUAGE sql AS $$ SELECT '{"ran": true}'::jsonb $$;
ALTER FUNCTION daz.tap_foreign(daz.jobs) OWNER TO daz_reader;
CREATE TEMP TABLE f AS SELECT daz.enqueue('tq_run', 'foreign') AS id;
UPDATE daz.jobs SET handler = 'daz.tap_foreign(daz.jobs)' WHERE id = (SELECT id FROM f);
SELECT throws_ok($$SELECT daz.enqueue('tq_run', 'x', p_handler => 'daz.tap_foreign(daz.jobs)')$$, '42501',
                 'daz.enqueue: handler daz.tap_foreign(daz.jobs) is not owned by the owner of schema daz',
                 'enqueue refuses a handler owned by another role');
SELECT is(daz.run_jobs('tap', 100), 1, 'run_jobs takes the job with the foreign handler');
SELECT results_eq($$SELECT reason, last_error FROM daz.dead_letters WHERE id = (SELECT id FROM f)$$,
                  $$VALUES ('fatal', 'daz.run_jobs: handler daz.tap_foreign(daz.jobs) is not owned by the owner of schema daz')$$,
                  'but refuses to call it and dead-letters the job');

-- a handler that spins until the statement timeout
CREATE TEMP TABLE s AS
SELECT 'spin'::text AS what, daz.enqueue('tq_run', 'spinner', p_handler => 'daz.tap_spin(daz.jobs)', p_priority => 3) AS id
UNION ALL SELECT 'after', daz.enqueue('tq_run', 'after-spin');
SET LOCAL statement_timeout = '300ms';
SELECT is(daz.run_jobs('tap', 100), 1, 'run_jobs survives a handler stopped by statement_timeout, and returns');
RESET statement_timeout;
SELECT results_eq($$SELECT state::text, attempts, last_error FROM daz.jobs WHERE id = (SELECT id FROM s WHERE what = 'spin')$$,
                  $$VALUES ('ready', 1, 'canceling statement due to statement timeout')$$,
                  'the spinning job is failed with the timeout as its error, for a later retry');
SELECT is((SELECT count(*)::int FROM daz.tap_side_effects WHERE note = 'spin'), 0, 'its writes were rolled back');
SELECT is(daz.run_jobs('tap', 100), 1, 'the next run carries on with the rest of the queue');

SELECT * FROM finish();
ROLLBACK;

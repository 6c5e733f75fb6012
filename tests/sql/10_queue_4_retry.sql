-- 10_queue_4_retry.sql — daz.fail, daz.fail_many, backoff bounds, dead letters, lease rescue.
BEGIN;
SELECT plan(29);

INSERT INTO daz.queues (name, max_attempts, backoff_base, backoff_factor, backoff_max, jitter, comment)
VALUES ('tq_retry', 6, '10 seconds', 3, '500 seconds', 0.25, 'test queue');

-- Claim the job, fail it, and record the delay it got; make it runnable again for the next round.
CREATE TEMP TABLE rounds (attempt int, outcome text, delay_s numeric);
CREATE FUNCTION pg_temp.fail_round(p_kind text, p_error text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_job daz.jobs;
    v_out text;
BEGIN
    SELECT * INTO v_job FROM daz.claim('tq_retry', 'tester', 1) WHERE kind = p_kind;
    IF v_job.id IS NULL THEN
        RETURN 'nothing claimed';
    END IF;
    v_out := daz.fail(v_job.id, p_error || ' #' || v_job.attempts);
    INSERT INTO rounds SELECT v_job.attempts, v_out, extract(epoch FROM j.run_at - now()) FROM daz.jobs j WHERE j.id = v_job.id;
    IF v_out = 'dead' THEN
        INSERT INTO rounds VALUES (v_job.attempts, v_out, NULL);
    END IF;
    UPDATE daz.jobs SET run_at = now() - interval '1 second' WHERE id = v_job.id;
    RETURN v_out;
END
$$;

CREATE TEMP TABLE ids AS SELECT daz.enqueue('tq_retry', 'flaky', '{"n":1}', 'room1', 2, now(), NULL, 'c-9') AS id;
SELECT is(pg_temp.fail_round('flaky', 'boom'), 'retry', 'a retryable failure with attempts left is retried');
SELECT results_eq($$SELECT state::text, locked_by, lease_until, last_error FROM daz.jobs WHERE id = (SELECT id FROM ids)$$,
                  $$VALUES ('ready', NULL::text, NULL::timestamptz, 'boom #1')$$,
                  'a retried job is ready again, unlocked, with its last error');
SELECT is(pg_temp.fail_round('flaky', 'boom'), 'retry', 'attempt 2 retries');
SELECT is(pg_temp.fail_round('flaky', 'boom'), 'retry', 'attempt 3 retries');
SELECT is(pg_temp.fail_round('flaky', 'boom'), 'retry', 'attempt 4 retries');
SELECT is(pg_temp.fail_round('flaky', 'boom'), 'retry', 'attempt 5 retries');
SELECT is(pg_temp.fail_round('flaky', 'boom'), 'dead', 'attempt 6 of max_attempts 6 dies');
SELECT is_empty($$
    SELECT r.attempt, r.delay_s, b.d
      FROM rounds r, LATERAL (SELECT least(500, 10 * power(3, r.attempt - 1)) AS d) b
     WHERE r.outcome = 'retry' AND r.delay_s NOT BETWEEN b.d * 0.75 - 0.001 AND b.d * 1.25 + 0.001$$,
    'every retry delay is least(max, base * factor^(attempt-1)) within +-jitter (10, 30, 90, 270, 500 s +-25%)');
SELECT is((SELECT count(*)::int FROM rounds WHERE outcome = 'retry'), 5, 'five delays were checked');
SELECT is((SELECT count(*)::int FROM daz.jobs WHERE id = (SELECT id FROM ids)), 0, 'the dead job left daz.jobs');
SELECT results_eq($$SELECT queue, kind, room, payload, priority::int, attempts, max_attempts, correlation_id, reason,
                           last_error, locked_by
                      FROM daz.dead_letters WHERE id = (SELECT id FROM ids)$$,
                  $$VALUES ('tq_retry', 'flaky', 'room1', '{"n":1}'::jsonb, 2, 6, 6, 'c-9', 'exhausted', 'boom #6', 'tester')$$,
                  'the dead letter is the job as it was, reason exhausted');
SELECT is((SELECT jsonb_agg(e - 'at') FROM daz.dead_letters d, jsonb_array_elements(d.errors) e WHERE d.id = (SELECT id FROM ids)),
          (SELECT jsonb_agg(jsonb_build_object('attempt', g, 'error', 'boom #' || g, 'worker', 'tester')) FROM generate_series(1, 6) g),
          'the dead letter keeps every error of every attempt, in order, with attempt and worker');
SELECT is((SELECT bool_and((e->>'at')::timestamptz IS NOT NULL) FROM daz.dead_letters d, jsonb_array_elements(d.errors) e
            WHERE d.id = (SELECT id FROM ids)), true, 'each error has a timestamp');

-- non-retryable
TRUNCATE ids;
INSERT INTO ids SELECT daz.enqueue('tq_retry', 'fatal');
CREATE TEMP TABLE c1 AS SELECT * FROM daz.claim('tq_retry', 'tester', 1);
SELECT is(daz.fail((SELECT id FROM ids), 'malformed payload', false), 'dead', 'a non-retryable failure dies at once');
SELECT results_eq($$SELECT reason, attempts, jsonb_array_length(errors) FROM daz.dead_letters WHERE id = (SELECT id FROM ids)$$,
                  $$VALUES ('fatal', 1, 1)$$, 'with reason fatal after one attempt');
SELECT is(daz.fail((SELECT id FROM ids), 'again'), NULL, 'failing a job that is not running returns NULL');
SELECT throws_ok($$SELECT daz.fail(NULL, 'x')$$, '22023', 'daz.fail: id must not be NULL', 'fail refuses a NULL id');

-- fail_many
CREATE TEMP TABLE many AS SELECT unnest(daz.enqueue_many('[{"queue":"tq_retry","kind":"m"},{"queue":"tq_retry","kind":"m"},
                                                          {"queue":"tq_retry","kind":"m"}]')) AS id;
SELECT is((SELECT count(*)::int FROM daz.claim('tq_retry', 'tester', 3)), 3, 'three jobs claimed for fail_many');
SELECT is(daz.fail_many(ARRAY(SELECT id FROM many ORDER BY id), ARRAY['e1', 'e2', 'e3'], ARRAY[true, false, true]), 3,
          'fail_many records three failures in one call');
SELECT is((SELECT array_agg(coalesce(j.last_error || '/retry', d.last_error || '/' || d.reason) ORDER BY m.id)
             FROM many m LEFT JOIN daz.jobs j ON j.id = m.id LEFT JOIN daz.dead_letters d ON d.id = m.id),
          ARRAY['e1/retry', 'e2/fatal', 'e3/retry'], 'each job got its own error and retryable flag');
SELECT throws_ok($$SELECT daz.fail_many(ARRAY[1, 2]::bigint[], ARRAY['x'])$$, '22023',
                 'daz.fail_many: 2 ids, 1 errors, no retryable flags: lengths must match', 'fail_many checks lengths');

-- retry_delay on its own: bounds and spread over many draws
SELECT is((SELECT count(*)::int FROM generate_series(1, 2000) g,
                  LATERAL (SELECT daz.retry_delay(1 + g % 12, '5 seconds', 2, '300 seconds', 0.2) AS d) x,
                  LATERAL (SELECT least(300, 5 * power(2, g % 12)) AS nominal) n
            WHERE extract(epoch FROM x.d) NOT BETWEEN n.nominal * 0.8 - 0.001 AND n.nominal * 1.2 + 0.001), 0,
          'cytube policy: 2000 delays all inside least(300, 5 * 2^(n-1)) +-20%');
SELECT ok((SELECT max(extract(epoch FROM d)) - min(extract(epoch FROM d)) > 100
             FROM (SELECT daz.retry_delay(20, '5 seconds', 2, '300 seconds', 0.2) AS d FROM generate_series(1, 500)) s),
          'jitter spreads capped delays over most of the +-20% band');
SELECT is((SELECT max(daz.retry_delay(1000, '1 hour', 100, '2 hours', 0.5)) FROM generate_series(1, 200)) <= interval '3 hours',
          true, 'huge attempt counts neither overflow nor pass max * (1 + jitter)');
SELECT is(daz.retry_delay(3, '5 seconds', 2, '300 seconds', 0), interval '20 seconds', 'without jitter the delay is exact');
SELECT is(daz.retry_delay(1, '0', 2, '0', 0.9), interval '0', 'a zero base gives an immediate retry, never negative');

-- lease rescue
TRUNCATE ids;
INSERT INTO ids SELECT daz.enqueue('tq_retry', 'stuck');
CREATE TEMP TABLE c2 AS SELECT * FROM daz.claim('tq_retry', 'gone-worker', 1, NULL, '1 second');
UPDATE daz.jobs SET lease_until = now() - interval '1 second' WHERE id = (SELECT id FROM ids);
SELECT is(daz.rescue_expired(), 1, 'rescue_expired finds the job whose lease ended');
SELECT results_eq($$SELECT state::text, attempts, last_error, errors->0->>'worker', run_at > now()
                      FROM daz.jobs WHERE id = (SELECT id FROM ids)$$,
                  $$VALUES ('ready', 1, 'lease expired', 'gone-worker', true)$$,
                  'an expired lease counts as a failed attempt "lease expired" and retries after backoff');
SELECT is(daz.rescue_expired(), 0, 'nothing left to rescue');

SELECT * FROM finish();
ROLLBACK;

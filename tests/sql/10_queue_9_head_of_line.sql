-- 10_queue_9_head_of_line.sql — 100,000 future jobs and 100,000 dead letters do not slow a claim.
BEGIN;
SELECT plan(7);

INSERT INTO daz.queues (name, comment) VALUES ('tq_hol', 'test queue');
-- Future jobs at every priority (the worst case sits above the runnable job: priority 3), in 4 rooms.
INSERT INTO daz.jobs (queue, kind, room, priority, run_at, max_attempts)
SELECT 'tq_hol', 'future', 'r' || g % 4, 3 - g % 4, now() + interval '1 minute' + g * interval '1 second', 5
  FROM generate_series(1, 100000) g;
INSERT INTO daz.dead_letters (id, queue, kind, room, payload, priority, run_at, attempts, max_attempts, created_at,
                              last_error, errors, reason)
SELECT -g, 'tq_hol', 'dead', 'r1', '{}', 0, now(), 5, 5, now(), 'room offline', '[]', 'exhausted'
  FROM generate_series(1, 100000) g;
CREATE TEMP TABLE now_jobs AS
SELECT unnest(daz.enqueue_many('[{"queue":"tq_hol","kind":"now","room":"r1"},{"queue":"tq_hol","kind":"now","room":"r2"}]')) AS id;
ANALYZE daz.jobs;

CREATE FUNCTION pg_temp.claim_ms(p_rooms text[], p_limit int) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
    v_t0 timestamptz := clock_timestamp();
    v_n  int;
BEGIN
    SELECT count(*) INTO v_n FROM daz.claim('tq_hol', 'w', p_limit, p_rooms);
    IF v_n <> 1 THEN
        RAISE EXCEPTION 'claimed % jobs, expected 1', v_n;
    END IF;
    RETURN extract(epoch FROM clock_timestamp() - v_t0) * 1000;
END
$$;

SELECT cmp_ok(pg_temp.claim_ms(NULL, 1), '<', 20::numeric,
              'claiming the one runnable job among 100,000 future ones takes well under 20 ms');
SELECT cmp_ok(pg_temp.claim_ms(ARRAY['r2', 'r3'], 10), '<', 20::numeric, 'also with a room filter');
SELECT is((SELECT array_agg(state::text ORDER BY id) FROM daz.jobs WHERE id IN (SELECT id FROM now_jobs)), ARRAY['running', 'running'],
          'both runnable jobs were handed out');
SELECT is_empty($$SELECT * FROM daz.claim('tq_hol', 'w', 100)$$, 'and nothing scheduled for later');

-- The plan behind it: run_at is part of the index condition, so future rows are never visited.
CREATE FUNCTION pg_temp.plan_text() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_line text;
    v_all  text := '';
BEGIN
    FOR v_line IN EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
        SELECT j.id FROM daz.jobs j
         WHERE hashtext(j.queue) = hashtext('tq_hol') AND j.queue = 'tq_hol'
           AND j.state = 'ready' AND j.priority = 3 AND j.run_at <= now()
         ORDER BY j.run_at, j.id LIMIT 10 FOR UPDATE SKIP LOCKED
    LOOP
        v_all := v_all || v_line || E'\n';
    END LOOP;
    RETURN v_all;
END
$$;
SELECT matches(pg_temp.plan_text(), 'Index Scan using jobs_claim_idx .*Index Cond: \(\(hashtext\(queue\) = .*\(\(?priority\)?(::smallint)? = 3\) AND \(run_at <= now\(\)\)\)',
               'the claim probe bounds priority and run_at in the index condition');

-- A room filter uses the per-room index: 20,000 runnable jobs of another room are not walked over.
INSERT INTO daz.jobs (queue, kind, room, priority, run_at, max_attempts)
SELECT 'tq_hol', 'busy', 'busy', 3, now() - interval '1 minute', 5 FROM generate_series(1, 20000) g;
CREATE TEMP TABLE quiet AS SELECT daz.enqueue('tq_hol', 'quiet', '{}', 'quiet', 0) AS id;
ANALYZE daz.jobs;
CREATE TEMP TABLE fetched AS SELECT pg_stat_get_xact_tuples_fetched('daz.jobs'::regclass) AS n;
CREATE TEMP TABLE got AS SELECT id FROM daz.claim('tq_hol', 'w', 5, ARRAY['quiet', 'r2']);
SELECT is((SELECT array_agg(id) FROM got), ARRAY[(SELECT id FROM quiet)], 'the room-filtered claim gets the quiet room''s job');
SELECT cmp_ok(pg_stat_get_xact_tuples_fetched('daz.jobs'::regclass) - (SELECT n FROM fetched), '<', 100::bigint,
              'and fetched a handful of rows, not the 20,000 runnable ones of the busy room');

SELECT * FROM finish();
ROLLBACK;

-- 10_queue_7_concurrency.sql — two real sessions claiming at once never get the same job; NOTIFY once per statement.
-- Uses dblink sessions, which only see committed rows: everything they create is removed at the end.
BEGIN;
SELECT plan(14);

CREATE FUNCTION pg_temp.conninfo() RETURNS text LANGUAGE sql AS $$
    SELECT format('dbname=%s host=%s port=%s user=%s', current_database(),
                  split_part(current_setting('unix_socket_directories'), ',', 1), current_setting('port'), current_user)
$$;
-- Notifications the listener has received so far (after a moment for delivery).
CREATE FUNCTION pg_temp.heard() RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE
    v_all text[] := '{}';
    v_new text[];
BEGIN
    FOR i IN 1..4 LOOP
        PERFORM pg_sleep(0.05);
        SELECT coalesce(array_agg(n.extra ORDER BY n.extra), '{}') INTO v_new
          FROM dblink_get_notify('tap_listen') AS n WHERE n.notify_name = 'daz_jobs';
        v_all := v_all || v_new;
    END LOOP;
    RETURN v_all;
END
$$;
-- Run SQL in the setup session (autocommit); any statement, its results are discarded.
CREATE FUNCTION pg_temp.remote(p_sql text) RETURNS boolean LANGUAGE sql AS $$
    SELECT count(*) >= 0 FROM dblink('tap_setup', p_sql) AS t(x text)
$$;
CREATE FUNCTION pg_temp.cleanup() RETURNS boolean LANGUAGE sql AS $$
    SELECT pg_temp.remote($c$
        DELETE FROM daz.job_results WHERE queue LIKE 'tq\_conc%';
        DELETE FROM daz.dead_letters WHERE queue LIKE 'tq\_conc%';
        DELETE FROM daz.jobs WHERE queue LIKE 'tq\_conc%';
        DELETE FROM daz.queues WHERE name LIKE 'tq\_conc%'$c$)
$$;

SELECT is(dblink_connect('tap_setup', pg_temp.conninfo()), 'OK', 'setup session connected');
SELECT pg_temp.cleanup() AS cleaned \gset
SELECT pg_temp.remote($$INSERT INTO daz.queues (name, comment) VALUES
    ('tq_conc', 'concurrency test'), ('tq_conc2', 'concurrency test')$$) AS made \gset

-- NOTIFY: once per statement and queue, only for jobs runnable now, not for paused queues
SELECT is(dblink_connect('tap_listen', pg_temp.conninfo()), 'OK', 'listener session connected');
SELECT dblink_exec('tap_listen', 'LISTEN daz_jobs') = 'LISTEN' AS listening \gset
SELECT pg_temp.remote($$SELECT daz.enqueue_many('[{"queue":"tq_conc","kind":"n"},{"queue":"tq_conc","kind":"n"},
                                                            {"queue":"tq_conc","kind":"n"}]')$$) AS sent \gset
SELECT is(pg_temp.heard(), ARRAY['tq_conc'], 'three jobs in one statement: one notification, payload the queue name');
SELECT pg_temp.remote($$SELECT daz.enqueue_many('[{"queue":"tq_conc","kind":"n"},{"queue":"tq_conc2","kind":"n"},
                                                            {"queue":"tq_conc2","kind":"n"}]')$$) AS sent \gset
SELECT is(pg_temp.heard(), ARRAY['tq_conc', 'tq_conc2'], 'two queues in one statement: one notification each');
SELECT pg_temp.remote($$SELECT daz.enqueue('tq_conc', 'later', p_run_at => now() + interval '1 hour')$$) AS sent \gset
SELECT is(pg_temp.heard(), '{}'::text[], 'a job scheduled for later wakes nobody');
SELECT pg_temp.remote($$SELECT daz.pause('tq_conc2'); SELECT daz.enqueue('tq_conc2', 'p')$$) AS sent \gset
SELECT is(pg_temp.heard(), '{}'::text[], 'a job on a paused queue wakes nobody');
SELECT pg_temp.remote($$SELECT daz.resume('tq_conc2')$$) AS sent \gset
SELECT is(pg_temp.heard(), ARRAY['tq_conc2'], 'resuming a queue with runnable jobs wakes listeners');
SELECT dblink_disconnect('tap_listen') IS NOT NULL AS gone \gset
SELECT pg_temp.cleanup() AS cleaned \gset
SELECT pg_temp.remote($$INSERT INTO daz.queues (name, comment) VALUES ('tq_conc', 'concurrency test')$$) AS made \gset

-- 4000 committed jobs over all priorities, then two sessions drain them at the same time, each
-- claiming 7 at a time, committing the claim, then completing and committing, logging what it got.
SELECT pg_temp.remote($$SELECT daz.enqueue_many((SELECT jsonb_agg(jsonb_build_object(
    'queue', 'tq_conc', 'kind', 'c', 'priority', g % 4, 'room', 'r' || g % 5)) FROM generate_series(1, 4000) g))$$) AS sent \gset
SELECT is(dblink_connect('tap_a', pg_temp.conninfo()) || dblink_connect('tap_b', pg_temp.conninfo()), 'OKOK',
          'two worker sessions connected');
SELECT bool_and(dblink_exec(w, 'CREATE TEMP TABLE got (id bigint, batch int)') = 'CREATE TABLE') AS ready
  FROM unnest(ARRAY['tap_a', 'tap_b']) w \gset
SELECT bool_and(dblink_send_query(w, format($q$
    DO $d$
    DECLARE
        v_ids bigint[];
        v_n   int := 0;
    BEGIN
        LOOP
            SELECT array_agg(id) INTO v_ids FROM daz.claim('tq_conc', %L, 7);
            COMMIT;   -- the claim is visible as running before the work is acknowledged, as with dazd
            EXIT WHEN v_ids IS NULL;
            v_n := v_n + 1;
            INSERT INTO got SELECT unnest(v_ids), v_n;
            PERFORM daz.complete(v_ids);
            COMMIT;
        END LOOP;
    END
    $d$$q$, w)) = 1) AS started
  FROM unnest(ARRAY['tap_a', 'tap_b']) w \gset
SELECT is(:'started'::boolean, true, 'both sessions started draining at once');
SELECT is((SELECT array_agg(r) FROM (SELECT * FROM dblink_get_result('tap_a') AS t(r text)
                                     UNION ALL SELECT * FROM dblink_get_result('tap_b') AS t(r text)) s),
          ARRAY['DO', 'DO'], 'both sessions finished without error');
-- Drain the (empty) end of each async result so the connections can run queries again.
SELECT sum((SELECT count(*) FROM dblink_get_result(w) AS t(r text))) AS rest FROM unnest(ARRAY['tap_a', 'tap_b']) w \gset

CREATE TEMP TABLE got AS
SELECT 'a'::text AS w, * FROM dblink('tap_a', 'SELECT id, batch FROM got') AS t(id bigint, batch int)
UNION ALL
SELECT 'b', * FROM dblink('tap_b', 'SELECT id, batch FROM got') AS t(id bigint, batch int);
SELECT is((SELECT count(*)::int FROM got), 4000, 'the two sessions were handed 4000 jobs in total');
SELECT is((SELECT count(DISTINCT id)::int FROM got), 4000, 'no job was handed out twice');
SELECT ok((SELECT count(*) FROM got WHERE w = 'a') > 0 AND (SELECT count(*) FROM got WHERE w = 'b') > 0,
          'both sessions got work (they really ran side by side)');
SELECT results_eq($$SELECT * FROM dblink('tap_setup', $c$SELECT count(*), count(DISTINCT id), max(attempts),
                                                 (SELECT count(*) FROM daz.jobs WHERE queue = 'tq_conc')
                                            FROM daz.job_results WHERE queue = 'tq_conc'$c$)
                        AS t(n bigint, d bigint, a int, left_over bigint)$$,
                  $$VALUES (4000::bigint, 4000::bigint, 1, 0::bigint)$$,
                  'every job completed exactly once, on its first attempt, none left');

SELECT pg_temp.cleanup() AS cleaned \gset
SELECT bool_and(dblink_disconnect(c) = 'OK') AS gone FROM unnest(ARRAY['tap_a', 'tap_b', 'tap_setup']) c \gset

SELECT * FROM finish();
ROLLBACK;

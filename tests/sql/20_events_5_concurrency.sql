-- 20_events_5_concurrency.sql — two real sessions ingesting at once: the same batch is stored once, a new user's lines all counted.
-- The second session (dblink) commits: its rows are removed after the ROLLBACK at the end.
BEGIN;
SELECT plan(7);

CREATE FUNCTION pg_temp.conninfo() RETURNS text LANGUAGE sql AS $$
    SELECT format('dbname=%s host=%s port=%s user=%s', current_database(),
                  split_part(current_setting('unix_socket_directories'), ',', 1), current_setting('port'), current_user)
$$;
-- SQL text of an ingest call with chat lines n1..n2 of user p_user in room conc-test.
CREATE FUNCTION pg_temp.batch(p_user text, p_n1 int, p_n2 int) RETURNS text LANGUAGE sql AS $$
    SELECT format('SELECT daz.ingest(ARRAY[%s])', string_agg(format(
        'ROW(%L, %L, ''conc-test'', ''chatMsg'', ''{room:conc-test,chat,user-message}'', %L, %L, %L)::daz.event_in',
        '01950000-0000-7000-8000-' || lpad(n::text, 12, '0'), date_trunc('minute', now()) - interval '5 minutes' + n * interval '1 second',
        p_user, to_timestamp(1795750000 + n),
        jsonb_build_object('username', p_user, 'msg', 'line ' || n, 'meta', '{}'::jsonb, 'time', (1795750000 + n)::bigint * 1000)), ', '))
      FROM generate_series(p_n1, p_n2) AS n
$$;

-- Every result of the query sent to a dblink session, in order (waits for it to finish).
CREATE FUNCTION pg_temp.results(p_conn text) RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE
    v_all text[] := '{}';
    v_part text[];
BEGIN
    LOOP
        SELECT array_agg(COALESCE(x, '')) INTO v_part FROM dblink_get_result(p_conn) AS r(x text);
        EXIT WHEN v_part IS NULL;
        v_all := v_all || v_part;
    END LOOP;
    RETURN v_all;
END $$;

-- Waits (at most 10 s) until the other session has ingested and sits in its pg_sleep.
CREATE FUNCTION pg_temp.wait_for_b() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..200 LOOP
        IF EXISTS (SELECT 1 FROM pg_stat_activity
                    WHERE pid <> pg_backend_pid() AND wait_event = 'PgSleep' AND query LIKE 'BEGIN; SELECT daz.ingest%') THEN
            RETURN true;
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
    RETURN false;
END $$;

SELECT is(dblink_connect('tap_ev_b', pg_temp.conninfo()), 'OK', 'second session connected');

-- B ingests a batch and holds its transaction open a moment; A sends the same batch meanwhile.
SELECT is(dblink_send_query('tap_ev_b', 'BEGIN; ' || pg_temp.batch('Racer', 1, 3) || '; SELECT pg_sleep(0.2); COMMIT;'), 1,
          'B ingests and holds its transaction');
SELECT pg_temp.wait_for_b();
SELECT is(daz.ingest((SELECT array_agg(e) FROM (SELECT ROW(('01950000-0000-7000-8000-' || lpad(n::text, 12, '0'))::uuid,
            date_trunc('minute', now()) - interval '5 minutes' + n * interval '1 second', 'conc-test', 'chatMsg',
            '{room:conc-test,chat,user-message}'::text[], 'Racer', to_timestamp(1795750000 + n),
            jsonb_build_object('username', 'Racer', 'msg', 'line ' || n, 'meta', '{}'::jsonb, 'time', (1795750000 + n)::bigint * 1000))::daz.event_in AS e
          FROM generate_series(1, 3) AS n) x)), 0,
   'A resending the same batch waits for B, then stores nothing');
SELECT is(pg_temp.results('tap_ev_b'), ARRAY['BEGIN', '3', '', 'COMMIT'], 'B stored the batch and committed');
SELECT is((SELECT count(*)::int FROM daz.events WHERE room = 'conc-test'), 3, 'each event stored once');

-- A new user's lines arriving in two sessions at once are all counted (another room: A still holds
-- the counter row it updated above, as its transaction stays open to the end of the file).
SELECT is(dblink_send_query('tap_ev_b', 'BEGIN; ' || replace(pg_temp.batch('Newcomer', 11, 12), 'conc-test', 'conc-test2') || '; SELECT pg_sleep(0.2); COMMIT;'), 1,
          'B ingests two lines of a new user');
SELECT pg_temp.wait_for_b();
SELECT daz.ingest((SELECT array_agg(e) FROM (SELECT ROW(('01950000-0000-7000-8000-' || lpad(n::text, 12, '0'))::uuid,
            date_trunc('minute', now()) - interval '5 minutes' + n * interval '1 second', 'conc-test2', 'chatMsg',
            '{room:conc-test2,chat,user-message}'::text[], 'Newcomer', to_timestamp(1795750000 + n),
            jsonb_build_object('username', 'Newcomer', 'msg', 'line ' || n, 'meta', '{}'::jsonb, 'time', (1795750000 + n)::bigint * 1000))::daz.event_in AS e
          FROM generate_series(13, 15) AS n) x));
SELECT pg_temp.results('tap_ev_b');
SELECT is((SELECT messages::int FROM daz.users WHERE room = 'conc-test2' AND name = 'Newcomer'), 5,
          'messages counts the lines of both sessions');
SELECT dblink_disconnect('tap_ev_b');

SELECT * FROM finish();
ROLLBACK;

-- What the second session committed.
DELETE FROM daz.events WHERE room IN ('conc-test', 'conc-test2');
DELETE FROM daz.users WHERE room IN ('conc-test', 'conc-test2');
DELETE FROM daz.user_sessions WHERE room IN ('conc-test', 'conc-test2');
DELETE FROM daz.ingest_counters WHERE room IN ('conc-test', 'conc-test2');

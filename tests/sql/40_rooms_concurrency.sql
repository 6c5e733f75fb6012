-- 40_rooms_concurrency.sql — two real sessions contend for one room: exactly one wins, the other takes over after expiry.
-- Sessions A and B are dblink connections (autocommit), so their rows are committed: the test
-- uses room names unique to this run and deletes them at the end.
BEGIN;
SELECT plan(9);

CREATE TEMP TABLE t_conn AS
SELECT format('dbname=%s port=%s host=%s user=%s', current_database(), current_setting('port'),
              split_part(current_setting('unix_socket_directories'), ',', 1), current_user) AS dsn,
       'cc' || pg_backend_pid() AS room;

SELECT dblink_connect('rooms_a', dsn) FROM t_conn;
SELECT dblink_connect('rooms_b', dsn) FROM t_conn;

-- 1. A holds the room inside an open transaction; B's acquire waits for it, then loses.
SELECT dblink_exec('rooms_a', 'BEGIN');
SELECT is((SELECT ok FROM dblink('rooms_a', format(
              $q$SELECT daz.room_acquire('wa', %L, 'https://cytu.be', %L, 'Bot', '30 seconds')$q$, room, room))
              AS t(ok boolean)), true, 'session A acquires the room (uncommitted)')
  FROM t_conn;
SELECT dblink_send_query('rooms_b', format(
           $q$SELECT daz.room_acquire('wb', %L, 'https://cytu.be', %L, 'Bot', '30 seconds')$q$, room, room))
  FROM t_conn;
SELECT pg_sleep(0.2);
SELECT is(dblink_is_busy('rooms_b'), 1, 'session B waits while A''s acquisition is uncommitted');
SELECT dblink_exec('rooms_a', 'COMMIT');
SELECT is((SELECT ok FROM dblink_get_result('rooms_b') AS t(ok boolean)), false,
          'after A commits, B is refused');
SELECT * FROM dblink_get_result('rooms_b') AS t(ok boolean);

-- 2. A stops renewing; once the lease expires B takes over and A's heartbeat says so.
SELECT dblink_exec('rooms_a', format($q$UPDATE daz.rooms SET lease_until = now() - interval '1 second' WHERE room = %L$q$, room))
  FROM t_conn;
SELECT is((SELECT ok FROM dblink('rooms_b', format(
              $q$SELECT daz.room_acquire('wb', %L, 'https://cytu.be', %L, 'Bot', '30 seconds')$q$, room, room))
              AS t(ok boolean)), true, 'B takes the room over after A''s lease expired')
  FROM t_conn;
SELECT is((SELECT held FROM dblink('rooms_a', format(
              $q$SELECT daz.heartbeat('wa', 'ha', 1, 'test', ARRAY[%L], '30 seconds')$q$, room))
              AS t(held text[])), '{}'::text[], 'A''s heartbeat no longer lists the room')
  FROM t_conn;
SELECT is((SELECT ok FROM dblink('rooms_a', format(
              $q$SELECT daz.room_acquire('wa', %L, 'https://cytu.be', %L, 'Bot', '30 seconds')$q$, room, room))
              AS t(ok boolean)), false, 'A cannot take it back while B renews')
  FROM t_conn;

-- 3. Twenty rounds of a real race on an expired lease: exactly one session wins each round.
CREATE TEMP TABLE t_race (round int, a boolean, b boolean);
DO $$
DECLARE
    v_room text := (SELECT room FROM t_conn);
    v_a boolean;
    v_b boolean;
BEGIN
    FOR i IN 1..20 LOOP
        PERFORM dblink_exec('rooms_a', format(
            $q$UPDATE daz.rooms SET lease_until = now() - interval '1 second' WHERE room = %L$q$, v_room));
        PERFORM dblink_send_query('rooms_a', format(
            $q$SELECT daz.room_acquire('wa', %L, 'https://cytu.be', %L, 'Bot', '30 seconds')$q$, v_room, v_room));
        PERFORM dblink_send_query('rooms_b', format(
            $q$SELECT daz.room_acquire('wb', %L, 'https://cytu.be', %L, 'Bot', '30 seconds')$q$, v_room, v_room));
        SELECT ok INTO v_a FROM dblink_get_result('rooms_a') AS t(ok boolean);
        PERFORM * FROM dblink_get_result('rooms_a') AS t(ok boolean);
        SELECT ok INTO v_b FROM dblink_get_result('rooms_b') AS t(ok boolean);
        PERFORM * FROM dblink_get_result('rooms_b') AS t(ok boolean);
        INSERT INTO t_race VALUES (i, v_a, v_b);
    END LOOP;
END;
$$;
SELECT is((SELECT count(*)::int FROM t_race WHERE a <> b), 20, 'every round of the race has exactly one winner');
SELECT is((SELECT holder FROM dblink('rooms_a', format($q$SELECT holder FROM daz.rooms WHERE room = %L$q$, room))
              AS t(holder text)),
          (SELECT CASE WHEN a THEN 'wa' ELSE 'wb' END FROM t_race WHERE round = 20),
          'the row names the last round''s winner')
  FROM t_conn;

-- 4. The race leaves exactly one holder.
SELECT is((SELECT count(*)::int FROM dblink('rooms_a', format(
              $q$SELECT 1 FROM daz.rooms WHERE room = %L AND holder IS NOT NULL$q$, room)) AS t(x int)), 1,
          'one holder in the end')
  FROM t_conn;

SELECT dblink_exec('rooms_a', format($q$DELETE FROM daz.rooms WHERE room = %L$q$, room)) FROM t_conn;
SELECT dblink_exec('rooms_a', $q$DELETE FROM daz.workers WHERE worker IN ('wa', 'wb')$q$);
SELECT dblink_disconnect('rooms_a');
SELECT dblink_disconnect('rooms_b');

SELECT * FROM finish();
ROLLBACK;

-- 40_rooms_leases.sql — room leases in one session: acquire, refuse, renew, expire and take over, heartbeat, state, release.
BEGIN;
SELECT plan(53);

-- Schema
SELECT has_table('daz', 'rooms', 'daz.rooms exists');
SELECT has_table('daz', 'workers', 'daz.workers exists');
SELECT has_view('daz', 'room_overview', 'daz.room_overview exists');
SELECT col_is_pk('daz', 'rooms', 'room', 'rooms keyed by room');
SELECT col_is_pk('daz', 'workers', 'worker', 'workers keyed by worker');
SELECT ok(obj_description('daz.rooms'::regclass, 'pg_class') IS NOT NULL
          AND obj_description('daz.workers'::regclass, 'pg_class') IS NOT NULL
          AND obj_description('daz.room_overview'::regclass, 'pg_class') IS NOT NULL,
          'tables and view are commented');
SELECT is((SELECT count(*)::int FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = 'daz'
              AND p.proname IN ('room_acquire', 'heartbeat', 'room_state', 'room_release')
              AND obj_description(p.oid, 'pg_proc') IS NOT NULL), 4, 'every room function is commented');

-- Acquire a free room
SELECT ok(daz.room_acquire('w1', 'lobby', 'https://cytu.be', 'lobby', 'DazBot', '30 seconds'),
          'a free room is acquired');
SELECT row_eq($$SELECT holder, state, channel, username FROM daz.rooms WHERE room = 'lobby'$$,
              ROW('w1'::text, 'offline'::text, 'lobby'::text, 'DazBot'::text),
              'the row names the holder, offline, with its identity');
SELECT ok((SELECT lease_until BETWEEN now() + interval '29 seconds' AND now() + interval '31 seconds'
             FROM daz.rooms WHERE room = 'lobby'), 'lease runs for p_lease');

-- A second worker is refused while the lease lives
SELECT ok(NOT daz.room_acquire('w2', 'lobby', 'https://cytu.be', 'lobby', 'DazBot', '30 seconds'),
          'a second worker does not get a held room');
SELECT is((SELECT holder FROM daz.rooms WHERE room = 'lobby'), 'w1', 'holder unchanged after refusal');
SELECT ok(NOT daz.room_acquire('w2', 'lobby2', 'https://CYTU.BE', 'Lobby', 'dazbot', '30 seconds'),
          'another room key for the same site/channel/account (any case) is refused too');
SELECT ok(NOT EXISTS (SELECT 1 FROM daz.rooms WHERE room = 'lobby2'), 'the refused alias row is not created');
SELECT ok(daz.room_acquire('w2', 'lobby-other', 'https://cytu.be', 'lobby', 'OtherBot', '30 seconds'),
          'a different account in the same channel is a different identity');

-- The holder renews by acquiring again; its state survives
SELECT ok(daz.room_state('w1', 'lobby', 'joined'), 'holder reports joined');
UPDATE daz.rooms SET lease_until = now() + interval '1 second' WHERE room = 'lobby';
SELECT ok(daz.room_acquire('w1', 'lobby', 'https://cytu.be', 'lobby', 'DazBot', '30 seconds'),
          'the holder re-acquires its own room');
SELECT row_eq($$SELECT state, lease_until > now() + interval '20 seconds' FROM daz.rooms WHERE room = 'lobby'$$,
              ROW('joined'::text, true), 're-acquire renews the lease and keeps the state');

-- Expiry: the second worker takes over and the connection state starts clean
UPDATE daz.rooms SET lease_until = now() - interval '1 second' WHERE room = 'lobby';
SELECT ok(daz.room_acquire('w2', 'lobby', 'https://cytu.be', 'lobby', 'DazBot', '30 seconds'),
          'an expired lease is taken over');
SELECT row_eq($$SELECT holder, state, connected_since FROM daz.rooms WHERE room = 'lobby'$$,
              ROW('w2'::text, 'offline'::text, NULL::timestamptz), 'takeover resets state and connected_since');
SELECT ok(NOT daz.room_state('w1', 'lobby', 'backoff', 'late'), 'the old holder can no longer write state');
SELECT is((SELECT last_error FROM daz.rooms WHERE room = 'lobby'), NULL, 'the refused state write changed nothing');

-- Heartbeat
SELECT is(daz.heartbeat('w1', 'host1', 101, '0.1.0', '{lobby}', '30 seconds'), '{}'::text[],
          'heartbeat of the old holder returns no rooms: it lost lobby');
SELECT is(daz.heartbeat('w2', 'host2', 202, '0.1.0', '{lobby,lobby-other}', '30 seconds'),
          '{lobby,lobby-other}'::text[], 'heartbeat returns the rooms the worker holds, sorted');
SELECT row_eq($$SELECT host, pid, version, rooms FROM daz.workers WHERE worker = 'w2'$$,
              ROW('host2'::text, 202, '0.1.0'::text, '{lobby,lobby-other}'::text[]), 'heartbeat upserts daz.workers');
UPDATE daz.rooms SET lease_until = now() - interval '5 seconds' WHERE room = 'lobby';
SELECT is(daz.heartbeat('w2', 'host2', 202, '0.1.0', '{lobby,lobby-other}', '10 seconds'),
          '{lobby,lobby-other}'::text[], 'an expired lease nobody took is renewed by its holder');
SELECT ok((SELECT lease_until > now() + interval '9 seconds' FROM daz.rooms WHERE room = 'lobby'),
          'heartbeat renews to now() + p_lease');
SELECT is(daz.heartbeat('w2', 'host2', 202, '0.1.0', '{lobby}', '10 seconds'), '{lobby,lobby-other}'::text[],
          'p_rooms is informational: the heartbeat renews every room held');
SELECT ok(daz.room_release('w2', 'lobby-other'), 'a room is given back with daz.room_release');

-- room_state transitions
SELECT ok(daz.room_state('w2', 'lobby', 'connecting'), 'connecting');
SELECT is((SELECT reconnects FROM daz.rooms WHERE room = 'lobby'), 0, 'the first connect is not a reconnect');
SELECT ok(daz.room_state('w2', 'lobby', 'joined'), 'joined');
SELECT ok((SELECT connected_since IS NOT NULL FROM daz.rooms WHERE room = 'lobby'), 'joined sets connected_since');
SELECT ok(daz.room_state('w2', 'lobby', 'backoff', 'kicked: Duplicate login'), 'backoff with an error');
SELECT row_eq($$SELECT connected_since, last_error FROM daz.rooms WHERE room = 'lobby'$$,
              ROW(NULL::timestamptz, 'kicked: Duplicate login'::text), 'leaving joined clears connected_since and records the error');
SELECT ok(daz.room_state('w2', 'lobby', 'connecting'), 'connecting again');
SELECT is((SELECT reconnects FROM daz.rooms WHERE room = 'lobby'), 1, 'a second connect counts as a reconnect');
SELECT throws_ok($$SELECT daz.room_state('w2', 'lobby', 'dancing')$$, '22023', NULL, 'unknown state is refused');

-- last_event_at, reported with the heartbeat
SELECT is(daz.heartbeat('w2', 'host2', 202, '0.1.0', '{lobby}', '10 seconds',
                        '{lobby,lobby-other}', '{2026-01-01T12:00:00Z,2026-01-01T12:00:00Z}'),
          '{lobby}'::text[], 'a heartbeat with event times renews as before');
SELECT is((SELECT last_event_at FROM daz.rooms WHERE room = 'lobby'), '2026-01-01T12:00:00Z'::timestamptz,
          'the heartbeat records the last event time of a held room');
SELECT is((SELECT last_event_at FROM daz.rooms WHERE room = 'lobby-other'), NULL::timestamptz,
          'but not of a room the worker does not hold');
SELECT daz.heartbeat('w2', 'host2', 202, '0.1.0', '{lobby}', '10 seconds', '{lobby}', '{2025-01-01T00:00:00Z}');
SELECT is((SELECT last_event_at FROM daz.rooms WHERE room = 'lobby'), '2026-01-01T12:00:00Z'::timestamptz,
          'last_event_at never moves back');
SELECT throws_ok($$SELECT daz.heartbeat('w2', 'host2', 202, '0.1.0', '{lobby}', '10 seconds', '{lobby}', '{}')$$,
                 '22023', NULL, 'event rooms and event times of different lengths are refused');

-- View
SELECT is((SELECT lease FROM daz.room_overview WHERE room = 'lobby'), 'held', 'overview shows a held lease');
SELECT is((SELECT host FROM daz.room_overview WHERE room = 'lobby'), 'host2', 'overview shows the holder host');
SELECT is((SELECT lease FROM daz.room_overview WHERE room = 'lobby-other'), 'free', 'overview shows a free room');
UPDATE daz.rooms SET lease_until = now() - interval '1 second' WHERE room = 'lobby';
SELECT is((SELECT lease FROM daz.room_overview WHERE room = 'lobby'), 'expired', 'overview shows an expired lease');
UPDATE daz.rooms SET lease_until = now() + interval '10 seconds' WHERE room = 'lobby';

-- Release
SELECT ok(NOT daz.room_release('w1', 'lobby'), 'a non-holder cannot release');
SELECT ok(daz.room_release('w2', 'lobby'), 'the holder releases');
SELECT ok(daz.room_acquire('w1', 'lobby', 'https://cytu.be', 'lobby', 'DazBot', '30 seconds'),
          'a released room is free at once');

-- Bad input
SELECT throws_ok($$SELECT daz.room_acquire('', 'x', 'https://cytu.be', 'x', 'B', '30 seconds')$$,
                 '22023', NULL, 'empty worker is refused');
SELECT throws_ok($$SELECT daz.room_acquire('w1', E'bad\nroom', 'https://cytu.be', 'x', 'B', '30 seconds')$$,
                 '22023', NULL, 'room with a control character is refused');
SELECT throws_ok($$SELECT daz.heartbeat('w1', 'h', 1, 'v', '{}', '0 seconds')$$,
                 '22023', NULL, 'non-positive lease is refused');

SELECT * FROM finish();
ROLLBACK;

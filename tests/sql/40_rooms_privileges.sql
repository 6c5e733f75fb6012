-- 40_rooms_privileges.sql — who may call the room functions and write the room tables.
BEGIN;
SELECT plan(10);

SELECT ok(has_function_privilege('daz_daemon', 'daz.room_acquire(text, text, text, text, text, interval)', 'EXECUTE'),
          'daz_daemon may acquire');
SELECT ok(has_function_privilege('daz_daemon', 'daz.heartbeat(text, text, integer, text, text[], interval, text[], timestamptz[])', 'EXECUTE'),
          'daz_daemon may heartbeat');
SELECT ok(has_function_privilege('daz_daemon', 'daz.room_state(text, text, text, text)', 'EXECUTE')
          AND has_function_privilege('daz_daemon', 'daz.room_release(text, text)', 'EXECUTE'),
          'daz_daemon may report state and release');
SELECT ok(NOT has_function_privilege('daz_reader', 'daz.room_acquire(text, text, text, text, text, interval)', 'EXECUTE'),
          'daz_reader may not acquire');
SELECT ok(NOT has_function_privilege('daz_operator', 'daz.heartbeat(text, text, integer, text, text[], interval, text[], timestamptz[])', 'EXECUTE'),
          'daz_operator may not heartbeat');
SELECT ok(NOT has_table_privilege('daz_daemon', 'daz.rooms', 'UPDATE')
          AND NOT has_table_privilege('daz_daemon', 'daz.rooms', 'INSERT')
          AND NOT has_table_privilege('daz_daemon', 'daz.workers', 'UPDATE'),
          'daz_daemon writes the room tables only through the functions');
SELECT ok(has_table_privilege('daz_reader', 'daz.room_overview', 'SELECT'), 'daz_reader reads the overview');

-- Run as the daemon role: the functions work, direct writes are refused.
SET LOCAL ROLE daz_daemon;
SELECT ok(daz.room_acquire('wd', 'privroom', 'https://cytu.be', 'privroom', 'DazBot', '30 seconds'),
          'acquire works as daz_daemon');
SELECT throws_ok($$UPDATE daz.rooms SET holder = 'thief' WHERE room = 'privroom'$$, '42501', NULL,
                 'daz_daemon cannot steal a room by UPDATE');
RESET ROLE;
SET LOCAL ROLE daz_reader;
SELECT throws_ok($$SELECT daz.room_release('wd', 'privroom')$$, '42501', NULL, 'daz_reader cannot release a room');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;

-- 00_foundation.sql — schema, roles, settings and migrations bookkeeping of 0001.
BEGIN;
SELECT plan(14);

SELECT has_schema('daz', 'schema daz exists');
SELECT has_role('daz_daemon', 'role daz_daemon exists');
SELECT has_role('daz_operator', 'role daz_operator exists');
SELECT has_role('daz_reader', 'role daz_reader exists');
SELECT is((SELECT count(*)::int FROM pg_roles
           WHERE rolname IN ('daz_daemon', 'daz_operator', 'daz_reader') AND rolcanlogin),
          0, 'the three group roles cannot log in');

SELECT has_table('daz', 'schema_migrations', 'daz.schema_migrations exists');
SELECT ok((SELECT count(*) FROM daz.schema_migrations WHERE version = '0001' AND name = 'foundation'
           AND checksum ~ '^[0-9a-f]{64}$') = 1,
          'migration 0001 is recorded with a sha256 checksum');
SELECT is(daz.setting('command_prefix'), '!', 'command prefix defaults to !');
SELECT is(daz.setting('no_such_key', 'fallback'), 'fallback', 'an absent setting yields the default');
SELECT throws_ok($$INSERT INTO daz.settings (key, value) VALUES ('Bad Key', 'x')$$,
                 '23514', NULL, 'setting keys are lower-case identifiers');
SELECT has_extension('pg_cron', 'pg_cron is installed in cron.database_name');

SET LOCAL ROLE daz_reader;
SELECT lives_ok($$SELECT daz.setting('command_prefix')$$, 'daz_reader may read settings');
SELECT throws_ok($$UPDATE daz.settings SET value = '?' WHERE key = 'command_prefix'$$,
                 '42501', NULL, 'daz_reader may not change settings');
RESET ROLE;
SET LOCAL ROLE daz_operator;
SELECT lives_ok($$UPDATE daz.settings SET value = '?' WHERE key = 'command_prefix'$$,
                'daz_operator may change settings');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;

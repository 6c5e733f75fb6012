-- 20_events_1_store.sql — event store: schema, partitions (ahead, default partition, move, drop), retention purge, pg_cron jobs.
BEGIN;
SELECT plan(32);

SELECT has_table('daz', 'events', 'daz.events exists');
SELECT is((SELECT c.relkind::text FROM pg_class c WHERE c.oid = 'daz.events'::regclass), 'p', 'daz.events is partitioned');
SELECT is((SELECT pg_get_partkeydef('daz.events'::regclass)), 'RANGE (received_at)', 'partitioned by range on received_at');
SELECT columns_are('daz', 'events', ARRAY['id', 'received_at', 'room', 'type', 'tags', 'actor', 'server_time', 'payload', 'expires_at'],
                   'events columns: those of daz.event_in plus expires_at');
SELECT col_is_pk('daz', 'events', ARRAY['received_at', 'id'], 'primary key (received_at, id) holds the partition key');
SELECT ok(EXISTS (SELECT 1 FROM pg_indexes WHERE schemaname = 'daz' AND tablename = 'events' AND indexdef LIKE '%USING brin (received_at)%'),
          'BRIN index on received_at');
SELECT ok(EXISTS (SELECT 1 FROM pg_indexes WHERE schemaname = 'daz' AND tablename = 'events' AND indexdef LIKE '%USING gin (tags)%'),
          'GIN index on tags');
SELECT ok(EXISTS (SELECT 1 FROM pg_indexes WHERE schemaname = 'daz' AND tablename = 'events' AND indexdef LIKE '%btree (room, type, received_at)%'),
          'btree index on (room, type, received_at)');
SELECT ok(EXISTS (SELECT 1 FROM pg_indexes WHERE schemaname = 'daz' AND tablename = 'events'
                   AND indexdef LIKE '%(room, server_time) WHERE (type = ''chatMsg''::text)%'),
          'partial index for the history dedup lookup');
SELECT is((SELECT count(*)::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'daz' AND c.relkind IN ('r', 'p', 'v') AND c.relname !~ '^events_\d{8}$'
              AND c.relname IN ('events', 'events_default', 'log_rules', 'rejected_events', 'ingest_counters', 'users',
                                'user_sessions', 'playlist', 'media_plays', 'subscriptions', 'chat', 'activity_hourly',
                                'media_history', 'top_chatters', 'ingest_stats', 'users_online', 'playlist_now')
              AND obj_description(c.oid, 'pg_class') IS NULL), 0, 'every event-store table and view has a COMMENT');
SELECT is((SELECT count(*)::int FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = 'daz' AND p.proname IN ('ingest', 'ensure_partitions', 'drop_expired_partitions',
                  'purge_expired_events', 'events_schedule', 'html_to_text', 'subscribe', 'unsubscribe', 'cmd_dispatch')
              AND obj_description(p.oid, 'pg_proc') IS NULL), 0, 'every event-store function has a COMMENT');

-- Partitions ahead: today through 7 days ahead exist after migrate.
SELECT is((SELECT count(*)::int FROM generate_series(0, 7) AS d
            WHERE to_regclass('daz.' || daz.events_partition_name(((now() AT TIME ZONE 'UTC')::date + d))) IS NOT NULL),
          8, 'partitions exist for today and the 7 days ahead');
SELECT is(daz.ensure_partitions(7), 0, 'ensure_partitions is idempotent (nothing new to create)');
SELECT ok(daz.ensure_partitions(10) = 3
          AND to_regclass('daz.' || daz.events_partition_name((now() AT TIME ZONE 'UTC')::date + 10)) IS NOT NULL,
          'ensure_partitions(10) creates the 3 missing days ahead');
SELECT throws_ok($$SELECT daz.ensure_partitions(-1)$$, '22023', 'daz.ensure_partitions: p_days_ahead must be 0..366, got -1',
                 'a negative horizon is refused');

-- A day without a partition is stored in the default partition, never rejected.
SELECT is(daz.ingest(ARRAY[
    ROW('01900000-0000-7000-8000-000000000001', now() + interval '30 days', 'botchan', 'chatMsg',
        '{room:botchan,chat,user-message}', 'PlainUser', now() + interval '30 days',
        '{"username":"PlainUser","msg":"from the future","meta":{},"time":1795750192882}')::daz.event_in,
    ROW('01900000-0000-7000-8000-000000000002', now() + interval '30 days 1 second', 'botchan', 'usercount',
        '{room:botchan,user,presence}', NULL, NULL, '2')::daz.event_in]), 2,
   'events for a day without partition are stored');
SELECT is((SELECT count(*)::int FROM daz.events_default), 2, 'they sit in the default partition');
SELECT is(daz.ensure_partitions(31), 21, 'ensure_partitions(31) creates the days up to 31 ahead');
SELECT is((SELECT count(*)::int FROM daz.events_default), 0, 'rows moved out of the default partition');
SELECT is((SELECT tableoid::regclass::text FROM daz.events WHERE id = '01900000-0000-7000-8000-000000000001'),
          'daz.' || daz.events_partition_name(((now() + interval '30 days') AT TIME ZONE 'UTC')::date),
          'the row now lives in its day''s partition');
SELECT is((SELECT count(*)::int FROM daz.events WHERE id IN ('01900000-0000-7000-8000-000000000001', '01900000-0000-7000-8000-000000000002')),
          2, 'nothing lost by the move');
SELECT is(daz.ingest(ARRAY[ROW('01900000-0000-7000-8000-000000000001', now() + interval '30 days', 'botchan', 'chatMsg',
        '{room:botchan,chat,user-message}', 'PlainUser', now() + interval '30 days',
        '{"username":"PlainUser","msg":"from the future","meta":{},"time":1795750192882}')::daz.event_in]), 0,
   'idempotency holds across the move (same id and received_at)');

-- Dropped after retention: an old partition with rows, and an old row in the default partition.
CREATE TABLE daz.events_20200101 PARTITION OF daz.events FOR VALUES FROM ('2020-01-01 00:00+00') TO ('2020-01-02 00:00+00');
SELECT is(daz.ingest(ARRAY[
    ROW('01900000-0000-7000-8000-000000000003', '2020-01-01 12:00+00', 'botchan', 'chatMsg', '{room:botchan,chat}', 'Old', NULL,
        '{"msg":"old"}')::daz.event_in,
    ROW('01900000-0000-7000-8000-000000000004', '2020-02-01 12:00+00', 'botchan', 'chatMsg', '{room:botchan,chat}', 'Old', NULL,
        '{"msg":"old, in default"}')::daz.event_in]), 2, 'old events are stored too');
SELECT is(daz.drop_expired_partitions(), 1, 'drop_expired_partitions drops the partition older than the longest retention');
SELECT ok(to_regclass('daz.events_20200101') IS NULL, 'the expired partition is gone');
SELECT is((SELECT count(*)::int FROM daz.events WHERE received_at < now() - interval '1 year'), 0,
          'old rows in the default partition are deleted too');
SELECT ok(to_regclass('daz.' || daz.events_partition_name((now() AT TIME ZONE 'UTC')::date)) IS NOT NULL,
          'today''s partition is kept');

-- Per-row retention shorter than the partition's: expires_at + purge.
INSERT INTO daz.log_rules (tag, action, retention, comment) VALUES ('presence', 'store', '1 hour', 'test: short');
SELECT is(daz.ingest(ARRAY[
    ROW('01900000-0000-7000-8000-000000000005', now() - interval '2 hours', 'botchan', 'usercount', '{room:botchan,user,presence}',
        NULL, NULL, '3')::daz.event_in,
    ROW('01900000-0000-7000-8000-000000000006', now() - interval '2 hours', 'botchan', 'chatMsg', '{room:botchan,chat,user-message}',
        'PlainUser', NULL, '{"username":"PlainUser","msg":"kept","meta":{}}')::daz.event_in]), 2, 'both stored');
SELECT is((SELECT array_agg(expires_at IS NOT NULL ORDER BY id) FROM daz.events
            WHERE id IN ('01900000-0000-7000-8000-000000000005', '01900000-0000-7000-8000-000000000006')),
          ARRAY[true, false], 'only the short-retention row gets expires_at');
SELECT is(daz.purge_expired_events(), 1, 'purge_expired_events deletes the expired row');
SELECT is((SELECT count(*)::int FROM daz.events WHERE id IN ('01900000-0000-7000-8000-000000000005', '01900000-0000-7000-8000-000000000006')),
          1, 'the chat line (90 days) stays');

-- pg_cron schedule where the cron schema exists (the suite runs in database daz, where it does).
CREATE FUNCTION pg_temp.cron_jobs() RETURNS int LANGUAGE plpgsql AS $$
DECLARE v int;
BEGIN
    IF to_regnamespace('cron') IS NULL THEN
        RETURN -1;
    END IF;
    EXECUTE $q$SELECT count(*)::int FROM cron.job
                WHERE jobname IN ('daz-events-partitions', 'daz-events-retention', 'daz-events-purge')$q$ INTO v;
    RETURN v;
END $$;
SELECT is(pg_temp.cron_jobs(), CASE WHEN to_regnamespace('cron') IS NULL THEN -1 ELSE 3 END,
          'pg_cron jobs for partitions, retention and purge are installed where pg_cron is');

SELECT * FROM finish();
ROLLBACK;

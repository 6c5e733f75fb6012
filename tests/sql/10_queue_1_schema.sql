-- 10_queue_1_schema.sql — queue tables, seeds, indexes, comments and function hygiene.
BEGIN;
SELECT plan(35);

SELECT has_table('daz', 'queues', 'daz.queues exists');
SELECT has_table('daz', 'jobs', 'daz.jobs exists');
SELECT has_table('daz', 'dead_letters', 'daz.dead_letters exists');
SELECT has_table('daz', 'job_results', 'daz.job_results exists');
SELECT has_table('daz', 'paused_rooms', 'daz.paused_rooms exists');
SELECT columns_are('daz', 'jobs', ARRAY['id', 'queue', 'kind', 'room', 'payload', 'priority', 'state', 'run_at',
    'attempts', 'max_attempts', 'lease_until', 'locked_by', 'dedup_key', 'correlation_id', 'created_at',
    'last_error', 'errors', 'handler'], 'daz.jobs has exactly the interface columns');
SELECT is(
    (SELECT array_agg(attname::text ORDER BY attnum) FROM pg_attribute
      WHERE attrelid = 'daz.jobs'::regclass AND attnum > 0 AND NOT attisdropped),
    ARRAY['id', 'queue', 'kind', 'room', 'payload', 'priority', 'state', 'run_at', 'attempts', 'max_attempts',
          'lease_until', 'locked_by', 'dedup_key', 'correlation_id', 'created_at', 'last_error', 'errors', 'handler'],
    'daz.jobs columns are in interface order (composite rows are read positionally)');
SELECT col_type_is('daz', 'jobs', 'priority', 'daz.job_priority', 'jobs.priority is daz.job_priority');
SELECT is((SELECT typbasetype::regtype::text FROM pg_type WHERE oid = 'daz.job_priority'::regtype), 'smallint',
          'daz.job_priority is a smallint');
SELECT col_type_is('daz', 'jobs', 'handler', 'regprocedure', 'jobs.handler is regprocedure');
SELECT columns_are('daz', 'queues', ARRAY['name', 'paused', 'max_attempts', 'backoff_base', 'backoff_factor',
    'backoff_max', 'jitter', 'lease', 'handler', 'retention', 'comment', 'rooms_paused'], 'daz.queues has the interface columns');
SELECT results_eq(
    $$SELECT name, handler::oid::regprocedure = 'daz.unrouted_job(daz.jobs)'::regprocedure, max_attempts, backoff_base, backoff_factor, backoff_max FROM daz.queues
       WHERE name IN ('bot', 'cytube', 'maintenance') ORDER BY name$$,
    $$VALUES ('bot', true, 3, interval '2 seconds', 2::numeric, interval '60 seconds'),
             ('cytube', NULL::boolean, 5, interval '5 seconds', 2::numeric, interval '300 seconds'),
             ('maintenance', true, 5, interval '30 seconds', 2::numeric, interval '1 hour')$$,
    'seeded queues: cytube (dazd, 5 attempts, 5 s x2 capped at 300 s), bot and maintenance (unrouted_job)');
SELECT is((SELECT pg_get_expr(indpred, indrelid) FROM pg_index WHERE indexrelid = 'daz.jobs_claim_idx'::regclass),
          '((state)::text = ''ready''::text)', 'the claim index holds only ready rows');
SELECT is((SELECT pg_get_indexdef('daz.jobs_claim_idx'::regclass)),
          'CREATE INDEX jobs_claim_idx ON daz.jobs USING btree (hashtext(queue), priority DESC, run_at, id) WHERE ((state)::text = ''ready''::text)',
          'the claim index is in claim order within a queue: hashtext(queue), priority DESC, run_at, id');
SELECT is((SELECT pg_get_indexdef('daz.jobs_claim_room_idx'::regclass)),
          'CREATE INDEX jobs_claim_room_idx ON daz.jobs USING btree (hashtext(queue), priority DESC, hashtext((room)::text), run_at, id) WHERE ((state)::text = ''ready''::text)',
          'the room claim index is in claim order within a queue and room');
SELECT is((SELECT indisunique FROM pg_index WHERE indexrelid = 'daz.jobs_dedup_idx'::regclass), true,
          'the dedup index is unique');
-- Every claim writes an entry into each index of daz.jobs whose predicate a running job meets,
-- and every statement that writes rows opens and prepares all of a table's indexes: an index only
-- housekeeping reads does not belong on these two tables (migration 0012).
SELECT is((SELECT array_agg(indexrelid::regclass::text ORDER BY indexrelid::regclass::text) FROM pg_index
            WHERE indrelid = 'daz.jobs'::regclass),
          ARRAY['daz.jobs_claim_idx', 'daz.jobs_claim_room_idx', 'daz.jobs_dedup_idx', 'daz.jobs_pkey'],
          'daz.jobs has the primary key, the claim indexes and the dedup index, and no other index');
SELECT is((SELECT array_agg(indexrelid::regclass::text) FROM pg_index WHERE indrelid = 'daz.job_results'::regclass),
          ARRAY['daz.job_results_pkey'], 'daz.job_results has only its primary key');
SELECT throws_ok($$INSERT INTO daz.jobs (queue, kind, priority) VALUES ('bot', 'x', 4)$$, '23514', NULL,
                 'priority outside 0..3 violates a check constraint');
SELECT throws_ok($$INSERT INTO daz.jobs (queue, kind, state) VALUES ('bot', 'x', 'done')$$, '23514', NULL,
                 'state outside ready/running violates a check constraint');
SELECT throws_ok($$INSERT INTO daz.jobs (queue, kind) VALUES ('bot', E'a\nb')$$, '23514', NULL,
                 'a kind with a control character violates daz.job_kind');
SELECT throws_ok($$INSERT INTO daz.jobs (queue, kind, room) VALUES ('bot', 'x', repeat('r', 65))$$, '23514', NULL,
                 'a room over 64 characters violates daz.job_room');
SELECT throws_ok($$INSERT INTO daz.jobs (queue, kind, max_attempts) VALUES ('bot', 'x', 0)$$, '23514', NULL,
                 'max_attempts outside 1..1000 violates daz.job_max_attempts');
SELECT throws_ok($$INSERT INTO daz.jobs (queue, kind, state) VALUES ('bot', 'x', 'running')$$, '23514',
                 'new row for relation "jobs" violates check constraint "jobs_running_check"',
                 'a running job without lease and worker violates jobs_running_check');
SELECT lives_ok($$INSERT INTO daz.jobs (queue, kind) VALUES ('bot', 'domain-test')$$, 'a plain job row goes in');
SELECT throws_ok($$UPDATE daz.jobs SET priority = 7 WHERE kind = 'domain-test'$$, '23514', NULL,
                 'an UPDATE assigning a bad priority violates daz.job_priority');
SELECT throws_ok($$INSERT INTO daz.jobs (queue, kind) VALUES ('nope', 'x')$$, '23503', NULL,
                 'a job on an unknown queue violates the foreign key');

SELECT is_empty($$
    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'daz' AND c.relkind IN ('r', 'v') AND c.relname IN
           ('queues', 'jobs', 'dead_letters', 'job_results', 'paused_rooms', 'queue_overview', 'dead_letter_overview')
       AND obj_description(c.oid, 'pg_class') IS NULL$$, 'every queue table and view has a comment');
SELECT is_empty($$
    SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = 'daz' AND obj_description(p.oid, 'pg_proc') IS NULL
       AND (p.proname LIKE 'queue\_%' OR p.proname IN ('enqueue', 'enqueue_many', 'claim', 'complete', 'fail',
            'fail_many', 'extend_lease', 'rescue_expired', 'retry_dead', 'retry_dead_many', 'cancel', 'pause',
            'resume', 'pause_room', 'resume_room', 'job_status', 'await_result', 'run_jobs', 'say', 'pm', 'emit', 'unrouted_job', 'retry_delay',
            'prune_job_results', 'prune_cron_history', 'install_cron'))$$,
    'every queue function has a comment');
SELECT is_empty($$
    SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = 'daz' AND p.prosecdef
       AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, daz, pg_temp'], false)$$,
    'every SECURITY DEFINER function pins search_path = pg_catalog, daz, pg_temp');
SELECT is_empty($$
    SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = 'daz' AND (p.proname LIKE 'queue\_%' OR p.prosecdef)
       AND has_function_privilege('public', p.oid, 'EXECUTE')$$,
    'PUBLIC may execute no SECURITY DEFINER or internal queue function');
SELECT is_empty($$
    SELECT c.column_name FROM information_schema.columns c
     WHERE c.table_schema = 'daz' AND c.table_name = 'jobs'
       AND col_description('daz.jobs'::regclass, c.ordinal_position::int) IS NULL
       AND c.column_name NOT IN ('id', 'queue', 'payload', 'max_attempts', 'created_at')$$,
    'every non-obvious daz.jobs column has a comment');
SELECT trigger_is('daz', 'jobs', 'jobs_inserted', 'daz', 'queue_jobs_inserted',
                  'the insert trigger calls daz.queue_jobs_inserted');
SELECT is((SELECT tgtype & 1 FROM pg_trigger WHERE tgname = 'jobs_inserted')::int, 0,
          'the insert trigger is a statement trigger (fires once per statement)');
SELECT ok(has_column_privilege('daz_operator', 'daz.jobs', 'id', 'SELECT')
          AND NOT has_table_privilege('daz_operator', 'daz.jobs', 'INSERT')
          AND NOT has_table_privilege('daz_daemon', 'daz.jobs', 'SELECT')
          AND NOT has_table_privilege('daz_reader', 'daz.jobs', 'SELECT'),
          'operators read the job tables, nobody writes them directly, daemon and reader do not read them');

SELECT * FROM finish();
ROLLBACK;

-- The queue rule of daz.jobs (a foreign key kept by triggers): unknown queues refused per statement,
-- queues with jobs kept, renames carried along, the inserter's lock on the queue row.
BEGIN;
SELECT plan(16);

INSERT INTO daz.queues (name, comment) VALUES ('tq_rule', 'queue rule tests'), ('tq_rule_empty', 'no jobs');

SELECT hasnt_fk('daz', 'jobs', 'daz.jobs has no foreign key: the queue rule is kept by triggers');
SELECT throws_ok($$INSERT INTO daz.jobs (queue, kind) VALUES ('tq_nope', 'x')$$, '23503',
                 'insert or update on table "jobs" violates its queue rule: queue "tq_nope" does not exist',
                 'a job on an unknown queue is refused with the foreign key''s SQLSTATE');
SELECT throws_ok($$INSERT INTO daz.jobs (queue, kind) VALUES ('tq_rule', 'a'), ('tq_rule', 'b'), ('tq_nope2', 'c')$$, '23503',
                 'insert or update on table "jobs" violates its queue rule: queue "tq_nope2" does not exist',
                 'one unknown queue in a multi-row insert refuses the statement');
SELECT is((SELECT count(*)::int FROM daz.jobs WHERE queue = 'tq_rule'), 0, '... and none of its rows stays');
SELECT lives_ok($$INSERT INTO daz.jobs (queue, kind) SELECT 'tq_rule', 'k' || g FROM generate_series(1, 3) g$$,
                'jobs on a known queue go in');
SELECT throws_ok($$SELECT daz.enqueue('tq_nope', 'x')$$, '22023', NULL, 'daz.enqueue still names an unknown queue itself');

-- The inserter holds the queue row FOR KEY SHARE until it ends: another session can neither
-- delete nor rename it meanwhile (the seeded queues are committed, so the other session sees them).
SELECT isnt(daz.enqueue('bot', 'rule-test'), NULL, 'a job on queue bot');
SELECT is(dblink_connect('rule', format('dbname=%s port=%s host=%s user=%s', current_database(),
          current_setting('port'), current_setting('unix_socket_directories'), current_user)), 'OK', 'second session');
SELECT throws_ok($$SELECT * FROM dblink('rule', 'SELECT 1 FROM daz.queues WHERE name = ''bot'' FOR UPDATE NOWAIT') AS t(x int)$$,
                 '55P03', NULL, 'the queue of the new job is locked against deletion and renaming');
SELECT is((SELECT x FROM dblink('rule', 'SELECT 1 FROM daz.queues WHERE name = ''maintenance'' FOR UPDATE NOWAIT') AS t(x int)),
          1, 'a queue without new jobs is not locked');
SELECT dblink_disconnect('rule');

SELECT throws_ok($$DELETE FROM daz.queues WHERE name = 'tq_rule'$$, '23503',
                 'update or delete on table "queues" violates the queue rule of "jobs": queue "tq_rule" still has jobs',
                 'a queue with jobs cannot be deleted');
SELECT lives_ok($$DELETE FROM daz.queues WHERE name = 'tq_rule_empty'$$, 'a queue without jobs can');
SELECT lives_ok($$UPDATE daz.queues SET name = 'tq_rule2' WHERE name = 'tq_rule'$$, 'a queue with jobs can be renamed');
SELECT is((SELECT array_agg(kind::text ORDER BY kind) FROM daz.jobs WHERE queue = 'tq_rule2'), ARRAY['k1', 'k2', 'k3'],
          '... and its jobs follow it');
SELECT throws_ok($$UPDATE daz.jobs SET queue = 'tq_nope' WHERE queue = 'tq_rule2'$$, '23503', NULL,
                 'a job cannot be moved to an unknown queue');
SELECT throws_ok($$TRUNCATE daz.queues CASCADE$$, '23503',
                 'truncate of table "queues" violates the queue rule of "jobs": there are jobs',
                 'daz.queues cannot be truncated while jobs exist');

SELECT * FROM finish();
ROLLBACK;

-- 10_queue_6_roles.sql — role boundaries: what daz_daemon, daz_operator and daz_reader may and may not do.
BEGIN;
SELECT plan(47);

CREATE TEMP TABLE j AS
SELECT 'chat'::text AS what, daz.say('lobby', 'hi') AS id
UNION ALL SELECT 'bot', daz.enqueue('bot', 'cmd')
UNION ALL SELECT 'chat2', daz.say('lobby', 'hi again');
GRANT SELECT ON j TO daz_daemon, daz_operator, daz_reader;
-- Claim the bot job as the owner, so the daemon has a running non-cytube job to (fail to) touch.
CREATE TEMP TABLE owner_claim AS SELECT * FROM daz.claim('bot', 'owner', 1);

-- daz_daemon
SET ROLE daz_daemon;
SELECT is((SELECT count(*)::int FROM daz.claim('cytube', 'dazd-1', 10, ARRAY['lobby'])), 2, 'daemon: claims cytube jobs');
SELECT throws_ok($$SELECT * FROM daz.claim('bot', 'dazd-1')$$, '42501', 'daz.claim: permission denied for queue "bot"',
                 'daemon: may not claim from queue bot');
SELECT throws_ok($$SELECT * FROM daz.claim('maintenance', 'dazd-1')$$, '42501', NULL, 'daemon: may not claim from maintenance');
SELECT throws_ok($$SELECT daz.complete(ARRAY(SELECT id FROM j WHERE what = 'bot'))$$, '42501',
                 'daz.complete: permission denied for queue "bot"', 'daemon: may not complete a bot job');
SELECT throws_ok($$SELECT daz.fail((SELECT id FROM j WHERE what = 'bot'), 'x')$$, '42501',
                 'daz.fail: permission denied for queue "bot"', 'daemon: may not fail a bot job');
SELECT throws_ok($$SELECT daz.fail_many(ARRAY(SELECT id FROM j WHERE what = 'bot'), ARRAY['x'])$$, '42501', NULL,
                 'daemon: may not fail_many a bot job');
SELECT throws_ok($$SELECT daz.extend_lease(ARRAY(SELECT id FROM j WHERE what = 'bot'), '1 minute')$$, '42501', NULL,
                 'daemon: may not extend a bot job''s lease');
SELECT throws_ok($$SELECT daz.complete(ARRAY(SELECT id FROM j ORDER BY id))$$, '42501', NULL,
                 'daemon: a batch with one foreign job is refused whole');
SELECT is(daz.extend_lease(ARRAY(SELECT id FROM j WHERE what = 'chat'), '2 minutes'), 1, 'daemon: extends a cytube lease');
SELECT is(daz.fail((SELECT id FROM j WHERE what = 'chat2'), 'room offline'), 'retry', 'daemon: fails a cytube job');
SELECT is(daz.complete(ARRAY(SELECT id FROM j WHERE what = 'chat'), ARRAY['{"sent":1,"confirmed":true}'::jsonb]), 1,
          'daemon: completes a cytube job');
SELECT lives_ok($$SELECT daz.run_jobs('dazd-1', 1)$$, 'daemon: may call run_jobs (dazd runs in-database jobs when notified)');
SELECT throws_ok($$SELECT daz.enqueue('cytube', 'chat')$$, '42501', NULL, 'daemon: may not enqueue');
SELECT throws_ok($$SELECT daz.enqueue_many('[]')$$, '42501', NULL, 'daemon: may not enqueue_many');
SELECT throws_ok($$SELECT daz.say('lobby', 'x')$$, '42501', NULL, 'daemon: may not say');
SELECT throws_ok($$SELECT daz.retry_dead(1)$$, '42501', NULL, 'daemon: may not retry dead letters');
SELECT throws_ok($$SELECT daz.cancel(1)$$, '42501', NULL, 'daemon: may not cancel');
SELECT throws_ok($$SELECT daz.pause('cytube')$$, '42501', NULL, 'daemon: may not pause');
SELECT throws_ok($$SELECT daz.pause_room('lobby')$$, '42501', NULL, 'daemon: may not pause a room');
SELECT throws_ok($$SELECT * FROM daz.jobs$$, '42501', NULL, 'daemon: may not read daz.jobs');
SELECT throws_ok($$SELECT * FROM daz.queue_overview$$, '42501', NULL, 'daemon: may not read the views');
SELECT throws_ok($$SELECT daz.rescue_expired()$$, '42501', NULL, 'daemon: may not run maintenance');
SELECT throws_ok($$SELECT daz.queue_claim('bot', 'x', 1, NULL)$$, '42501', NULL,
                 'daemon: may not call the unchecked internal claim');
RESET ROLE;

-- daz_operator
SET ROLE daz_operator;
SELECT isnt(daz.enqueue('maintenance', 'op-job'), NULL, 'operator: enqueues');
SELECT isnt(daz.say('lobby', 'from the operator'), NULL, 'operator: says');
SELECT isnt(daz.pm('lobby', 'alice', 'psst'), NULL, 'operator: sends a pm');
SELECT isnt(daz.emit('lobby', 'voteskip'), NULL, 'operator: emits');
SELECT is(daz.cancel((SELECT id FROM j WHERE what = 'chat2')), true, 'operator: cancels');
SELECT is(daz.retry_dead((SELECT id FROM j WHERE what = 'chat2')), (SELECT id FROM j WHERE what = 'chat2'),
          'operator: retries a dead letter');
SELECT is(daz.pause('cytube'), true, 'operator: pauses');
SELECT is(daz.resume('cytube'), true, 'operator: resumes');
SELECT is(daz.pause_room('lobby'), true, 'operator: pauses a room''s output');
SELECT is(daz.resume_room('lobby'), true, 'operator: resumes a room''s output');
SELECT is((SELECT status FROM daz.job_status((SELECT id FROM j WHERE what = 'chat'))), 'completed', 'operator: job_status');
SELECT ok((SELECT count(*) FROM daz.jobs) > 0 AND (SELECT count(*) FROM daz.queue_overview) >= 3,
          'operator: reads tables and views');
SELECT throws_ok($$SELECT * FROM daz.claim('cytube', 'op')$$, '42501', NULL, 'operator: may not claim');
SELECT throws_ok($$SELECT daz.complete(ARRAY[1]::bigint[])$$, '42501', NULL, 'operator: may not complete');
SELECT throws_ok($$SELECT daz.fail(1, 'x')$$, '42501', NULL, 'operator: may not fail');
SELECT throws_ok($$UPDATE daz.jobs SET priority = 3$$, '42501', NULL, 'operator: may not write daz.jobs directly');
SELECT throws_ok($$UPDATE daz.queues SET paused = true$$, '42501', NULL, 'operator: may not write daz.queues directly');
RESET ROLE;

-- daz_reader
SET ROLE daz_reader;
SELECT ok((SELECT count(*) FROM daz.queue_overview) >= 3, 'reader: reads queue_overview');
SELECT lives_ok($$SELECT * FROM daz.dead_letter_overview$$, 'reader: reads dead_letter_overview');
SELECT throws_ok($$SELECT * FROM daz.jobs$$, '42501', NULL, 'reader: may not read daz.jobs');
SELECT throws_ok($$SELECT * FROM daz.dead_letters$$, '42501', NULL, 'reader: may not read daz.dead_letters');
SELECT throws_ok($$SELECT daz.say('lobby', 'x')$$, '42501', NULL, 'reader: may not say');
SELECT throws_ok($$SELECT * FROM daz.job_status(1)$$, '42501', NULL, 'reader: may not call job_status');
SELECT throws_ok($$SELECT * FROM daz.claim('cytube', 'r')$$, '42501', NULL, 'reader: may not claim');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;

-- 10_queue_3_claim.sql — daz.claim: order, schedule, rooms, leases, pause, complete, extend_lease.
BEGIN;
SELECT plan(64);

INSERT INTO daz.queues (name, lease, comment) VALUES ('tq_claim', '45 seconds', 'test queue');

-- Jobs in a scrambled order: priorities 0..3, run_at in the past, one in the future.
CREATE TEMP TABLE seeded1 AS SELECT daz.enqueue_many(jsonb_build_array(
    jsonb_build_object('queue', 'tq_claim', 'kind', 'p0-old', 'priority', 0, 'run_at', now() - interval '10 minutes'),
    jsonb_build_object('queue', 'tq_claim', 'kind', 'p2-new', 'priority', 2, 'run_at', now() - interval '1 minute'),
    jsonb_build_object('queue', 'tq_claim', 'kind', 'p0-new', 'priority', 0, 'run_at', now() - interval '1 minute'),
    jsonb_build_object('queue', 'tq_claim', 'kind', 'p3', 'priority', 3, 'run_at', now() - interval '1 second'),
    jsonb_build_object('queue', 'tq_claim', 'kind', 'p2-old', 'priority', 2, 'run_at', now() - interval '5 minutes'),
    jsonb_build_object('queue', 'tq_claim', 'kind', 'p1', 'priority', 1),
    jsonb_build_object('queue', 'tq_claim', 'kind', 'p3-later', 'priority', 3, 'run_at', now() + interval '1 minute'),
    jsonb_build_object('queue', 'tq_claim', 'kind', 'p0-tie-a', 'priority', 0, 'run_at', '2000-01-01'),
    jsonb_build_object('queue', 'tq_claim', 'kind', 'p0-tie-b', 'priority', 0, 'run_at', '2000-01-01')));

SELECT is((SELECT array_agg(kind::text) FROM daz.claim('tq_claim', 'w1', 2)), ARRAY['p3', 'p2-old'],
          'claim hands out the highest priority first, then the oldest run_at');
SELECT is((SELECT array_agg(kind::text) FROM daz.claim('tq_claim', 'w1', 10)),
          ARRAY['p2-new', 'p1', 'p0-tie-a', 'p0-tie-b', 'p0-old', 'p0-new'],
          'the rest come in priority DESC, run_at, id order, ties broken by id');
SELECT is_empty($$SELECT * FROM daz.claim('tq_claim', 'w1', 10)$$, 'a job whose run_at is in the future is not handed out');
SELECT results_eq($$SELECT state::text, attempts, locked_by, lease_until = now() + interval '45 seconds'
                      FROM daz.jobs WHERE queue = 'tq_claim' AND kind = 'p3'$$,
                  $$VALUES ('running', 1, 'w1', true)$$,
                  'a claimed job is running, attempts + 1, locked by the worker, leased for the queue''s lease');
UPDATE daz.jobs SET run_at = now() - interval '1 second' WHERE queue = 'tq_claim' AND kind = 'p3-later';
SELECT results_eq($$SELECT kind::text, lease_until = now() + interval '5 minutes' FROM daz.claim('tq_claim', 'w2', 5, NULL, '5 minutes')$$,
                  $$VALUES ('p3-later', true)$$, 'once run_at has come the job is handed out, with the lease asked for');

-- complete
SELECT is(daz.complete(ARRAY(SELECT id FROM daz.jobs WHERE queue = 'tq_claim' AND kind IN ('p3', 'p1') ORDER BY kind),
                       ARRAY['{"r":"p1"}', '{"r":"p3"}']::jsonb[]), 2, 'complete acknowledges two jobs');
SELECT results_eq($$SELECT kind, result, attempts, locked_by FROM daz.job_results WHERE queue = 'tq_claim' ORDER BY kind$$,
                  $$VALUES ('p1', '{"r":"p1"}'::jsonb, 1, 'w1'), ('p3', '{"r":"p3"}'::jsonb, 1, 'w1')$$,
                  'completed jobs move to job_results with their own results');
SELECT is((SELECT count(*)::int FROM daz.jobs WHERE queue = 'tq_claim' AND kind IN ('p3', 'p1')), 0,
          'completed jobs leave daz.jobs');
SELECT is(daz.complete(ARRAY(SELECT id FROM daz.job_results WHERE queue = 'tq_claim')), 0,
          'completing again does nothing');
SELECT is(daz.complete(ARRAY(SELECT id FROM daz.jobs WHERE queue = 'tq_claim' AND kind = 'p0-old')), 1,
          'complete works without results');
SELECT is((SELECT result FROM daz.job_results WHERE queue = 'tq_claim' AND kind = 'p0-old'), NULL, 'and stores a NULL result');
SELECT throws_ok($$SELECT daz.complete(ARRAY[1, 2]::bigint[], ARRAY['{}']::jsonb[])$$, '22023',
                 'daz.complete: 2 ids but 1 results', 'complete refuses mismatched ids and results');
SELECT throws_ok($$SELECT daz.complete(NULL)$$, '22023', 'daz.complete: ids must not be NULL', 'complete refuses NULL ids');
SELECT is(daz.enqueue('tq_claim', 'ready-one') IS NOT NULL
          AND daz.complete(ARRAY(SELECT id FROM daz.jobs WHERE kind = 'ready-one')) = 0, true,
          'a ready (unclaimed) job cannot be completed');
UPDATE daz.queues SET retention = '0' WHERE name = 'tq_claim';
SELECT is(daz.complete(ARRAY(SELECT id FROM daz.jobs WHERE queue = 'tq_claim' AND kind = 'p0-new')), 1,
          'with retention 0 a job still completes');
SELECT is((SELECT count(*)::int FROM daz.job_results WHERE queue = 'tq_claim' AND kind = 'p0-new'), 0,
          'but no result is kept');

-- extend_lease
SELECT is(daz.extend_lease(ARRAY(SELECT id FROM daz.jobs WHERE queue = 'tq_claim' AND state = 'running'), '10 minutes'), 5,
          'extend_lease renews every running job given');
SELECT is((SELECT bool_and(lease_until = now() + interval '10 minutes') FROM daz.jobs WHERE queue = 'tq_claim' AND state = 'running'),
          true, 'to now() + the new lease');
SELECT is(daz.extend_lease(ARRAY(SELECT id FROM daz.jobs WHERE kind = 'ready-one'), '1 minute'), 0,
          'extend_lease ignores jobs that are not running');
SELECT throws_ok($$SELECT daz.extend_lease(ARRAY[1]::bigint[], '0')$$, '22023',
                 'daz.extend_lease: lease must be > 0 and <= 1 day, got 00:00:00', 'extend_lease refuses a zero lease');

-- rooms
INSERT INTO daz.queues (name, comment) VALUES ('tq_rooms', 'test queue');
CREATE TEMP TABLE seeded2 AS SELECT daz.enqueue_many(jsonb_build_array(
    jsonb_build_object('queue', 'tq_rooms', 'kind', 'a1', 'room', 'a'),
    jsonb_build_object('queue', 'tq_rooms', 'kind', 'b1', 'room', 'b', 'priority', 1),
    jsonb_build_object('queue', 'tq_rooms', 'kind', 'c1', 'room', 'c', 'priority', 3),
    jsonb_build_object('queue', 'tq_rooms', 'kind', 'a2', 'room', 'a'),
    jsonb_build_object('queue', 'tq_rooms', 'kind', 'none')));
SELECT is((SELECT array_agg(kind::text) FROM daz.claim('tq_rooms', 'w', 10, ARRAY['a', 'b'])), ARRAY['b1', 'a1', 'a2'],
          'with p_rooms only those rooms'' jobs are handed out, in claim order');
SELECT is((SELECT array_agg(kind::text ORDER BY kind) FROM daz.jobs WHERE queue = 'tq_rooms' AND state = 'ready'), ARRAY['c1', 'none'],
          'other rooms and room-less jobs stay ready');
CREATE TEMP TABLE seeded_d AS SELECT daz.enqueue_many(jsonb_build_array(
    jsonb_build_object('queue', 'tq_rooms', 'kind', 'd1', 'room', 'd', 'run_at', now() - interval '2 seconds'),
    jsonb_build_object('queue', 'tq_rooms', 'kind', 'd2', 'room', 'd', 'run_at', now() - interval '1 second')));
SELECT is((SELECT array_agg(kind::text) FROM daz.claim('tq_rooms', 'w', 2, ARRAY['d', NULL, 'd'])), ARRAY['d1', 'd2'],
          'a room named twice in the list, and a NULL, still give p_limit different jobs');

-- pause
SELECT is(daz.pause('tq_rooms'), true, 'pause reports that it paused the queue');
SELECT is(daz.pause('tq_rooms'), false, 'pausing again reports no change');
SELECT is_empty($$SELECT * FROM daz.claim('tq_rooms', 'w', 10)$$, 'a paused queue hands out nothing');
SELECT is_empty($$SELECT * FROM daz.claim('tq_rooms', 'w', 10, ARRAY['d'])$$, 'also to a claim with a room list');
SELECT is(daz.resume('tq_rooms'), true, 'resume reports that the queue was paused');
SELECT is((SELECT count(*)::int FROM daz.claim('tq_rooms', 'w', 10)), 2, 'a resumed queue hands out its jobs again');
SELECT throws_ok($$SELECT daz.pause('nope')$$, '22023', 'daz.pause: unknown queue "nope"', 'pause names an unknown queue');

-- pause a room
CREATE TEMP TABLE seeded3 AS SELECT daz.enqueue_many(jsonb_build_array(
    jsonb_build_object('queue', 'tq_rooms', 'kind', 'held', 'room', 'a'),
    jsonb_build_object('queue', 'tq_rooms', 'kind', 'free', 'room', 'b', 'priority', 1)));
SELECT is(daz.pause_room('a', 'tq_rooms', 'testing'), true, 'pause_room holds a room');
SELECT is(daz.pause_room('a', 'tq_rooms'), false, 'pausing it again reports no change');
SELECT is((SELECT paused_rooms FROM daz.queue_overview WHERE queue = 'tq_rooms'), ARRAY['a'], 'queue_overview lists paused rooms');
SELECT is((SELECT array_agg(kind::text) FROM daz.claim('tq_rooms', 'w', 10, ARRAY['a', 'b'])), ARRAY['free'],
          'a claim for rooms a and b skips the paused room a');
SELECT is_empty($$SELECT * FROM daz.claim('tq_rooms', 'w', 10)$$, 'a claim without a room list skips it too');
SELECT is_empty($$SELECT * FROM daz.claim('tq_rooms', 'w')$$, 'and a claim of a single job');
SELECT is(daz.resume_room('a', 'tq_rooms'), true, 'resume_room releases it');
SELECT is((SELECT array_agg(kind::text) FROM daz.claim('tq_rooms', 'w', 10)), ARRAY['held'], 'and its job is handed out again');
SELECT throws_ok($$SELECT daz.pause_room('a', 'nope')$$, '22023', 'daz.pause_room: unknown queue "nope"',
                 'pause_room names an unknown queue');

-- The claim indexes are keyed by hashtext() of the queue and room names: names with the same hash
-- share an index range, and each claim must still get only its own queue's and room's jobs. Two such
-- names are found here (300,000 candidates give about ten pairs), not written in: the hash is not
-- the same on every platform.
CREATE TEMP TABLE twin_queues AS
SELECT min(n) AS a, max(n) AS b FROM (SELECT 'tqh' || g AS n FROM generate_series(1, 300000) g) x
 GROUP BY hashtext(n) HAVING count(*) > 1 LIMIT 1;
CREATE TEMP TABLE twin_rooms AS
SELECT min(n) AS a, max(n) AS b FROM (SELECT 'room' || g AS n FROM generate_series(1, 300000) g) x
 GROUP BY hashtext(n) HAVING count(*) > 1 LIMIT 1;
SELECT ok((SELECT a <> b AND hashtext(a) = hashtext(b) FROM twin_queues)
          AND (SELECT a <> b AND hashtext(a) = hashtext(b) FROM twin_rooms),
          'two queue names and two room names with the same hashtext');
INSERT INTO daz.queues (name, comment) SELECT a, 'test queue' FROM twin_queues UNION ALL SELECT b, 'test queue' FROM twin_queues;
-- The older job is in queue a (first in the shared range), the newer in queue b.
CREATE TEMP TABLE twin_jobs AS
SELECT daz.enqueue((SELECT a FROM twin_queues), 'for_a', p_run_at => now() - interval '1 minute') AS id
UNION ALL SELECT daz.enqueue((SELECT b FROM twin_queues), 'for_b');
SELECT is((SELECT array_agg(kind::text) FROM daz.claim((SELECT b FROM twin_queues), 'w', 10)), ARRAY['for_b'],
          'a claim on queue b gets only b''s job, not the older one of queue a with the same hash');
SELECT is((SELECT array_agg(kind::text) FROM daz.queue_claim((SELECT a FROM twin_queues), 'w', 10, NULL)),
          ARRAY['for_a'], 'and the claim used by daz.run_jobs on queue a only a''s');
-- Rooms: the older job in room a, the newer in room b, one queue.
INSERT INTO twin_jobs
SELECT daz.enqueue((SELECT b FROM twin_queues), 'room_a', '{}', (SELECT a FROM twin_rooms), p_run_at => now() - interval '1 minute')
UNION ALL SELECT daz.enqueue((SELECT b FROM twin_queues), 'room_b', '{}', (SELECT b FROM twin_rooms));
SELECT is((SELECT array_agg(kind::text) FROM daz.claim((SELECT b FROM twin_queues), 'w', 10, ARRAY[(SELECT b FROM twin_rooms)])),
          ARRAY['room_b'], 'a claim for room b gets only room b''s job, not the older one of room a with the same hash');
SELECT is((SELECT array_agg(kind::text) FROM daz.claim((SELECT a FROM twin_queues), 'w', 10, ARRAY[(SELECT a FROM twin_rooms)])),
          NULL, 'a claim for room a on queue a finds nothing: room a''s job is on queue b');
SELECT is((SELECT array_agg(kind::text) FROM daz.claim((SELECT b FROM twin_queues), 'w', 10, ARRAY[(SELECT a FROM twin_rooms)])),
          ARRAY['room_a'], 'and on queue b it gets room a''s job');
SELECT is((SELECT count(*)::int FROM daz.jobs WHERE queue IN (SELECT a FROM twin_queues UNION ALL SELECT b FROM twin_queues)
             AND state = 'running'), 4, 'each of the four jobs was handed out once');
-- The single-job claim has a statement of its own.
INSERT INTO twin_jobs
SELECT daz.enqueue((SELECT a FROM twin_queues), 'single_a', p_run_at => now() - interval '1 minute')
UNION ALL SELECT daz.enqueue((SELECT b FROM twin_queues), 'single_b');
SELECT is((SELECT array_agg(kind::text) FROM daz.claim((SELECT b FROM twin_queues), 'w')), ARRAY['single_b'],
          'a single-job claim on queue b gets b''s job, not the older one of queue a with the same hash');
SELECT is((SELECT array_agg(kind::text) FROM daz.claim((SELECT b FROM twin_queues), 'w')), NULL, 'and then nothing');

-- daz.queues.rooms_paused follows daz.paused_rooms, however that table is changed.
CREATE FUNCTION pg_temp.rooms_in_sync() RETURNS boolean LANGUAGE sql AS $$
    SELECT NOT EXISTS (
        SELECT FROM daz.queues q
         WHERE ARRAY(SELECT r FROM unnest(q.rooms_paused) r ORDER BY r)
               IS DISTINCT FROM ARRAY(SELECT pr.room FROM daz.paused_rooms pr WHERE pr.queue = q.name ORDER BY pr.room))
$$;
SELECT ok(daz.pause_room('x', 'tq_rooms') AND daz.pause_room('y', 'tq_rooms') AND daz.pause_room('x', 'tq_claim'),
          'three rooms paused');
SELECT is((SELECT rooms_paused FROM daz.queues WHERE name = 'tq_rooms'), ARRAY['x', 'y'], 'rooms_paused: pause_room adds');
SELECT ok(daz.resume_room('x', 'tq_rooms'), 'one resumed');
SELECT is((SELECT rooms_paused FROM daz.queues WHERE name = 'tq_rooms'), ARRAY['y'], 'rooms_paused: resume_room removes');
INSERT INTO daz.paused_rooms (queue, room) VALUES ('tq_rooms', 'z');
UPDATE daz.paused_rooms SET room = 'w' WHERE queue = 'tq_rooms' AND room = 'y';
UPDATE daz.paused_rooms SET reason = 'note' WHERE queue = 'tq_rooms';
SELECT ok(pg_temp.rooms_in_sync() AND (SELECT rooms_paused FROM daz.queues WHERE name = 'tq_rooms') @> ARRAY['w', 'z']
          AND (SELECT cardinality(rooms_paused) FROM daz.queues WHERE name = 'tq_rooms') = 2,
          'rooms_paused: rows inserted and updated by hand are followed');
UPDATE daz.paused_rooms SET queue = 'tq_claim' WHERE queue = 'tq_rooms' AND room = 'z';
SELECT ok(pg_temp.rooms_in_sync(), 'rooms_paused: a room moved to another queue leaves one and joins the other');
UPDATE daz.queues SET name = 'tq_renamed' WHERE name = 'tq_claim';
SELECT is((SELECT rooms_paused FROM daz.queues WHERE name = 'tq_renamed'), ARRAY['x', 'z'],
          'rooms_paused: a renamed queue keeps its rooms once (the foreign key cascades to daz.paused_rooms)');
SELECT ok(pg_temp.rooms_in_sync(), 'rooms_paused: still equal to daz.paused_rooms after the rename');
DELETE FROM daz.paused_rooms WHERE room = 'x';
SELECT ok(pg_temp.rooms_in_sync(), 'rooms_paused: rows deleted by hand are followed');
TRUNCATE daz.paused_rooms;
SELECT is((SELECT count(*)::int FROM daz.queues WHERE rooms_paused <> '{}'), 0, 'rooms_paused: emptied by TRUNCATE');

-- Several jobs acknowledged without results in one call.
INSERT INTO daz.queues (name, comment) VALUES ('tq_pair', 'test queue');
CREATE TEMP TABLE pair AS SELECT daz.enqueue('tq_pair', 'pair') AS id UNION ALL SELECT daz.enqueue('tq_pair', 'pair');
SELECT is((SELECT daz.complete(array_agg(c.id)) FROM daz.claim('tq_pair', 'w', 10) c), 2,
          'complete acknowledges two jobs without results');
SELECT is((SELECT count(*)::int FROM daz.job_results WHERE id IN (SELECT id FROM pair) AND result IS NULL), 2,
          'and keeps both, without a result');
CREATE TEMP TABLE odd AS SELECT daz.enqueue('tq_pair', 'odd') AS id;
SELECT is((SELECT daz.complete(array_fill(c.id, ARRAY[1], ARRAY[5])) FROM daz.claim('tq_pair', 'w') c), 1,
          'complete takes one id in an array that does not start at 1');

-- bad arguments
SELECT throws_ok($$SELECT * FROM daz.claim('nope', 'w')$$, '22023', 'daz.claim: unknown queue "nope"', 'claim: unknown queue');
SELECT throws_ok($$SELECT * FROM daz.claim('nope', 'w', 1, ARRAY['a'])$$, '22023', 'daz.claim: unknown queue "nope"',
                 'claim: unknown queue, with a room list');
SELECT throws_ok($$SELECT * FROM daz.claim('tq_claim', 'w', 0)$$, '22023', 'daz.claim: limit must be 1..10000, got 0',
                 'claim: limit 0');

SELECT * FROM finish();
ROLLBACK;

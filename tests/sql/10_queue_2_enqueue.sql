-- 10_queue_2_enqueue.sql — daz.enqueue, daz.enqueue_many, daz.say, daz.pm, daz.emit: rows and refusals.
BEGIN;
SELECT plan(41);

INSERT INTO daz.queues (name, max_attempts, comment) VALUES ('tq_enq', 7, 'test queue');

-- true when daz.emit accepts the event, false when it raises
CREATE FUNCTION pg_temp.emits(p_event text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    PERFORM daz.emit('lobby', p_event);
    RETURN true;
EXCEPTION WHEN OTHERS THEN
    RETURN false;
END
$$;

-- enqueue: defaults and the row it writes
SELECT isnt(daz.enqueue('tq_enq', 'ping'), NULL, 'enqueue returns an id');
SELECT results_eq(
    $$SELECT queue, kind::text, room::text, payload, priority::int, state::text, attempts, max_attempts::int, run_at = now(), errors
        FROM daz.jobs WHERE queue = 'tq_enq'$$,
    $$VALUES ('tq_enq', 'ping', NULL::text, '{}'::jsonb, 0, 'ready', 0, 7, true, '[]'::jsonb)$$,
    'a default job is ready now, priority 0, no attempts, max_attempts from its queue');
SELECT lives_ok($$SELECT daz.enqueue('tq_enq', 'k', '{"a":1}', 'room1', 3, now() + interval '1 hour', NULL, 'corr-1')$$,
                'enqueue takes every argument positionally with an integer priority');
SELECT lives_ok($$SELECT daz.enqueue('tq_enq', 'k', p_priority => 2::smallint)$$, 'enqueue takes a smallint priority');
SELECT is((SELECT correlation_id FROM daz.jobs WHERE queue = 'tq_enq' AND priority = 3), 'corr-1',
          'correlation id is stored');

-- dedup
SELECT is(daz.enqueue('tq_enq', 'd', p_dedup_key => 'once'), daz.enqueue('tq_enq', 'd', p_dedup_key => 'once'),
          'a second enqueue with the same dedup key returns the first id');
SELECT is((SELECT count(*)::int FROM daz.jobs WHERE queue = 'tq_enq' AND dedup_key = 'once'), 1,
          'and inserts nothing');
UPDATE daz.jobs SET state = 'running', lease_until = now() + interval '1 minute', locked_by = 't'
 WHERE queue = 'tq_enq' AND dedup_key = 'once';
SELECT is(daz.enqueue('tq_enq', 'd', p_dedup_key => 'once'),
          (SELECT id FROM daz.jobs WHERE queue = 'tq_enq' AND dedup_key = 'once'),
          'the dedup key holds while the first job is running');
SELECT is(daz.complete(ARRAY(SELECT id FROM daz.jobs WHERE queue = 'tq_enq' AND dedup_key = 'once')), 1,
          'the first job completes');
SELECT isnt(daz.enqueue('tq_enq', 'd', p_dedup_key => 'once'),
            (SELECT id FROM daz.job_results WHERE queue = 'tq_enq' AND kind = 'd'),
            'after completion the same dedup key enqueues a new job');
SELECT isnt(daz.enqueue('bot', 'd', p_dedup_key => 'once'),
            (SELECT id FROM daz.jobs WHERE queue = 'tq_enq' AND dedup_key = 'once'),
            'dedup keys are per queue');

-- handler override
CREATE TEMP TABLE made (what text, id bigint);
INSERT INTO made SELECT 'handler', daz.enqueue('tq_enq', 'h', p_handler => 'daz.unrouted_job(daz.jobs)');
SELECT is((SELECT j.handler FROM daz.jobs j JOIN made m ON m.id = j.id AND m.what = 'handler'),
          'daz.unrouted_job(daz.jobs)'::regprocedure, 'a job can carry its own handler');
SELECT throws_ok($$SELECT daz.enqueue('tq_enq', 'h', p_handler => 'daz.enqueue_many(jsonb)')$$, '22023',
    'daz.enqueue: handler daz.enqueue_many(jsonb) must be a function (job daz.jobs) RETURNS jsonb',
    'a handler of the wrong shape is refused');

-- bad arguments
SELECT throws_ok($$SELECT daz.enqueue('nope', 'k')$$, '22023', 'daz.enqueue: unknown queue "nope"',
                 'unknown queue');
SELECT throws_ok($$SELECT daz.enqueue('tq_enq', 'k', p_priority => 4)$$, '22023',
    'daz.enqueue: priority must be 0..3 (0 normal, 1 high, 2 urgent, 3 critical), got 4', 'priority above 3');
SELECT throws_ok($$SELECT daz.enqueue('tq_enq', 'k', p_priority => -1)$$, '22023', NULL, 'negative priority');
SELECT throws_ok($$SELECT daz.enqueue('tq_enq', '')$$, '22023',
    'daz.enqueue: kind must be 1..128 characters without control characters', 'empty kind');
SELECT throws_ok($$SELECT daz.enqueue('tq_enq', 'k', NULL)$$, '22023',
    'daz.enqueue: payload must not be NULL (use ''{}'')', 'NULL payload');
SELECT throws_ok($$SELECT daz.enqueue('tq_enq', 'k', jsonb_build_object('x', repeat(md5(random()::text), 40000)))$$,
    '54000', NULL, 'a payload over 1 MiB is refused');
SELECT throws_like($$SELECT daz.enqueue('tq_enq', 'k', jsonb_build_object('x', repeat(md5(random()::text), 40000)))$$,
    'daz.enqueue: payload is % bytes, the limit is 1 MiB', 'the payload error names the size and the limit');
SELECT throws_ok($$SELECT daz.enqueue('tq_enq', 'k', '{}', E'bad\nroom')$$, '22023',
    'daz.enqueue: room must be 1..64 characters without control characters', 'room with a control character');
SELECT throws_ok($$SELECT daz.enqueue('tq_enq', 'k', p_run_at => NULL)$$, '22023',
    'daz.enqueue: run_at must not be NULL', 'NULL run_at');

-- enqueue_many
SELECT is(cardinality(daz.enqueue_many('[{"queue":"tq_enq","kind":"m1"},{"queue":"tq_enq","kind":"m2","priority":2},
                                         {"queue":"tq_enq","kind":"m3","room":"r","payload":{"n":3}}]')), 3,
          'enqueue_many returns one id per job');
SELECT is((SELECT array_agg(kind::text ORDER BY id) FROM daz.jobs WHERE queue = 'tq_enq' AND kind LIKE 'm_'),
          ARRAY['m1', 'm2', 'm3'], 'enqueue_many keeps input order in ids');
SELECT is(daz.enqueue_many('[]'), '{}'::bigint[], 'an empty array enqueues nothing');
SELECT is((SELECT count(DISTINCT x) FROM unnest(daz.enqueue_many(
              '[{"queue":"tq_enq","kind":"dm","dedup_key":"k1"},{"queue":"tq_enq","kind":"dm","dedup_key":"k1"},
                {"queue":"tq_enq","kind":"dm","dedup_key":"k2"}]')) x)::int, 2,
          'enqueue_many honours dedup keys, also within one call');
SELECT throws_ok($$SELECT daz.enqueue_many('{"queue":"tq_enq"}')$$, '22023',
    'daz.enqueue_many: argument must be a JSON array of job objects', 'enqueue_many wants an array');
SELECT throws_ok($$SELECT daz.enqueue_many('[{"queue":"tq_enq","kind":"a"},{"queue":"zz","kind":"b"}]')$$, '22023',
    'daz.enqueue_many: element 2: unknown queue "zz"', 'enqueue_many names the bad element');
SELECT throws_ok($$SELECT daz.enqueue_many('[{"queue":"tq_enq","kind":"a","prio":1}]')$$, '22023',
    'daz.enqueue_many: element 1 has unknown key "prio"', 'enqueue_many refuses unknown keys');
SELECT throws_ok($$SELECT daz.enqueue_many('[{"queue":"tq_enq","kind":"a","priority":9}]')$$, '22023',
    'daz.enqueue_many: element 1: priority must be 0..3, got 9', 'enqueue_many checks priority');
SELECT throws_ok($$SELECT daz.enqueue_many('[1]')$$, '22023',
    'daz.enqueue_many: element 1 is a number, not an object', 'enqueue_many wants objects');

-- say / pm / emit
INSERT INTO made VALUES ('say', daz.say('lobby', 'hello')), ('pm', daz.pm('lobby', 'alice', 'psst', 2)),
    ('emit1', daz.emit('lobby', 'voteskip')), ('emit2', daz.emit('lobby', 'queue', '{"id":"abc","type":"yt","pos":"end"}'));
SELECT results_eq($$SELECT queue, kind::text, room::text, payload, priority::int FROM daz.jobs j JOIN made m ON m.id = j.id AND m.what = 'say'$$,
    $$VALUES ('cytube', 'chat', 'lobby', '{"text": "hello"}'::jsonb, 1)$$, 'say enqueues a chat job on cytube at priority 1');
SELECT results_eq($$SELECT kind::text, payload FROM daz.jobs j JOIN made m ON m.id = j.id AND m.what = 'pm'$$,
    $$VALUES ('pm', '{"to": "alice", "text": "psst"}'::jsonb)$$, 'pm enqueues a pm job');
SELECT results_eq($$SELECT kind::text, payload FROM daz.jobs j JOIN made m ON m.id = j.id AND m.what = 'emit1'$$,
    $$VALUES ('emit', '{"event": "voteskip"}'::jsonb)$$, 'emit without payload sends the bare event');
SELECT results_eq($$SELECT payload FROM daz.jobs j JOIN made m ON m.id = j.id AND m.what = 'emit2'$$,
    $$VALUES ('{"event": "queue", "data": {"id": "abc", "pos": "end", "type": "yt"}}'::jsonb)$$,
    'emit carries its payload as data');
SELECT throws_ok($$SELECT daz.say('lobby', '   ')$$, '22023', 'daz.say: text must not be empty', 'say refuses blank text');
SELECT throws_ok($$SELECT daz.say('lobby', repeat('x', 10001))$$, '22023',
    'daz.say: text is 10001 characters, the limit is 10000 (dazd splits long text into lines)', 'say refuses huge text');
SELECT throws_ok($$SELECT daz.say('', 'hi')$$, '22023',
    'daz.say: room must be 1..64 characters without control characters', 'say refuses an empty room');
SELECT throws_ok($$SELECT daz.pm('lobby', 'bad name', 'hi')$$, '22023',
    'daz.pm: "bad name" is not a CyTube user name (1..20 of letters, digits, _ and -)', 'pm refuses a bad user name');
SELECT throws_ok($$SELECT daz.emit('lobby', 'setMotd', '{"motd":"x"}')$$, '42501',
    'daz.emit: refusing "setMotd": CyTube kicks a client that sends it without the rank', 'emit refuses setMotd');
SELECT is((SELECT count(*)::int FROM unnest(ARRAY['setOptions', 'setPermissions', 'setMotd', 'setChannelCSS',
              'setChannelJS', 'assignLeader', 'readChanLog', 'initACP', 'joinChannel', 'login', 'chatMsg', 'pm',
              'bad event', '42["x"]', '']) AS e
           WHERE NOT pg_temp.emits(e)), 15,
          'emit refuses every kick-on-sight event, session events, chat and malformed names');

SELECT * FROM finish();
ROLLBACK;

-- 30_subs_1_routing.sql — subscriptions: tag, exclude, type and room matching, one job per (event, subscription), run-time changes, helpers' errors, 1,000 events x 20 subscriptions.
BEGIN;
SELECT plan(35);

CREATE FUNCTION pg_temp.ev(p_n int, p_type text, p_tags text[], p_actor text, p_payload jsonb,
                           p_room text DEFAULT 'botchan', p_server_time timestamptz DEFAULT NULL)
RETURNS daz.event_in LANGUAGE sql AS $$
    SELECT ROW(('01940000-0000-7000-8000-' || lpad(p_n::text, 12, '0'))::uuid,
               date_trunc('minute', now()) - interval '20 minutes' + p_n * interval '10 milliseconds',
               p_room, p_type, ARRAY['room:' || p_room] || p_tags, p_actor, p_server_time, p_payload)::daz.event_in
$$;
CREATE FUNCTION pg_temp.id(p_n int) RETURNS text LANGUAGE sql AS
$$ SELECT '01940000-0000-7000-8000-' || lpad(p_n::text, 12, '0') $$;
CREATE FUNCTION pg_temp.jobs(p_kind text) RETURNS text[] LANGUAGE sql AS
$$ SELECT COALESCE(array_agg(c ORDER BY c), '{}')
     FROM (SELECT correlation_id FROM daz.jobs WHERE kind = p_kind
           UNION ALL SELECT correlation_id FROM daz.job_results WHERE kind = p_kind) AS j(c) $$;

-- Handlers for the test; the announce handler is the example of docs/subscriptions.md.
CREATE FUNCTION daz.test_noop(p_job daz.jobs) RETURNS jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$;
CREATE FUNCTION daz.test_announce(p_job daz.jobs) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    RETURN jsonb_build_object('say', daz.say(p_job.room, 'Now playing: ' || daz.html_to_text(p_job.payload->'payload'->>'title')));
END $$;

SELECT results_eq($$SELECT name, tags, exclude_tags, types, queue, handler::text, priority::int, enabled FROM daz.subscriptions WHERE name = 'commands'$$,
                  $$VALUES ('commands', '{command}'::text[], '{history,bot}'::text[], '{chatMsg,pm}'::text[], 'bot',
                            'daz.cmd_dispatch(daz.jobs)', 1, true)$$, 'seeded subscription commands');
SELECT is((SELECT prorettype::regtype::text FROM pg_proc WHERE oid = 'daz.cmd_dispatch(daz.jobs)'::regprocedure), 'jsonb',
          'the commands subscription names a job handler returning jsonb');

SELECT is((daz.subscribe('greet', '{presence}', 'daz.test_noop(daz.jobs)', p_types => '{addUser}')).exclude_tags, '{history,bot}'::text[],
          'subscribe: default exclude_tags are history and bot');
SELECT lives_ok($$SELECT daz.subscribe('announce', '{media,change}', 'daz.test_announce(daz.jobs)', p_types => '{changeMedia}', p_priority => 2)$$,
                'subscribe: announce changeMedia');
SELECT lives_ok($$SELECT daz.subscribe('lobby-chat', '{chat,user-message}', 'daz.test_noop(daz.jobs)', p_rooms => '{lobby}')$$,
                'subscribe: chat in one room');
SELECT lives_ok($$SELECT daz.subscribe('all-chat', '{chat}', 'daz.test_noop(daz.jobs)', p_exclude_tags => '{}')$$,
                'subscribe: chat including history and the bot');
SELECT lives_ok($$SELECT daz.subscribe('no-actions', '{chat,user-message}', 'daz.test_noop(daz.jobs)', p_exclude_tags => '{action,history,bot}')$$,
                'subscribe: chat but not /me');
SELECT lives_ok($$SELECT daz.subscribe('off', '{chat}', 'daz.test_noop(daz.jobs)', p_enabled => false)$$, 'subscribe: a disabled one');

SELECT is(daz.ingest(ARRAY[
    pg_temp.ev(1, 'addUser', '{user,presence}', 'Talker',
               '{"name":"Talker","rank":0,"profile":{"image":"","text":""},"meta":{"afk":false,"muted":false}}'),
    pg_temp.ev(2, 'chatMsg', '{chat,user-message}', 'Talker', '{"username":"Talker","msg":"hello","meta":{},"time":1795750187523}'),
    pg_temp.ev(3, 'chatMsg', '{chat,user-message,action}', 'Talker',
               '{"username":"Talker","msg":"waves","meta":{"addClass":"action","action":true},"time":1795750188739}'),
    pg_temp.ev(4, 'chatMsg', '{chat,user-message,history}', 'Old', '{"username":"Old","msg":"old line","meta":{},"time":1795750100000}'),
    pg_temp.ev(5, 'chatMsg', '{chat,user-message,bot}', 'TestBot', '{"username":"TestBot","msg":"I am the bot","meta":{},"time":1795750190000}'),
    pg_temp.ev(6, 'chatMsg', '{chat,user-message}', 'LobbyUser', '{"username":"LobbyUser","msg":"hi lobby","meta":{},"time":1795750191000}', 'lobby'),
    pg_temp.ev(7, 'changeMedia', '{media,change}', NULL,
               '{"id":"fixture3","title":"Twitch.tv - fixture3","seconds":8,"duration":"00:08","type":"tw","meta":{},"currentTime":-3,"paused":true}'),
    pg_temp.ev(8, 'setCurrent', '{media,change}', NULL, '2'),
    pg_temp.ev(9, 'userLeave', '{user,presence}', 'Talker', '{"name":"Talker"}')]), 9, 'batch stored');

SELECT is(pg_temp.jobs('greet'), ARRAY[pg_temp.id(1)], 'tags + type: only addUser (not userLeave) routed');
SELECT is(pg_temp.jobs('announce'), ARRAY[pg_temp.id(7)], 'type filter: changeMedia, not setCurrent with the same tags');
SELECT is(pg_temp.jobs('lobby-chat'), ARRAY[pg_temp.id(6)], 'room filter');
SELECT is(pg_temp.jobs('all-chat'), ARRAY[pg_temp.id(2), pg_temp.id(3), pg_temp.id(4), pg_temp.id(5), pg_temp.id(6)],
          'empty exclude_tags: history and the bot''s lines routed too');
SELECT is(pg_temp.jobs('no-actions'), ARRAY[pg_temp.id(2), pg_temp.id(6)], 'exclude tags: /me, history and bot lines not routed');
SELECT is(pg_temp.jobs('off'), '{}'::text[], 'a disabled subscription routes nothing');
SELECT is((SELECT count(*)::int FROM daz.jobs WHERE correlation_id = pg_temp.id(2)), 2,
          'one job per (event, matching subscription)');
SELECT results_eq($$SELECT queue, kind::text, room::text, priority::int, handler::text, state::text FROM daz.jobs WHERE kind = 'announce'$$,
                  $$VALUES ('bot', 'announce', 'botchan', 2, 'daz.test_announce(daz.jobs)', 'ready')$$,
                  'job: queue, kind = subscription name, room, priority and handler of the subscription');
SELECT is((SELECT payload - 'received_at' FROM daz.jobs WHERE kind = 'announce'),
          jsonb_build_object('id', pg_temp.id(7), 'room', 'botchan', 'type', 'changeMedia', 'tags', '["room:botchan","media","change"]'::jsonb,
                             'actor', NULL, 'server_time', NULL, 'payload',
                             '{"id":"fixture3","title":"Twitch.tv - fixture3","seconds":8,"duration":"00:08","type":"tw","meta":{},"currentTime":-3,"paused":true}'::jsonb),
          'job payload is the event');
SELECT is((SELECT (payload->>'received_at')::timestamptz FROM daz.jobs WHERE kind = 'announce'),
          (SELECT received_at FROM daz.events WHERE id = pg_temp.id(7)::uuid), 'payload received_at is the event''s');
SELECT is(daz.ingest(ARRAY[pg_temp.ev(7, 'changeMedia', '{media,change}', NULL, '{"id":"fixture3"}')]), 0, 'a resent event is not stored');
SELECT is(pg_temp.jobs('announce'), ARRAY[pg_temp.id(7)], '... and not routed again');

-- The handler runs: the announce example puts a chat job on queue cytube.
SELECT ok(daz.run_jobs('test', 100) >= 1, 'run_jobs runs routed jobs');
SELECT results_eq($$SELECT kind::text, room::text, payload->>'text' FROM daz.jobs WHERE queue = 'cytube'$$,
                  $$VALUES ('chat', 'botchan', 'Now playing: Twitch.tv - fixture3')$$, 'the announce handler said the title');

-- Changes apply from the next batch.
UPDATE daz.subscriptions SET enabled = false WHERE name = 'greet';
UPDATE daz.subscriptions SET enabled = true, types = '{chatMsg}' WHERE name = 'off';
SELECT is(daz.ingest(ARRAY[
    pg_temp.ev(11, 'addUser', '{user,presence}', 'Bob', '{"name":"Bob","rank":0,"meta":{"afk":false,"muted":false}}'),
    pg_temp.ev(12, 'chatMsg', '{chat,user-message}', 'Bob', '{"username":"Bob","msg":"hi","meta":{},"time":1795750200000}')]), 2,
   'next batch stored');
SELECT ok(pg_temp.jobs('greet') = ARRAY[pg_temp.id(1)] AND pg_temp.jobs('off') = ARRAY[pg_temp.id(12)],
          'disabling and enabling apply to the next batch');
SELECT results_eq($$SELECT (daz.unsubscribe('off')).name$$, $$VALUES ('off')$$, 'unsubscribe returns the removed row');

-- Clear errors.
SELECT throws_ok($$SELECT daz.unsubscribe('off')$$, 'P0002', 'daz.unsubscribe: no subscription "off"', 'unsubscribe: unknown name');
SELECT throws_ok($$SELECT daz.subscribe('x', '{chat}', 'daz.test_noop(daz.jobs)', p_queue => 'nope')$$, '22023',
                 'daz.subscribe: unknown queue "nope"', 'subscribe: unknown queue');
SELECT throws_ok($$SELECT daz.subscribe('x', '{chat}', 'daz.setting(text,text)')$$, '22023',
                 'daz.subscribe: handler daz.setting(text,text) must be a function (job daz.jobs) RETURNS jsonb',
                 'subscribe: handler with the wrong signature');
SELECT throws_ok($$SELECT daz.subscribe('x', '{chat}', 'daz.no_such_handler(daz.jobs)')$$, '42883', NULL, 'subscribe: unknown handler');
SELECT throws_ok($$SELECT daz.subscribe('x', '{}', 'daz.test_noop(daz.jobs)')$$, '22023', NULL, 'subscribe: neither tags nor types');
SELECT throws_ok($$SELECT daz.subscribe('x', '{chat}', NULL, p_queue => 'cytube')$$, '22023',
                 'daz.subscribe: no handler given and queue "cytube" has none', 'subscribe: no handler anywhere');
SELECT throws_ok($$INSERT INTO daz.subscriptions (name, tags, handler) VALUES ('y', '{chat}', 'daz.setting(text,text)')$$, '22023', NULL,
                 'a plain INSERT with a bad handler is refused too');

-- 1,000 events, 20 subscriptions: 19 that match nothing here, one that matches the 5 % changeMedia.
DELETE FROM daz.subscriptions WHERE name <> 'commands';
DELETE FROM daz.jobs;
SELECT daz.subscribe('bench-' || i, CASE i % 4 WHEN 0 THEN ARRAY['poll'] WHEN 1 THEN ARRAY['chat', 'user-message']
                                             WHEN 2 THEN ARRAY['presence'] ELSE ARRAY['tag-' || i] END,
                     'daz.test_noop(daz.jobs)',
                     p_rooms => CASE WHEN i % 4 IN (1, 2) THEN ARRAY['room-' || i] END)
  FROM generate_series(1, 19) AS i;
SELECT daz.subscribe('bench-media', '{media,change}', 'daz.test_noop(daz.jobs)', p_types => '{changeMedia}');
SELECT is(daz.ingest(ARRAY(
    SELECT CASE WHEN n % 20 = 0 THEN pg_temp.ev(1000 + n, 'changeMedia', '{media,change}', NULL, jsonb_build_object('id', 'v' || n, 'title', 'T' || n))
                WHEN n % 20 = 1 THEN pg_temp.ev(1000 + n, 'addUser', '{user,presence}', 'u' || n, jsonb_build_object('name', 'u' || n, 'rank', 0))
                ELSE pg_temp.ev(1000 + n, 'chatMsg', '{chat,user-message}', 'u' || (n % 50),
                                jsonb_build_object('username', 'u' || (n % 50), 'msg', 'line ' || n, 'meta', '{}'::jsonb, 'time', 1795750300000 + n))
           END FROM generate_series(1, 1000) AS n)), 1000, '1,000 events stored with 20 subscriptions');
SELECT results_eq($$SELECT kind::text, count(*)::int, count(DISTINCT correlation_id)::int FROM daz.jobs GROUP BY kind$$,
                  $$VALUES ('bench-media', 50, 50)$$, 'exactly the 50 changeMedia events routed, once each, by the one matching subscription');

SELECT * FROM finish();
ROLLBACK;

-- 20_events_4_views_roles.sql — dashboard views (HTML decoding in daz.chat, activity, media, top chatters, ingest stats) and role boundaries.
BEGIN;
SELECT plan(27);

CREATE FUNCTION pg_temp.ev(p_n int, p_type text, p_tags text[], p_actor text, p_payload jsonb,
                           p_room text DEFAULT 'fixchan', p_server_time timestamptz DEFAULT NULL)
RETURNS daz.event_in LANGUAGE sql AS $$
    SELECT ROW(('01930000-0000-7000-8000-' || lpad(p_n::text, 12, '0'))::uuid,
               date_trunc('hour', now()) - interval '2 hours' + p_n * interval '1 second',
               p_room, p_type, ARRAY['room:' || p_room] || p_tags, p_actor, p_server_time, p_payload)::daz.event_in
$$;

-- Talker in fixchan, from 01-guest-join-unregistered.jsonl.
SELECT is(daz.ingest(ARRAY[
    pg_temp.ev(1, 'addUser', '{user,presence}', 'Talker',
               '{"name":"Talker","rank":0,"profile":{"image":"","text":""},"meta":{"afk":false,"muted":false}}'),
    pg_temp.ev(2, 'chatMsg', '{chat,user-message}', 'Talker',
               '{"username":"Talker","msg":"hello from Talker","meta":{},"time":1795750187523}', 'fixchan', to_timestamp(1795750187.523)),
    pg_temp.ev(3, 'chatMsg', '{chat,user-message}', 'Talker',
               '{"username":"Talker","msg":"&lt;b&gt;&amp;\"''","meta":{},"time":1795750187927}', 'fixchan', to_timestamp(1795750187.927)),
    pg_temp.ev(4, 'chatMsg', '{chat,user-message}', 'Talker',
               '{"username":"Talker","msg":"see <a href=\"https://example.com/x?a=1&amp;b=2\" target=\"_blank\" rel=\"noopener noreferrer\">https://example.com/x?a=1&amp;b=2</a>","meta":{},"time":1795750188332}',
               'fixchan', to_timestamp(1795750188.332)),
    pg_temp.ev(5, 'chatMsg', '{chat,user-message,action}', 'Talker',
               '{"username":"Talker","msg":"waves","meta":{"addClass":"action","action":true},"time":1795750188739}', 'fixchan', to_timestamp(1795750188.739)),
    pg_temp.ev(6, 'userLeave', '{user,presence}', 'Talker', '{"name":"Talker"}'),
    pg_temp.ev(7, 'chatMsg', '{chat,user-message,history}', 'Old',
               '{"username":"Old","msg":"a replayed line","meta":{},"time":1795750100000}', 'fixchan', to_timestamp(1795750100)),
    pg_temp.ev(8, 'changeMedia', '{media,change}', NULL,
               '{"id":"fixture1","title":"Twitch.tv - fixture1 &amp; more","seconds":8,"duration":"00:08","type":"tw","meta":{},"currentTime":-3,"paused":true}'),
    pg_temp.ev(9, 'mediaUpdate', '{media,update}', NULL, '{"currentTime":0,"paused":false}')]), 8, 'fixture batch stored');

SELECT results_eq($$SELECT username, text, rank, is_action FROM daz.chat WHERE room = 'fixchan' AND NOT is_history ORDER BY at$$,
                  $$VALUES ('Talker', 'hello from Talker', 0::numeric, false),
                           ('Talker', '<b>&"''', 0::numeric, false),
                           ('Talker', 'see https://example.com/x?a=1&b=2', 0::numeric, false),
                           ('Talker', 'waves', 0::numeric, true)$$,
                  'daz.chat: entities decoded, tags stripped (link text kept), rank, /me as is_action');
SELECT is(daz.html_to_text('&amp;lt;i&amp;gt; &#65;&#x263A; &unknown; a & b'), '&lt;i&gt; A☺ &unknown; a & b',
          'html_to_text decodes once, numeric entities too, keeps unknown ones and bare ampersands');
SELECT is(daz.html_to_text(''), '', 'empty text stays empty');
SELECT results_eq($$SELECT messages::int, chatters::int, joins::int, leaves::int FROM daz.activity_hourly WHERE room = 'fixchan'$$,
                  $$VALUES (4, 1, 1, 1)$$, 'activity_hourly: live messages, distinct chatters, joins and leaves (history not counted)');
SELECT results_eq($$SELECT title, media_type, link, queued_by FROM daz.media_history WHERE room = 'fixchan'$$,
                  $$VALUES ('Twitch.tv - fixture1 & more', 'tw', 'https://twitch.tv/fixture1', NULL::text)$$,
                  'media_history: decoded title and link');
SELECT results_eq($$SELECT name, messages::int, place::int FROM daz.top_chatters WHERE room = 'fixchan' ORDER BY place, name$$,
                  $$VALUES ('Talker', 4, 1), ('Old', 1, 2)$$, 'top_chatters ranks users by lines stored');
SELECT results_eq($$SELECT type, stored::int, dropped::int FROM daz.ingest_stats WHERE room = 'fixchan' ORDER BY type$$,
                  $$VALUES ('addUser', 1, 0), ('changeMedia', 1, 0), ('chatMsg', 5, 0), ('mediaUpdate', 0, 1), ('userLeave', 1, 0)$$,
                  'ingest_stats: stored and dropped per type');
SELECT is((SELECT count(*)::int FROM daz.users_online WHERE room = 'fixchan'), 0, 'users_online: Talker left');

-- daz_daemon: may ingest, may not read, update or delete events.
GRANT EXECUTE ON FUNCTION pg_temp.ev(int, text, text[], text, jsonb, text, timestamptz) TO daz_daemon;
SET ROLE daz_daemon;
SELECT is(daz.ingest(ARRAY[pg_temp.ev(20, 'chatMsg', '{chat,user-message}', 'Alice',
                                      '{"username":"Alice","msg":"from the daemon","meta":{},"time":1795750200015}')]), 1,
          'daemon: may call daz.ingest');
SELECT throws_ok($$UPDATE daz.events SET payload = '{}'$$, '42501', NULL, 'daemon: may not update events');
SELECT throws_ok($$DELETE FROM daz.events$$, '42501', NULL, 'daemon: may not delete events');
SELECT throws_ok($$INSERT INTO daz.events (id, received_at, room, type) VALUES (gen_random_uuid(), now(), 'x', 'y')$$, '42501', NULL,
                 'daemon: may not insert around daz.ingest');
SELECT throws_ok($$SELECT count(*) FROM daz.events$$, '42501', NULL, 'daemon: may not read events');
SELECT throws_ok($$UPDATE daz.log_rules SET action = 'drop'$$, '42501', NULL, 'daemon: may not change log rules');
SELECT throws_ok($$SELECT daz.subscribe('x', '{chat}', 'daz.cmd_dispatch(daz.jobs)')$$, '42501', NULL, 'daemon: may not subscribe');
RESET ROLE;

-- daz_reader: views only.
SET ROLE daz_reader;
SELECT is((SELECT count(*)::int FROM daz.chat WHERE room = 'fixchan'), 6, 'reader: reads daz.chat');
SELECT lives_ok($$SELECT * FROM daz.activity_hourly, daz.media_history, daz.top_chatters, daz.ingest_stats, daz.users_online, daz.playlist_now LIMIT 1$$,
                'reader: reads every dashboard view');
SELECT throws_ok($$SELECT count(*) FROM daz.events$$, '42501', NULL, 'reader: may not read daz.events');
SELECT throws_ok($$SELECT count(*) FROM daz.users$$, '42501', NULL, 'reader: may not read the derived tables');
SELECT throws_ok($$SELECT daz.ingest('{}')$$, '42501', NULL, 'reader: may not ingest');
SELECT throws_ok($$INSERT INTO daz.log_rules (tag, action, retention) VALUES ('x', 'store', '1 day')$$, '42501', NULL,
                 'reader: may not change log rules');
RESET ROLE;

-- daz_operator: manages log rules and subscriptions, reads everything, does not ingest.
SET ROLE daz_operator;
SELECT lives_ok($$INSERT INTO daz.log_rules (tag, action, retention, comment) VALUES ('room:fixchan', 'store', '30 days', 'smaller room')$$,
                'operator: adds a log rule');
SELECT lives_ok($$SELECT daz.subscribe('op-test', '{media,change}', 'daz.cmd_dispatch(daz.jobs)')$$, 'operator: subscribes');
SELECT lives_ok($$UPDATE daz.subscriptions SET enabled = false WHERE name = 'op-test'$$, 'operator: disables a subscription');
SELECT is((SELECT count(*)::int FROM daz.events WHERE room = 'fixchan'), 9, 'operator: reads events');
SELECT throws_ok($$DELETE FROM daz.events$$, '42501', NULL, 'operator: may not delete events');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;

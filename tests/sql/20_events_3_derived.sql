-- 20_events_3_derived.sql — derived state from realistic CyTube payloads: users, sessions, playlist, media plays.
BEGIN;
SELECT plan(45);

CREATE FUNCTION pg_temp.ev(p_n int, p_type text, p_tags text[], p_actor text, p_payload jsonb,
                           p_room text DEFAULT 'botchan', p_server_time timestamptz DEFAULT NULL)
RETURNS daz.event_in LANGUAGE sql AS $$
    SELECT ROW(('01920000-0000-7000-8000-' || lpad(p_n::text, 12, '0'))::uuid,
               date_trunc('minute', now()) - interval '30 minutes' + p_n * interval '1 second',
               p_room, p_type, ARRAY['room:' || p_room] || p_tags, p_actor, p_server_time, p_payload)::daz.event_in
$$;
CREATE FUNCTION pg_temp.at(p_n int) RETURNS timestamptz LANGUAGE sql AS
$$ SELECT date_trunc('minute', now()) - interval '30 minutes' + p_n * interval '1 second' $$;
CREATE FUNCTION pg_temp.item(p_uid int, p_id text, p_by text, p_temp boolean DEFAULT false) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('media', jsonb_build_object('id', p_id, 'title', 'Twitch.tv - ' || p_id, 'seconds', 8,
                                                          'duration', '00:08', 'type', 'tw', 'meta', '{}'::jsonb),
                              'uid', p_uid, 'temp', p_temp, 'queueby', p_by)
$$;
CREATE FUNCTION pg_temp.change(p_id text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('id', p_id, 'title', 'Twitch.tv - ' || p_id, 'seconds', 8, 'duration', '00:08', 'type', 'tw',
                              'meta', '{}'::jsonb, 'currentTime', -3, 'paused', true)
$$;

-- TestBot (moderator) joins and edits the playlist, as in 05-playlist.jsonl.
SELECT is(daz.ingest(ARRAY[
    pg_temp.ev(1, 'userlist', '{user,presence}', NULL,
               '[{"name":"Observer5","rank":0,"profile":{"image":"","text":""},"meta":{"afk":false,"muted":false}}]'),
    pg_temp.ev(2, 'addUser', '{user,presence}', 'TestBot',
               '{"name":"TestBot","rank":1,"profile":{"image":"","text":""},"meta":{"afk":false,"muted":false}}'),
    pg_temp.ev(3, 'userlist', '{user,presence}', NULL,
               '[{"name":"Observer5","rank":0,"profile":{"image":"","text":""},"meta":{"afk":false,"muted":false,"smuted":false,"aliases":["Observer5"],"ip":"+Jk.f9O.nEu.nwQ"}},
                 {"name":"TestBot","rank":2,"profile":{"image":"","text":""},"meta":{"afk":false,"muted":false,"smuted":false,"aliases":["TestBot"],"ip":"+Jk.f9O.nEu.ag4"}}]'),
    pg_temp.ev(4, 'setUserRank', '{user,presence}', 'TestBot', '{"name":"TestBot","rank":2}'),
    pg_temp.ev(5, 'queue', '{media,queue}', NULL, jsonb_build_object('item', pg_temp.item(0, 'fixture1', 'TestBot'), 'after', 'prepend')),
    pg_temp.ev(6, 'setCurrent', '{media,change}', NULL, '0'),
    pg_temp.ev(7, 'changeMedia', '{media,change}', NULL, pg_temp.change('fixture1')),
    pg_temp.ev(8, 'queue', '{media,queue}', NULL, jsonb_build_object('item', pg_temp.item(1, 'fixture2', 'TestBot'), 'after', 0)),
    pg_temp.ev(9, 'queue', '{media,queue}', NULL, jsonb_build_object('item', pg_temp.item(2, 'fixture3', 'Observer5'), 'after', 1)),
    pg_temp.ev(10, 'queue', '{media,queue}', NULL, jsonb_build_object('item', pg_temp.item(3, 'fixture4', 'TestBot'), 'after', 2)),
    pg_temp.ev(11, 'moveVideo', '{media,queue}', NULL, '{"from":2,"after":0}'),
    pg_temp.ev(12, 'mediaUpdate', '{media,update}', NULL, '{"currentTime":0,"paused":false}'),
    pg_temp.ev(13, 'setTemp', '{media,queue}', NULL, '{"uid":1,"temp":true}'),
    pg_temp.ev(14, 'delete', '{media,queue}', NULL, '{"uid":3}'),
    pg_temp.ev(15, 'setCurrent', '{media,change}', NULL, '2'),
    pg_temp.ev(16, 'changeMedia', '{media,change}', NULL, pg_temp.change('fixture3'))]), 15,
   'join and playlist batch stored (mediaUpdate dropped)');

SELECT results_eq($$SELECT name, rank, online FROM daz.users WHERE room = 'botchan' ORDER BY name$$,
                  $$VALUES ('Observer5', 0::numeric, true), ('TestBot', 2::numeric, true)$$,
                  'users: ranks from userlist/setUserRank, both online');
SELECT results_eq($$SELECT name, joined_at FROM daz.user_sessions WHERE room = 'botchan' AND left_at IS NULL ORDER BY name$$,
                  $$VALUES ('Observer5', pg_temp.at(1)), ('TestBot', pg_temp.at(2))$$,
                  'sessions: one open session each (a later snapshot that lists them opens none)');
SELECT results_eq($$SELECT position::int, uid::int, media_id, temp, queued_by, is_current FROM daz.playlist_now WHERE room = 'botchan' ORDER BY position$$,
                  $$VALUES (1, 0, 'fixture1', false, 'TestBot', false), (2, 2, 'fixture3', false, 'Observer5', true),
                           (3, 1, 'fixture2', true, 'TestBot', false)$$,
                  'playlist: queue {item, after}, moveVideo {from, after}, setTemp, delete and setCurrent applied in order');
SELECT results_eq($$SELECT media_id, media_type, title, seconds, started_at, ended_at, queued_by FROM daz.media_plays
                    WHERE room = 'botchan' ORDER BY started_at$$,
                  $$VALUES ('fixture1', 'tw', 'Twitch.tv - fixture1', 8, pg_temp.at(7), pg_temp.at(16), 'TestBot'),
                           ('fixture3', 'tw', 'Twitch.tv - fixture3', 8, pg_temp.at(16), NULL::timestamptz, 'Observer5')$$,
                  'media plays: one per changeMedia, ended by the next, queued_by from the current playlist item');

-- Presence changes, including a join and a leave in the same batch.
SELECT is(daz.ingest(ARRAY[
    pg_temp.ev(21, 'setAFK', '{user,presence}', 'Observer5', '{"name":"Observer5","afk":true}'),
    pg_temp.ev(22, 'addUser', '{user,presence}', 'Guest1',
               '{"name":"Guest1","rank":0,"profile":{"image":"","text":""},"meta":{"afk":false,"muted":false}}'),
    pg_temp.ev(23, 'userLeave', '{user,presence}', 'Guest1', '{"name":"Guest1"}'),
    pg_temp.ev(24, 'addUser', '{user,presence}', 'Talker',
               '{"name":"Talker","rank":0,"profile":{"image":"","text":""},"meta":{"afk":false,"muted":false}}'),
    pg_temp.ev(25, 'chatMsg', '{chat,user-message}', 'Talker',
               '{"username":"Talker","msg":"hello from Talker","meta":{},"time":1795750187523}', 'botchan', to_timestamp(1795750187.523)),
    pg_temp.ev(26, 'chatMsg', '{chat,user-message,action}', 'Talker',
               '{"username":"Talker","msg":"waves","meta":{"addClass":"action","action":true},"time":1795750188739}', 'botchan', to_timestamp(1795750188.739)),
    pg_temp.ev(27, 'chatMsg', '{chat,user-message}', '[server]',
               '{"username":"[server]","msg":"Guest1 joined (aliases: Guest1)","meta":{"addClass":"server-whisper","addClassToNameAndTimestamp":true},"time":1795750260116}'),
    pg_temp.ev(28, 'addUser', '{user,presence}', 'Leader',
               '{"name":"Leader","rank":1.5,"profile":{"image":"","text":""},"meta":{"afk":true,"muted":false}}')]), 8,
   'presence batch stored');
SELECT is((SELECT afk FROM daz.users WHERE room = 'botchan' AND name = 'Observer5'), true, 'setAFK sets afk');
SELECT is((SELECT online FROM daz.users WHERE room = 'botchan' AND name = 'Guest1'), false, 'join then leave in one batch: offline');
SELECT results_eq($$SELECT joined_at, left_at FROM daz.user_sessions WHERE room = 'botchan' AND name = 'Guest1'$$,
                  $$VALUES (pg_temp.at(22), pg_temp.at(23))$$, 'join then leave in one batch: one closed session');
SELECT results_eq($$SELECT messages::int, last_message_at, online FROM daz.users WHERE room = 'botchan' AND name = 'Talker'$$,
                  $$VALUES (2, to_timestamp(1795750188.739), true)$$, 'chat lines counted per user, last message time from CyTube');
SELECT is((SELECT count(*)::int FROM daz.users WHERE name = '[server]'), 0, 'pseudo-user [server] is not a user');
SELECT results_eq($$SELECT rank, afk FROM daz.users WHERE room = 'botchan' AND name = 'Leader'$$,
                  $$VALUES (1.5::numeric, true)$$, 'fractional rank (leader) and afk from addUser meta');

-- A userlist is a full snapshot: everyone not in it goes offline, their sessions close.
SELECT is(daz.ingest(ARRAY[
    pg_temp.ev(31, 'userlist', '{user,presence}', NULL,
               '[{"name":"TestBot","rank":2,"profile":{"image":"","text":""},"meta":{"afk":false,"muted":false}}]')]), 1,
   'snapshot stored');
SELECT results_eq($$SELECT name FROM daz.users WHERE room = 'botchan' AND online ORDER BY name$$, $$VALUES ('TestBot')$$,
                  'only users in the snapshot are online');
SELECT results_eq($$SELECT name, left_at FROM daz.user_sessions WHERE room = 'botchan' AND name IN ('Observer5', 'Talker', 'Leader') ORDER BY name$$,
                  $$VALUES ('Leader', pg_temp.at(31)), ('Observer5', pg_temp.at(31)), ('Talker', pg_temp.at(31))$$,
                  'their sessions close at the snapshot');
SELECT is((SELECT count(*)::int FROM daz.user_sessions WHERE room = 'botchan' AND name = 'TestBot'), 1,
          'TestBot keeps its one session');

-- Leave, join, leave, join in one batch: two sessions, online at the end.
SELECT is(daz.ingest(ARRAY[
    pg_temp.ev(41, 'addUser', '{user,presence}', 'Flicker', '{"name":"Flicker","rank":0,"meta":{"afk":false,"muted":false}}'),
    pg_temp.ev(42, 'userLeave', '{user,presence}', 'Flicker', '{"name":"Flicker"}'),
    pg_temp.ev(43, 'addUser', '{user,presence}', 'Flicker', '{"name":"Flicker","rank":0,"meta":{"afk":false,"muted":false}}')]), 3,
   'join, leave, join stored');
SELECT results_eq($$SELECT joined_at, left_at FROM daz.user_sessions WHERE name = 'Flicker' ORDER BY joined_at$$,
                  $$VALUES (pg_temp.at(41), pg_temp.at(42)), (pg_temp.at(43), NULL::timestamptz)$$,
                  'two sessions, the second open');
SELECT is((SELECT online FROM daz.users WHERE name = 'Flicker'), true, 'online after the last join');
SELECT is(daz.ingest(ARRAY[pg_temp.ev(44, 'userLeave', '{user,presence}', 'Flicker', '{"name":"Flicker"}')]), 1, 'leave in a later batch');
SELECT is((SELECT left_at FROM daz.user_sessions WHERE name = 'Flicker' AND joined_at = pg_temp.at(43)), pg_temp.at(44),
          'a leave in a later batch closes the open session');
SELECT is(daz.ingest(ARRAY[pg_temp.ev(44, 'userLeave', '{user,presence}', 'Flicker', '{"name":"Flicker"}')]), 0,
          'resending it changes nothing');

-- playlist is a full replace; rooms are independent.
SELECT is(daz.ingest(ARRAY[
    pg_temp.ev(51, 'playlist', '{media,queue}', NULL,
               jsonb_build_array(pg_temp.item(7, 'fixture7', 'Observer5'), pg_temp.item(8, 'fixture8', 'TestBot', true))),
    pg_temp.ev(52, 'queue', '{media,queue}', NULL, jsonb_build_object('item', pg_temp.item(0, 'other', 'Someone'), 'after', 'prepend'), 'fixchan')]), 2,
   'playlist replace stored');
SELECT results_eq($$SELECT position::int, uid::int, media_id, temp FROM daz.playlist_now WHERE room = 'botchan' ORDER BY position$$,
                  $$VALUES (1, 7, 'fixture7', false), (2, 8, 'fixture8', true)$$, 'playlist replaced whole');
SELECT is((SELECT count(*)::int FROM daz.playlist WHERE room = 'fixchan'), 1, 'another room''s playlist is separate');
SELECT is(daz.ingest(ARRAY[
    pg_temp.ev(53, 'queue', '{media,queue}', NULL, jsonb_build_object('item', pg_temp.item(9, 'fixture9', 'TestBot'), 'after', 'prepend')),
    pg_temp.ev(54, 'moveVideo', '{media,queue}', NULL, '{"from":7,"after":"append"}')]), 2, 'prepend and move to the end');
SELECT results_eq($$SELECT uid::int FROM daz.playlist WHERE room = 'botchan' ORDER BY pos$$, $$VALUES (9), (8), (7)$$,
                  'queue after "prepend" goes first, moveVideo after "append" goes last');

-- Uids are looked up as bigint: an integral number written with a fraction (8.0) names the item,
-- one that is not integral (1.5) or out of range names none.
SELECT is(daz.ingest(ARRAY[
    pg_temp.ev(55, 'setCurrent', '{media,change}', NULL, '8.0'),
    pg_temp.ev(56, 'queue', '{media,queue}', NULL, jsonb_build_object('item', pg_temp.item(10, 'fixture10', 'TestBot'), 'after', 9.0))]),
   2, 'setCurrent 8.0 and queue after 9.0 stored');
SELECT results_eq($$SELECT uid::int, is_current FROM daz.playlist WHERE room = 'botchan' ORDER BY pos$$,
                  $$VALUES (9, false), (10, false), (8, true), (7, false)$$, '8.0 is item 8, 9.0 is item 9');
SELECT is(daz.ingest(ARRAY[
    pg_temp.ev(57, 'setCurrent', '{media,change}', NULL, '1.5'),
    pg_temp.ev(58, 'moveVideo', '{media,queue}', NULL, '{"from":9,"after":100000000000000000000}')]), 2, 'setCurrent 1.5, move after a huge uid');
SELECT results_eq($$SELECT uid::int, is_current FROM daz.playlist WHERE room = 'botchan' ORDER BY pos$$,
                  $$VALUES (10, false), (8, false), (7, false), (9, false)$$,
                  'a non-integral setCurrent clears the current item; after an unknown uid is the end');
SELECT is(ARRAY[daz.events_uid('7'), daz.events_uid('-7'), daz.events_uid('7.00'), daz.events_uid('7.5'),
                daz.events_uid('"7"'), daz.events_uid('1e40'), daz.events_uid(NULL)],
          ARRAY[7, -7, 7, NULL, NULL, NULL, NULL]::bigint[], 'daz.events_uid: integral JSON numbers only');

-- Hostile payloads do not cost the batch.
SELECT is(daz.ingest(ARRAY[
    pg_temp.ev(61, 'queue', '{media,queue}', NULL, '{"item":{"uid":"x"},"after":[]}'),
    pg_temp.ev(62, 'addUser', '{user,presence}', NULL, '{"name":{"a":1},"rank":"admin"}'),
    pg_temp.ev(63, 'userlist', '{user,presence}', NULL, '"not a list"'),
    pg_temp.ev(64, 'setCurrent', '{media,change}', NULL, '"x"')]), 4, 'malformed payloads are stored, derived state skips them');
SELECT results_eq($$SELECT uid::int FROM daz.playlist WHERE room = 'botchan' ORDER BY pos$$, $$VALUES (10), (8), (7), (9)$$,
                  'playlist unchanged by them');
SELECT is((SELECT count(*)::int FROM daz.users WHERE name LIKE '{%'), 0, 'no user made from a non-string name');

-- Chatters already known and new ones in one batch (the update finds some, the rest are added), then a
-- batch of known chatters only (nothing added).
CREATE TEMP TABLE talker_before AS SELECT messages, first_seen FROM daz.users WHERE room = 'botchan' AND name = 'Talker';
SELECT is(daz.ingest(ARRAY[
    pg_temp.ev(71, 'chatMsg', '{chat,user-message}', 'Talker', '{"username":"Talker","msg":"again","meta":{}}', 'other'),
    pg_temp.ev(72, 'chatMsg', '{chat,user-message}', 'Newcomer', '{"username":"Newcomer","msg":"hi","meta":{}}', 'other'),
    pg_temp.ev(73, 'chatMsg', '{chat,user-message}', 'Newcomer', '{"username":"Newcomer","msg":"hello","meta":{}}', 'other'),
    pg_temp.ev(74, 'chatMsg', '{chat,user-message}', 'Talker', '{"username":"Talker","msg":"third","meta":{}}')]), 4,
  'batch of known and new chatters stored');
SELECT results_eq($$SELECT room, name, messages::int, first_seen, last_seen, online FROM daz.users
                     WHERE name IN ('Talker', 'Newcomer') ORDER BY room, name$$,
                  $$SELECT 'botchan', 'Talker', messages::int + 1, first_seen, pg_temp.at(74), false FROM talker_before
                    UNION ALL VALUES ('other', 'Newcomer', 2, pg_temp.at(72), pg_temp.at(73), false),
                                     ('other', 'Talker', 1, pg_temp.at(71), pg_temp.at(71), false)$$,
                  'new chatters added per room with their counts, the known one counted on');
SELECT is(daz.ingest(ARRAY[
    pg_temp.ev(75, 'chatMsg', '{chat,user-message}', 'Newcomer', '{"username":"Newcomer","msg":"back","meta":{}}', 'other'),
    pg_temp.ev(76, 'chatMsg', '{chat,user-message}', 'Talker', '{"username":"Talker","msg":"more","meta":{}}', 'other')]), 2,
  'batch of known chatters only stored');
SELECT results_eq($$SELECT name, messages::int, last_seen FROM daz.users WHERE room = 'other' ORDER BY name$$,
                  $$VALUES ('Newcomer', 3, pg_temp.at(75)), ('Talker', 2, pg_temp.at(76))$$,
                  'known chatters counted again, no row added');

-- changeMedia on joining: CyTube sends the current item with the position reached to every socket
-- that joins, so each reconnect of the bot repeats the play in progress.
CREATE FUNCTION pg_temp.playing(p_id text, p_seconds int, p_at numeric) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('id', p_id, 'title', 'Song ' || p_id, 'seconds', p_seconds, 'duration', '', 'type', 'yt',
                              'meta', '{}'::jsonb, 'currentTime', p_at, 'paused', false)
$$;
SELECT is(daz.ingest(ARRAY[
    pg_temp.ev(101, 'changeMedia', '{media,change}', NULL, pg_temp.playing('m1', 600, -3), 'rejoin'),
    -- the bot reconnects 2 minutes in (120 s of play, 1 s late)
    pg_temp.ev(221, 'changeMedia', '{media,change}', NULL, pg_temp.playing('m1', 600, 119), 'rejoin')]), 2,
  'a play and the repeat of it on a rejoin stored as events');
SELECT results_eq($$SELECT media_id, started_at, ended_at FROM daz.media_plays WHERE room = 'rejoin'$$,
                  $$VALUES ('m1', pg_temp.at(101), NULL::timestamptz)$$,
                  'media plays: a rejoin''s changeMedia for the play in progress continues it (no second row)');
SELECT is(daz.ingest(ARRAY[
    -- down for a while: another item, m2 (60 s long), is 30 s in when the bot is back
    pg_temp.ev(400, 'changeMedia', '{media,change}', NULL, pg_temp.playing('m2', 60, 30), 'rejoin'),
    -- m2 queued again and played a second time, the bot rejoining 10 s into it
    pg_temp.ev(500, 'changeMedia', '{media,change}', NULL, pg_temp.playing('m2', 60, 10), 'rejoin'),
    -- a position beyond belief is not used
    pg_temp.ev(600, 'changeMedia', '{media,change}', NULL, pg_temp.playing('m3', 60, 1e12), 'rejoin')]), 3,
  'joins in the middle of items stored');
SELECT results_eq($$SELECT media_id, started_at, ended_at FROM daz.media_plays WHERE room = 'rejoin' ORDER BY started_at$$,
                  $$VALUES ('m1', pg_temp.at(101), pg_temp.at(370)),
                           ('m2', pg_temp.at(370), pg_temp.at(490)),
                           ('m2', pg_temp.at(490), pg_temp.at(600)),
                           ('m3', pg_temp.at(600), NULL::timestamptz)$$,
                  'media plays: an item joined in the middle started currentTime before; a replay of the same item is a new play');
-- !np after joining 2m 5s into a 10-minute item: the elapsed time is the item's, not the bot's.
SELECT is(daz.ingest(ARRAY[ROW('01920000-0000-7000-8000-000000000700'::uuid, now(), 'nproom', 'changeMedia',
                               '{room:nproom,media,change}'::text[], NULL, NULL, pg_temp.playing('m9', 600, 125))::daz.event_in]),
          1, 'a join 125 s into an item stored');
SELECT is(daz.cmd_np(jsonb_build_object('room', 'nproom')), 'Now playing: Song m9 [yt:m9] — 2m 5s / 10m, 7m 55s left',
          '!np counts the time played from the position CyTube gave on joining');

SELECT * FROM finish();
ROLLBACK;

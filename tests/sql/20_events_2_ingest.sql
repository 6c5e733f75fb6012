-- 20_events_2_ingest.sql — daz.ingest: idempotency, history dedup and gap filling, command tag and jobs, log rules, rejected rows.
BEGIN;
SELECT plan(50);

-- ev(n, ...): event number n of this test, received n seconds after a fixed start (same n, same id and received_at).
CREATE FUNCTION pg_temp.ev(p_n int, p_type text, p_tags text[], p_actor text, p_payload jsonb,
                           p_room text DEFAULT 'botchan', p_server_time timestamptz DEFAULT NULL)
RETURNS daz.event_in LANGUAGE sql AS $$
    SELECT ROW(('01910000-0000-7000-8000-' || lpad(p_n::text, 12, '0'))::uuid,
               date_trunc('minute', now()) - interval '30 minutes' + p_n * interval '1 second',
               p_room, p_type, ARRAY['room:' || p_room] || p_tags, p_actor, p_server_time, p_payload)::daz.event_in
$$;
CREATE FUNCTION pg_temp.id(p_n int) RETURNS uuid LANGUAGE sql AS
$$ SELECT ('01910000-0000-7000-8000-' || lpad(p_n::text, 12, '0'))::uuid $$;
-- A chat line as CyTube sends it (02-moderator-join-registered-history.jsonl), time in ms.
CREATE FUNCTION pg_temp.chat(p_n int, p_user text, p_msg text, p_ms bigint, p_tags text[] DEFAULT '{chat,user-message}')
RETURNS daz.event_in LANGUAGE sql AS $$
    SELECT pg_temp.ev(p_n, 'chatMsg', p_tags, p_user,
                      jsonb_build_object('username', p_user, 'msg', p_msg, 'meta', '{}'::jsonb, 'time', p_ms),
                      'botchan', to_timestamp(p_ms / 1000.0))
$$;

-- TestBot joins botchan: 3 lines replayed as history, the userlist, then a live line.
CREATE TEMP TABLE join1 AS SELECT ARRAY[
    pg_temp.chat(1, 'PlainUser', 'history line 1 from PlainUser', 1795750192882, '{chat,user-message,history}'),
    pg_temp.chat(2, 'PlainUser', 'history line 2 from PlainUser', 1795750193135, '{chat,user-message,history}'),
    pg_temp.chat(3, 'PlainUser', 'history line 3 from PlainUser', 1795750193389, '{chat,user-message,history}'),
    pg_temp.ev(4, 'userlist', '{user,presence}', NULL,
               '[{"name":"PlainUser","rank":1,"profile":{"image":"","text":""},"meta":{"afk":false,"muted":false}}]'),
    pg_temp.chat(5, 'PlainUser', 'live line after the join', 1795750199000)] AS b;

SELECT is(daz.ingest((SELECT b FROM join1)), 5, 'a join batch is stored whole');
SELECT is(daz.ingest((SELECT b FROM join1)), 0, 'the same batch again stores nothing (idempotent on id)');
SELECT is((SELECT count(*)::int FROM daz.events WHERE room = 'botchan'), 5, 'no duplicate rows');
SELECT is((SELECT sum(duplicates)::int FROM daz.ingest_counters WHERE room = 'botchan'), 5, 'the resend is counted as duplicates');
SELECT is(daz.ingest(NULL), 0, 'a NULL batch stores nothing');
SELECT is(daz.ingest('{}'), 0, 'an empty batch stores nothing');

-- Rejoin: CyTube replays the same lines (new ids), plus one said while the bot was away.
SELECT is(daz.ingest(ARRAY[
    pg_temp.chat(11, 'PlainUser', 'history line 2 from PlainUser', 1795750193135, '{chat,user-message,history}'),
    pg_temp.chat(12, 'PlainUser', 'history line 3 from PlainUser', 1795750193389, '{chat,user-message,history}'),
    pg_temp.chat(13, 'PlainUser', 'live line after the join', 1795750199000, '{chat,user-message,history}'),
    pg_temp.chat(14, 'PlainUser', 'said while the bot was away', 1795750200000, '{chat,user-message,history}')]), 1,
   'replayed history: lines already stored are skipped, the missing one is stored');
SELECT is((SELECT tags FROM daz.events WHERE id = pg_temp.id(14)), '{room:botchan,chat,user-message,history}'::text[],
          'the gap-filling line keeps tag history');
SELECT is((SELECT count(*)::int FROM daz.events WHERE payload->>'msg' = 'history line 2 from PlainUser'), 1,
          'a replayed line is stored once');
SELECT is(daz.ingest(ARRAY[
    pg_temp.chat(21, 'PlainUser', 'twice in one batch', 1795750300000, '{chat,user-message,history}'),
    pg_temp.chat(22, 'PlainUser', 'twice in one batch', 1795750300000, '{chat,user-message,history}'),
    pg_temp.chat(23, 'Other', 'twice in one batch', 1795750300000, '{chat,user-message,history}')]), 2,
   'the same history line twice in one batch is stored once; another user''s same text is not a duplicate');
SELECT is(daz.ingest(ARRAY[pg_temp.chat(24, 'PlainUser', 'same text again, live', 1795750400000),
                           pg_temp.chat(25, 'PlainUser', 'same text again, live', 1795750400000)]), 2,
          'live lines are never deduplicated by content (only history is)');

-- Commands: tag added by the database, one bot job per live command line, none for history or the bot.
SELECT is(daz.ingest(ARRAY[
    pg_temp.chat(31, 'PlainUser', '!help', 1795750500000),
    pg_temp.chat(32, 'PlainUser', '!roll 1d20', 1795750500100, '{chat,user-message,command}'),
    pg_temp.chat(33, 'PlainUser', '!old command', 1795750500200, '{chat,user-message,history}'),
    pg_temp.chat(34, 'TestBot', '!said by the bot', 1795750500300, '{chat,user-message,bot}'),
    pg_temp.chat(35, 'PlainUser', 'not ! a command', 1795750500400),
    pg_temp.ev(36, 'pm', '{chat,private}', 'Alice',
               '{"username":"Alice","msg":"!tell Bob hi","meta":{},"time":1795750500500,"to":"TestBot"}')]), 6,
   'a batch with commands is stored');
SELECT is((SELECT tags FROM daz.events WHERE id = pg_temp.id(31)), '{room:botchan,chat,user-message,command}'::text[],
          'the database adds tag command to a line starting with the prefix');
SELECT is((SELECT tags FROM daz.events WHERE id = pg_temp.id(32)), '{room:botchan,chat,user-message,command}'::text[],
          'tag command is not added twice');
SELECT is((SELECT tags @> '{command}' FROM daz.events WHERE id = pg_temp.id(36)), true, 'a PM command is tagged too');
SELECT is((SELECT array_agg(correlation_id ORDER BY correlation_id) FROM daz.jobs WHERE queue = 'bot' AND kind = 'commands'),
          ARRAY[pg_temp.id(31)::text, pg_temp.id(32)::text, pg_temp.id(36)::text],
          'exactly one bot job per live command line and PM; none for history, the bot''s own line or plain text');
SELECT is((SELECT handler::text FROM daz.jobs WHERE correlation_id = pg_temp.id(31)::text), 'daz.cmd_dispatch(daz.jobs)',
          'command jobs go to daz.cmd_dispatch');
SELECT is((SELECT payload->'payload'->>'msg' FROM daz.jobs WHERE correlation_id = pg_temp.id(32)::text), '!roll 1d20',
          'the job payload carries the event');
SELECT is(daz.ingest(ARRAY[pg_temp.chat(31, 'PlainUser', '!help', 1795750500000)]), 0, 'a resent command line is not stored again');
SELECT is((SELECT count(*)::int FROM daz.jobs WHERE correlation_id = pg_temp.id(31)::text), 1, '... and makes no second job');
UPDATE daz.settings SET value = '$' WHERE key = 'command_prefix';
SELECT is(daz.ingest(ARRAY[pg_temp.chat(37, 'PlainUser', '$help', 1795750600000),
                           pg_temp.chat(38, 'PlainUser', '!help', 1795750600100)]), 2, 'lines stored after a prefix change');
SELECT is((SELECT array_agg(tags @> '{command}' ORDER BY id) FROM daz.events WHERE id IN (pg_temp.id(37), pg_temp.id(38))),
          ARRAY[true, false], 'the new prefix applies from the next batch');
UPDATE daz.settings SET value = '!' WHERE key = 'command_prefix';

-- Log rules: mediaUpdate dropped by the seeded rule; rules change at run time.
SELECT is(daz.ingest(ARRAY[
    pg_temp.ev(41, 'mediaUpdate', '{media,update}', NULL, '{"currentTime":0,"paused":false}'),
    pg_temp.ev(42, 'changeMedia', '{media,change}', NULL,
               '{"id":"fixture1","title":"Twitch.tv - fixture1","seconds":8,"duration":"00:08","type":"tw","meta":{},"currentTime":-3,"paused":true}')]),
   1, 'mediaUpdate is dropped by the seeded rule, changeMedia kept');
SELECT is((SELECT dropped::int FROM daz.ingest_stats WHERE room = 'botchan' AND type = 'mediaUpdate'), 1,
          'the drop is counted in daz.ingest_stats');
INSERT INTO daz.log_rules (tag, action, comment) VALUES ('presence', 'drop', 'test: no presence');
SELECT is(daz.ingest(ARRAY[pg_temp.ev(43, 'usercount', '{user,presence}', NULL, '3'),
                           pg_temp.chat(44, 'PlainUser', 'still stored', 1795750700000)]), 1,
          'a new drop rule applies from the next batch');
DELETE FROM daz.log_rules WHERE tag = 'presence';
SELECT is(daz.ingest(ARRAY[pg_temp.ev(45, 'usercount', '{user,presence}', NULL, '3')]), 1, 'removing the rule stores them again');
UPDATE daz.log_rules SET action = 'store', retention = '7 days' WHERE tag = 'update';
SELECT is(daz.ingest(ARRAY[pg_temp.ev(46, 'mediaUpdate', '{media,update}', NULL, '{"currentTime":5,"paused":false}')]), 1,
          'turning the drop rule into a store rule keeps mediaUpdate');
SELECT is((SELECT expires_at - received_at FROM daz.events WHERE id = pg_temp.id(46)), interval '7 days',
          'with the shortest retention that applies');
SELECT is((SELECT type FROM daz.events WHERE id = pg_temp.id(46)), 'mediaUpdate', 'unchanged type');

-- Unknown event types are stored like any other.
SELECT is(daz.ingest(ARRAY[pg_temp.ev(47, 'someNewEvent', '{unknown}', NULL, '{"x":1}')]), 1, 'an unknown event type is stored');

-- The two insert paths. A batch later than every stored row is inserted without conflict checks;
-- the same event twice in it makes that insert fail, and the batch is then stored the careful way.
-- A batch reaching back before the newest stored row leaves out the rows already stored.
CREATE FUNCTION pg_temp.fchat(p_n int, p_msg text DEFAULT 'fast path line') RETURNS daz.event_in LANGUAGE sql AS $$
    SELECT pg_temp.ev(p_n, 'chatMsg', '{chat,user-message}', 'Fast',
                      jsonb_build_object('username', 'Fast', 'msg', p_msg, 'meta', '{}'::jsonb, 'time', 1795751000000 + p_n),
                      'fastpath', to_timestamp((1795751000000 + p_n) / 1000.0))
$$;
SELECT ok(NOT EXISTS (SELECT 1 FROM daz.events WHERE received_at >= (pg_temp.fchat(901)).received_at),
          'nothing is stored after the next batch (the fast path applies)');
SELECT is(daz.ingest(ARRAY[pg_temp.fchat(901), pg_temp.fchat(902, '!help'), pg_temp.fchat(901), pg_temp.fchat(902, '!help')]), 2,
          'the same events twice in a batch on the fast path: each stored once');
SELECT is((SELECT count(*)::int FROM daz.events WHERE room = 'fastpath'), 2, 'no duplicate rows');
SELECT is((SELECT sum(duplicates)::int FROM daz.ingest_counters WHERE room = 'fastpath'), 2, 'the repeats are counted as duplicates');
SELECT is((SELECT count(*)::int FROM daz.jobs WHERE correlation_id = pg_temp.id(902)::text), 1, 'a repeated command makes one job');
SELECT is(daz.ingest(ARRAY[pg_temp.fchat(895), pg_temp.fchat(901), pg_temp.fchat(895), pg_temp.fchat(902, '!help'), pg_temp.fchat(904)]), 2,
          'a batch reaching back before stored rows: only the rows not stored yet, once each');
SELECT is((SELECT array_agg(id ORDER BY received_at) FROM daz.events WHERE room = 'fastpath'),
          ARRAY[pg_temp.id(895), pg_temp.id(901), pg_temp.id(902), pg_temp.id(904)], 'every event stored once');
SELECT is((SELECT messages::int FROM daz.users WHERE room = 'fastpath' AND name = 'Fast'), 4, 'each stored line counted once');
SELECT is((SELECT sum(stored)::int || '/' || sum(duplicates)::int FROM daz.ingest_counters WHERE room = 'fastpath'), '4/5',
          'stored and duplicates counted over both batches');
SELECT is((SELECT count(*)::int FROM daz.jobs WHERE correlation_id = pg_temp.id(902)::text), 1, 'the resent command makes no second job');
SELECT is(daz.ingest(ARRAY[
    pg_temp.ev(897, 'chatMsg', '{chat,user-message,history}', 'Fast', (pg_temp.fchat(901)).payload, 'fastpath', (pg_temp.fchat(901)).server_time),
    pg_temp.ev(898, 'chatMsg', '{chat,user-message,history}', 'Fast',
               jsonb_build_object('username', 'Fast', 'msg', 'replayed, not stored before', 'meta', '{}'::jsonb, 'time', 1795751000898),
               'fastpath', to_timestamp(1795751000.898))]), 1,
   'on the careful path too, a replayed line already stored is skipped and a new one stored');
SELECT is((SELECT count(*)::int FROM daz.events WHERE room = 'fastpath'), 5, 'five events in the room');

-- Bad rows are rejected with a reason, good rows of the same batch stored.
SELECT is(daz.ingest(ARRAY[
    pg_temp.chat(51, 'PlainUser', 'good row', 1795750800000),
    pg_temp.ev(52, 'chatMsg', '{chat}', 'x', '{}', ''),
    pg_temp.ev(53, 'chatMsg', '{chat}', 'x', '{}', E'bot\nchan'),
    pg_temp.ev(54, 'chatMsg', '{chat}', 'x', '{}', repeat('r', 65)),
    pg_temp.ev(55, '', '{chat}', 'x', '{}'),
    pg_temp.ev(56, E'chat\x01Msg', '{chat}', 'x', '{}'),
    ROW(NULL, now(), 'botchan', 'chatMsg', '{}', NULL, NULL, '{}')::daz.event_in]), 1,
   'the good row of a batch with bad rows is stored');
SELECT is((SELECT array_agg(reason ORDER BY rejected_id) FROM daz.rejected_events),
          ARRAY['room is empty', 'room has control characters', 'room is longer than 64 characters', 'type is empty',
                'type has control characters', 'id is missing'], 'each bad row is recorded with its reason');
SELECT is((SELECT event->>'room' FROM daz.rejected_events WHERE reason = 'room has control characters'), E'bot\nchan',
          'the rejected row is kept as received');
-- Limits are in characters: 64 two-byte characters (128 bytes) pass, 65 do not; a multibyte name is
-- still checked for control characters.
SELECT is(daz.ingest(ARRAY[
    pg_temp.ev(57, 'chatMsg', '{chat}', 'x', '{}', repeat('é', 64)),
    pg_temp.ev(58, 'chatMsg', '{chat}', 'x', '{}', repeat('é', 65)),
    pg_temp.ev(59, 'chatMsg', '{chat}', 'x', '{}', repeat('é', 40) || E'\t')]), 1,
   'a room of 64 multibyte characters is stored');
SELECT is((SELECT array_agg(reason ORDER BY rejected_id) FROM daz.rejected_events WHERE id IN (pg_temp.id(58), pg_temp.id(59))),
          ARRAY['room is longer than 64 characters', 'room has control characters'],
          'a longer multibyte room and one with a control character are rejected');
SELECT throws_ok($$SELECT daz.ingest(ARRAY[[pg_temp.ev(61, 'chatMsg', '{}', NULL, '{}')]])$$, '22023',
                 'daz.ingest: the batch must be a one-dimensional array, got 2 dimensions', 'a 2-D batch is refused whole');
INSERT INTO daz.settings (key, value) VALUES ('ingest_max_batch', '2') ON CONFLICT (key) DO UPDATE SET value = '2';
SELECT throws_ok($$SELECT daz.ingest(ARRAY[pg_temp.ev(62, 'a', '{}', NULL, '{}'), pg_temp.ev(63, 'a', '{}', NULL, '{}'),
                                           pg_temp.ev(64, 'a', '{}', NULL, '{}')])$$, '54000',
                 'daz.ingest: 3 events in one batch, the limit is 2 (setting ingest_max_batch)', 'an oversized batch is refused whole');
SELECT is((SELECT count(*)::int FROM daz.events WHERE id IN (pg_temp.id(62), pg_temp.id(63), pg_temp.id(64))), 0,
          'nothing of a refused batch is stored');

SELECT * FROM finish();
ROLLBACK;

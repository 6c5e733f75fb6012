-- 50_bot_presence.sql — what happens when people come and go: tell delivery, reminders, the greeter.
BEGIN;
SELECT plan(44);
\ir 50_bot_helpers.psql

UPDATE daz.commands SET cooldown = '0';

-- ---------------------------------------------------------------- tell
SELECT is(pg_temp.say('bob', '!tell carol see you at 8, "ok"?'),
          ARRAY['chat:I will tell carol when they next join (kept for 7d).'], '!tell for someone absent is stored');
SELECT is((SELECT ARRAY[sender, recipient, message, via] FROM daz.tells), ARRAY['bob', 'carol', 'see you at 8, "ok"?', 'chat'],
          '... with the message as typed (quotes kept) and the way it was sent');
SELECT ok((SELECT expires_at = now() + interval '7 days' FROM daz.tells), '... expiring after 7 days');
SELECT is(pg_temp.whisper('bob', '!tell Carol psst, secret'), ARRAY['pm:bob:I will tell Carol when they next join (kept for 7d).'],
          '!tell by pm is answered by pm');
SELECT is(pg_temp.say('bob', '!tell alice hi'), ARRAY['chat:alice is here right now — tell them yourself.'], '!tell for someone online is refused');
SELECT is(pg_temp.say('bob', '!tell bob hi'), ARRAY['chat:You can tell yourself that.'], '!tell to oneself is refused');
SELECT is(pg_temp.say('bob', '!tell DazBot hi'), ARRAY['chat:I am listening already.'], '!tell to the bot is refused');
SELECT is(pg_temp.say('bob', '!tell carol'), ARRAY['chat:Usage: !tell <user> <message>'], '!tell without a message: usage');
SELECT is(pg_temp.say('bob', '!tell bad!name hi'), ARRAY['chat:"bad!name" is not a CyTube user name.'], '!tell to an impossible name');

-- carol is in the userlist of a reconnect: that is not a join.
SELECT pg_temp.userlist('[["DazBot", 2], ["alice", 1], ["bob", 0], ["mod", 2], ["boss", 3], ["carol", 1]]');
SELECT is(pg_temp.take(), '{}'::text[], 'the initial userlist delivers nothing');
SELECT is((SELECT count(*)::int FROM daz.tells WHERE delivered_at IS NULL), 2, '... both tells still pending');
SELECT pg_temp.leave('carol');
SELECT pg_temp.join('carol', 1);
SELECT is(pg_temp.take(),
          ARRAY['chat:carol, bob asked me to tell you (0s ago): see you at 8, "ok"?', 'pm:carol:carol, bob asked me to tell you (0s ago): psst, secret'],
          'a real join (addUser) delivers every pending tell, each the way it was sent');
SELECT is((SELECT count(*)::int FROM daz.tells WHERE delivered_at IS NOT NULL), 2, '... and marks them delivered');
SELECT is((SELECT correlation_id FROM daz.jobs WHERE queue = 'cytube' LIMIT 1), NULL, '(nothing left over)');
SELECT pg_temp.leave('carol');
SELECT pg_temp.join('carol', 1);
SELECT is(pg_temp.take(), '{}'::text[], 'a later join delivers nothing twice');
INSERT INTO daz.tells (room, sender, recipient, message, via, created_at, expires_at)
VALUES ('lobby', 'bob', 'dave', 'too late', 'chat', now() - interval '8 days', now() - interval '1 day');
SELECT pg_temp.join('dave', 0);
SELECT is(pg_temp.take(), '{}'::text[], 'an expired tell is not delivered');
INSERT INTO daz.tells (room, sender, recipient, message, via) VALUES ('lobby', 'bob', 'erin', 'elsewhere', 'chat');
SELECT pg_temp.join('erin', 0, 'annex');
SELECT is(pg_temp.take(), '{}'::text[], 'a tell is for its room only');
UPDATE daz.settings SET value = 'chat' WHERE key = 'reply_mode';
SELECT pg_temp.whisper('bob', '!tell zoe the secret is 42');
SELECT pg_temp.join('zoe', 0);
SELECT is(pg_temp.take(), ARRAY['pm:zoe:zoe, bob asked me to tell you (0s ago): the secret is 42'],
          'a tell sent by pm is delivered by pm even when reply_mode is chat');
UPDATE daz.settings SET value = 'auto' WHERE key = 'reply_mode';
SELECT pg_temp.chat('bob', '!tell frank m' || g) FROM generate_series(1, 9) g;
SELECT is(pg_temp.take(), array_fill('chat:I will tell frank when they next join (kept for 7d).'::text, ARRAY[9]), 'nine more tells: ten pending');
SELECT is(pg_temp.say('bob', '!tell frank one too many'),
          ARRAY['chat:You have 10 messages waiting for delivery already; wait until some are delivered.'], 'at most 10 pending per sender');


-- ---------------------------------------------------------------- remind
SELECT is(pg_temp.say('alice', '!remind 1h30m stretch your legs'),
          ARRAY['chat:alice: I will remind you in 1h 30m (' || to_char((now() + interval '90 minutes') AT TIME ZONE 'UTC', 'HH24:MI:SS') || ' UTC).'],
          '!remind 1h30m: confirmed with the time');
SELECT is((SELECT ARRAY[queue, kind, room, handler::text, (run_at - now())::text, payload->>'text', payload->>'via']
             FROM daz.jobs WHERE kind = 'remind'),
          ARRAY['bot', 'remind', 'lobby', 'daz.cmd_remind_fire(daz.jobs)', '01:30:00', 'stretch your legs', 'chat'],
          '... a delayed job on queue bot (a row: it survives restarts) with handler daz.cmd_remind_fire');
SELECT is(pg_temp.take(), '{}'::text[], 'nothing before it is due');
UPDATE daz.jobs SET run_at = now() - interval '1 second' WHERE kind = 'remind';
SELECT is(pg_temp.take(), ARRAY['chat:alice, reminder: stretch your legs (set 0s ago)'], 'once due it fires in chat');
SELECT is((SELECT count(*)::int FROM daz.jobs WHERE kind = 'remind'), 0, '... once');
SELECT ok((pg_temp.whisper('alice', '!remind 90s drink water'))[1] LIKE 'pm:alice:alice: I will remind you in 1m 30s (%', '!remind by pm: confirmed by pm');
UPDATE daz.jobs SET run_at = now() WHERE kind = 'remind';
SELECT is(pg_temp.take(), ARRAY['pm:alice:alice, reminder: drink water (set 0s ago)'], '... and reminds by pm');
SELECT is(pg_temp.say('alice', '!remind 25h nope'), ARRAY['chat:A reminder can be from 1s to 24h away.'], 'more than 24 hours is refused');
SELECT is(pg_temp.say('alice', '!remind 2d nope'), ARRAY['chat:A reminder can be from 1s to 24h away.'], '2d too');
SELECT is(pg_temp.say('alice', '!remind 1h'), ARRAY['chat:Usage: !remind <duration> <message>, e.g. !remind 1h30m stretch'], '!remind without a message: usage');
SELECT ok((pg_temp.say('alice', '!remind 10 tea'))[1] LIKE 'chat:alice: I will remind you in 10m (%', 'a bare number is minutes');
SELECT pg_temp.leave('alice');
UPDATE daz.jobs SET run_at = now() WHERE kind = 'remind';
SELECT is(pg_temp.take(), '{}'::text[], 'a reminder for someone who left is not said to an empty room...');
SELECT pg_temp.join('alice', 1);
SELECT is(pg_temp.take(), ARRAY['chat:alice, reminder: tea (set 0s ago)'], '... it is delivered on their next join');

-- ---------------------------------------------------------------- greeter
-- pg_temp.come / go: a join or leave, and the jobs it routes run (cytube jobs are kept for take()).
CREATE FUNCTION pg_temp.come(p_user text) RETURNS integer LANGUAGE sql AS $$
    SELECT pg_temp.join(p_user, 0); SELECT daz.run_jobs('test', 100) $$;
CREATE FUNCTION pg_temp.go(p_user text) RETURNS integer LANGUAGE sql AS $$
    SELECT pg_temp.leave(p_user); SELECT daz.run_jobs('test', 100) $$;
CREATE FUNCTION pg_temp.greets() RETURNS integer LANGUAGE sql AS $$
    SELECT count(*)::integer FROM daz.jobs WHERE kind = 'greet' $$;
SELECT pg_temp.come('gina');
SELECT is(pg_temp.greets(), 0, 'greeter off: no greeting');
SELECT pg_temp.say('mod', '!greeter on');
SELECT pg_temp.go('gina');
SELECT pg_temp.come('gina');
SELECT ok((SELECT run_at BETWEEN now() + interval '3 seconds' AND now() + interval '6 seconds' FROM daz.jobs WHERE kind = 'greet'),
          'greeter on: a join schedules a greeting 3 to 6 seconds later');
SELECT is(pg_temp.take(), '{}'::text[], '... not said at once');
UPDATE daz.jobs SET run_at = now() WHERE kind = 'greet';
SELECT is(pg_temp.take(), ARRAY['chat:Welcome, gina!'], '... then said in chat');
SELECT pg_temp.go('gina');
SELECT pg_temp.come('gina');
SELECT is(pg_temp.greets(), 0, 'no second greeting within 24 hours');
UPDATE daz.greetings SET greeted_at = now() - interval '25 hours';
UPDATE daz.greeter SET message = 'Hi {user}, welcome to the lobby' WHERE room = 'lobby';
SELECT pg_temp.go('gina');
SELECT pg_temp.come('gina');
UPDATE daz.jobs SET run_at = now() WHERE kind = 'greet';
SELECT is(pg_temp.take(), ARRAY['chat:Hi gina, welcome to the lobby'], 'after 24 hours, greeted again (with the room''s own message)');
SELECT pg_temp.userlist('[["DazBot", 2], ["alice", 1], ["hank", 0]]');
SELECT pg_temp.come('DazBot');
SELECT is(pg_temp.greets(), 0, 'neither the initial userlist nor the bot''s own join is greeted');
SELECT pg_temp.come('ivy');
SELECT pg_temp.go('ivy');
UPDATE daz.jobs SET run_at = now() WHERE kind = 'greet';
SELECT is(pg_temp.take(), '{}'::text[], 'someone who left before the greeting is not greeted...');
SELECT pg_temp.come('ivy');
SELECT is(pg_temp.greets(), 1, '... and is greeted on the next join');
SELECT daz.ingest(ARRAY[pg_temp.ev('addUser', pg_temp.user_entry('jack', 0), '{user,presence}', 'jack', 'lobby',
                                   now() - interval '10 minutes')]);
SELECT daz.run_jobs('test', 100);
SELECT is((SELECT count(*)::int FROM daz.jobs WHERE kind = 'greet' AND payload->>'user' = 'jack'), 0,
          'a join replayed long after (spool after an outage) is not greeted');
SELECT pg_temp.come('kim');
SELECT pg_temp.say('mod', '!greeter off');
UPDATE daz.jobs SET run_at = now() WHERE kind = 'greet';
SELECT is(pg_temp.take(), '{}'::text[], 'a greeting due after the greeter was turned off is not said');

SELECT * FROM finish();
ROLLBACK;

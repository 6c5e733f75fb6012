-- 50_bot_commands.sql — what each built-in command answers, from realistic chat and pm events.
BEGIN;
SELECT plan(48);
\ir 50_bot_helpers.psql

-- No cooldowns in this file: each test reads one answer.
UPDATE daz.commands SET cooldown = '0';
INSERT INTO daz.workers (worker, host, pid, version, started_at, heartbeat_at, rooms)
VALUES ('dazd-1', 'host1', 4242, '0.3.1', now() - interval '1 day 3 hours', now(), '{lobby,annex}');
UPDATE daz.rooms SET holder = 'dazd-1', lease_until = now() + interval '30 seconds';

-- ---------------------------------------------------------------- help
SELECT is(pg_temp.say('bob', '!help'),
          ARRAY['chat:Commands: !8ball !about !coinflip !help !np !ping !quote !random !remind !rps !seen !stats !tell !uptime — !help <command> for details.'],
          '!help lists what a guest may use (no moderator or admin commands)');
SELECT ok((pg_temp.say('mod', '!h'))[1] LIKE '%!greeter%' AND NOT (pg_temp.say('mod', '!commands'))[1] LIKE '%!playlistadd%',
          'aliases !h / !commands; a moderator also sees !greeter, not the admin commands');
SELECT ok((pg_temp.say('boss', '!help'))[1] LIKE '%!playlistadd !playlistdelete%', 'a bot admin sees the admin commands');
SELECT is(pg_temp.say('bob', '!help seen'),
          ARRAY['chat:!seen <user> — Whether a user is here, else when they were last seen and what they last said. (aliases: !lastseen; cooldown 0s)'],
          '!help <command> describes it');
SELECT is(pg_temp.say('bob', '!help !NP'),
          ARRAY['chat:!np — What is playing now, elapsed and remaining time. (aliases: !nowplaying; cooldown 0s)'],
          '!help accepts the prefix and any case');
SELECT is(pg_temp.say('bob', '!help playlistadd'),
          ARRAY['chat:!playlistadd <url> — Queues a link at the end of the playlist as a temporary item (bot admins). (aliases: !add; bot admins only; cooldown 0s)'],
          '!help says who may use a command');
SELECT is(pg_temp.say('bob', '!help greeter'),
          ARRAY['chat:!greeter on|off — Turns greetings of joining users on or off for this room (moderators). (rank 2+, moderator; cooldown 0s)'],
          '!help names the rank a command needs');
SELECT is(pg_temp.say('bob', '!help frobnicate'), ARRAY['chat:No command "frobnicate". !help lists them.'], '!help of an unknown command');

-- ---------------------------------------------------------------- about, uptime, ping
SELECT is(pg_temp.say('bob', '!about'),
          ARRAY['chat:Daz 0.3.1, a CyTube bot whose brain is PostgreSQL ' || split_part(current_setting('server_version'), ' ', 1)
                || '. In 2 rooms, here for 2h 5m. !help for commands.'],
          '!about: version from daz.workers, rooms, time here');
SELECT is(array_length(pg_temp.say('boss', '!info'), 1), 2, '!info (alias) for a bot admin adds a second line...');
SELECT pg_temp.chat('boss', '!version');
SELECT daz.run_jobs('test', 100);
SELECT ok((pg_temp.out())[2] ~ '^chat:Queued jobs: ', '... with the queue depths');
DELETE FROM daz.jobs WHERE queue = 'cytube';
SELECT is(pg_temp.say('bob', '!uptime'), ARRAY['chat:Connected here for 2h 5m, dazd running for 1d 3h.'],
          '!uptime: connected_since of the room and the worker''s start');
SELECT is(pg_temp.say('bob', '!up', 'annex'), ARRAY['chat:Connected here for 10m, dazd running for 1d 3h.'], '!up in another room');
SELECT ok((pg_temp.say('bob', '!ping'))[1] ~ '^chat:pong \(\d+ ms\)$', '!ping');

-- ---------------------------------------------------------------- seen
SELECT pg_temp.chat('alice', 'see <a href="https://example.com/x?a=1&amp;b=2" target="_blank" rel="noopener noreferrer">https://example.com/x?a=1&amp;b=2</a> &lt;3');
SELECT is(pg_temp.say('bob', '!seen alice'),
          ARRAY['chat:alice is here right now, last said “see https://example.com/x?a=1&b=2 <3” 0s ago.'],
          '!seen of someone online: here now, and the last line as plain text');
SELECT pg_temp.leave('alice');
UPDATE daz.users SET last_seen = now() - interval '3 hours 20 minutes' WHERE name = 'alice';
SELECT is(pg_temp.say('bob', '!seen ALICE'),
          ARRAY['chat:alice was last seen 3h 20m ago, last said “see https://example.com/x?a=1&b=2 <3” 0s ago.'],
          '!seen of someone gone: last seen, any case');
SELECT is(pg_temp.say('bob', '!seen zed'), ARRAY['chat:I have not seen zed here.'], '!seen of a stranger');
SELECT is(pg_temp.say('bob', '!seen bob'), ARRAY['chat:bob: you are right here.'], '!seen of oneself');
SELECT is(pg_temp.say('bob', '!seen dazbot'), ARRAY['chat:I am right here.'], '!seen of the bot');
SELECT is(pg_temp.say('bob', '!seen'), ARRAY['chat:Usage: !seen <user>'], '!seen without a name: usage');
UPDATE daz.users SET afk = true WHERE name = 'mod';
-- (mod's last two lines, !h and !commands, came in the same transaction: either may be the last)
SELECT ok((pg_temp.say('bob', '!lastseen mod'))[1] ~ '^chat:mod is here right now \(afk\), last said “!(h|commands)” 0s ago\.$',
          '!seen shows afk');

-- ---------------------------------------------------------------- games
SELECT is(pg_temp.say('bob', '!8ball'), ARRAY['chat:Ask me a question: !8ball <question>'], '!8ball without a question');
SELECT ok((pg_temp.say('bob', '!8ball will it rain?'))[1] ~ '^chat:bob: 🎱 (It is certain|It is decidedly so|Without a doubt|Yes, definitely|You may rely on it|As I see it, yes|Most likely|Outlook good|Yes|Signs point to yes|Reply hazy, try again|Ask again later|Better not tell you now|Cannot predict now|Concentrate and ask again|Don''t count on it|My reply is no|My sources say no|Outlook not so good|Very doubtful)\.$',
          '!8ball answers with one of the twenty answers');
SELECT ok((SELECT bool_and((pg_temp.say('bob', '!coinflip'))[1] IN ('chat:bob flips a coin: heads.', 'chat:bob flips a coin: tails.'))
             FROM generate_series(1, 5)), '!coinflip: heads or tails');
SELECT ok((pg_temp.say('bob', '!flip'))[1] LIKE 'chat:bob flips a coin: %', '!flip alias');
SELECT is(pg_temp.say('bob', '!rps lizard'), ARRAY['chat:Play with !rps rock|paper|scissors'], '!rps refuses other moves');
SELECT ok((pg_temp.say('bob', '!rps Rock'))[1] ~ '^chat:bob: rock vs my (rock — a draw\.|paper — I win!|scissors — you win!)$',
          '!rps rock: the outcome matches the moves');
SELECT ok((pg_temp.say('bob', '!rps s'))[1] ~ '^chat:bob: scissors vs my (rock — I win!|paper — you win!|scissors — a draw\.)$',
          '!rps s: short moves');
SELECT ok((SELECT bool_and(substring((pg_temp.say('bob', '!random 6'))[1] FROM 'rolls (\d+)')::int BETWEEN 1 AND 6)
             FROM generate_series(1, 10)), '!random 6 stays in 1..6');
SELECT ok((pg_temp.say('bob', '!roll'))[1] ~ '^chat:bob rolls \d+ \(1–100\)\.$', '!roll: 1..100 by default');
SELECT is(pg_temp.say('bob', '!random -3'), ARRAY['chat:Usage: !random [N] — N a whole number from 1 to 999999999999.'],
          '!random refuses a bad N');

-- ---------------------------------------------------------------- quote
SELECT is(pg_temp.say('bob', '!quote mod'), ARRAY['chat:No lines of mod to quote.'], '!quote of a user with no lines');
SELECT pg_temp.chat('bob', 'I like &lt;turtles&gt;');
SELECT pg_temp.chat('DazBot', 'I am the bot', 'lobby', '{bot}');
SELECT is(pg_temp.say('bob', '!quote bob'), ARRAY['chat:“I like <turtles>” — bob, ' || to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD')],
          '!quote <user>: a past line of that user, never a command line');
SELECT ok((SELECT bool_and((pg_temp.say('bob', '!quote'))[1] ~ '^chat:“(I like <turtles>|see https://example.com/x\?a=1&b=2 <3)” — (bob|alice), ')
             FROM generate_series(1, 8)), '!quote: lines of anyone, never commands, never the bot''s');
SELECT is(pg_temp.say('bob', '!quote dazbot'), ARRAY['chat:No lines of dazbot to quote.'], '!quote never quotes the bot');

-- ---------------------------------------------------------------- np, stats
SELECT is(pg_temp.say('bob', '!np'), ARRAY['chat:Nothing is playing.'], '!np with nothing played');
INSERT INTO daz.media_plays (room, media_type, media_id, title, seconds, started_at, queued_by, event_id) VALUES
    ('lobby', 'yt', 'aaa', 'Song A', 200, now() - interval '2 hours', 'alice', gen_random_uuid()),
    ('lobby', 'yt', 'bbb', 'Song B', 180, now() - interval '1 hour', 'bob', gen_random_uuid()),
    ('lobby', 'yt', 'aaa', 'Song A', 200, now() - interval '30 minutes', 'alice', gen_random_uuid()),
    ('lobby', 'vi', '123', 'Clip C', 213, now() - interval '80 seconds', 'mod', gen_random_uuid());
SELECT is(pg_temp.say('bob', '!np'), ARRAY['chat:Now playing: Clip C [vi:123] — 1m 20s / 3m 33s, 2m 13s left (queued by mod)'],
          '!np: title, type:id, elapsed / length, remaining, who queued it');
SELECT is(pg_temp.say('bob', '!nowplaying', 'annex'), ARRAY['chat:Nothing is playing.'], '!nowplaying is per room');
INSERT INTO daz.media_plays (room, media_type, media_id, title, seconds, started_at, event_id)
VALUES ('lobby', 'tw', 'somechannel', 'Live stream', 0, now() - interval '1 minute', gen_random_uuid());
SELECT is(pg_temp.say('bob', '!np'), ARRAY['chat:Now playing: Live stream [tw:somechannel] — live for 1m'], '!np of a live stream');
UPDATE daz.media_plays SET started_at = started_at - interval '1 day';
UPDATE daz.media_plays SET seconds = 60 WHERE media_type = 'tw';
SELECT is(pg_temp.say('bob', '!np'), ARRAY['chat:Nothing is playing (last: Live stream).'], '!np long after the last item ended');
UPDATE daz.users SET messages = CASE name WHEN 'alice' THEN 120 WHEN 'bob' THEN 30 WHEN 'mod' THEN 7 WHEN 'DazBot' THEN 999 ELSE 0 END
 WHERE room = 'lobby';
SELECT is(pg_temp.say('bob', '!stats'),
          ARRAY['chat:Most played: Song A (2), Clip C (1), Live stream (1). Top chatters: alice (120), bob (31), mod (7).'],
          '!stats: most played media and top chatters, not the bot');

-- ---------------------------------------------------------------- greeter (the command; greetings in 50_bot_presence)
SELECT is(pg_temp.say('mod', '!greeter'), ARRAY['chat:Greeter is off in this room.'], '!greeter tells the state');
SELECT is(pg_temp.say('mod', '!greeter ON'), ARRAY['chat:Greeter is now on in this room.'], '!greeter on');
SELECT is((SELECT ARRAY[enabled::text, set_by] FROM daz.greeter WHERE room = 'lobby'), ARRAY['true', 'mod'], '... stored per room with who set it');
SELECT is(pg_temp.say('mod', '!greeter maybe'), ARRAY['chat:Usage: !greeter on|off'], '!greeter with a bad argument');

-- ---------------------------------------------------------------- privileges
SET LOCAL ROLE daz_operator;
SELECT lives_ok($$UPDATE daz.commands SET cooldown = '3 seconds' WHERE name = 'ping';
                  INSERT INTO daz.admins (name) VALUES ('newadmin');
                  UPDATE daz.settings SET value = '10 seconds' WHERE key = 'default_cooldown'$$,
                'daz_operator manages commands, admins and settings');
RESET ROLE;
SET LOCAL ROLE daz_reader;
SELECT lives_ok($$SELECT count(*) FROM daz.command_log$$, 'daz_reader reads the command log');
SELECT throws_ok($$DELETE FROM daz.admins$$, '42501', NULL, 'daz_reader cannot change admins');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;

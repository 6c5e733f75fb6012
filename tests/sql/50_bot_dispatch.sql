-- 50_bot_dispatch.sql — the command framework: parsing, aliases, routing of replies, refusals, cooldowns, errors, log.
BEGIN;
SELECT plan(68);
\ir 50_bot_helpers.psql

-- Test commands: echo shows what the handler got; boom raises after a side effect.
CREATE FUNCTION daz.cmd_test_echo(p_ctx jsonb) RETURNS text LANGUAGE sql AS $$
    SELECT (p_ctx->'args')::text || ' rest=' || (p_ctx->>'rest') || ' via=' || (p_ctx->>'via')
           || ' rank=' || (p_ctx->>'rank') || ' admin=' || (p_ctx->>'is_admin')
$$;
CREATE FUNCTION daz.cmd_test_boom(p_ctx jsonb) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO daz.tells (room, sender, recipient, message, via) VALUES ('lobby', 'x', 'y', 'side effect', 'chat');
    RETURN (1 / 0)::text;
END
$$;
CREATE FUNCTION daz.cmd_test_lines(p_ctx jsonb) RETURNS text LANGUAGE sql AS $$
    SELECT E'/kick bob\n\nsecond line'
$$;
-- say: repeats the caller's text (as !tell, !seen or !quote do with what users typed).
CREATE FUNCTION daz.cmd_test_say(p_ctx jsonb) RETURNS text LANGUAGE sql AS $$
    SELECT p_ctx->>'rest'
$$;
INSERT INTO daz.commands (name, aliases, handler, description, cooldown) VALUES
    ('echo', '{ECHO2, e}', 'daz.cmd_test_echo(jsonb)', 'test', '0'),
    ('boom', '{}', 'daz.cmd_test_boom(jsonb)', 'test', NULL),
    ('lines', '{}', 'daz.cmd_test_lines(jsonb)', 'test', '0'),
    ('say', '{}', 'daz.cmd_test_say(jsonb)', 'test', '0');

-- ---------------------------------------------------------------- objects
SELECT has_table('daz', 'commands', 'daz.commands exists');
SELECT has_table('daz', 'command_log', 'daz.command_log exists');
SELECT has_table('daz', 'command_cooldowns', 'cooldowns are a table (they survive restarts)');
SELECT function_returns('daz', 'cmd_dispatch', ARRAY['daz.jobs'], 'jsonb', 'daz.cmd_dispatch(daz.jobs) RETURNS jsonb');
SELECT is((SELECT count(*)::int FROM daz.subscriptions WHERE name IN ('commands', 'tells', 'greeter', 'playlist_fail') AND enabled),
          4, 'commands, tells, greeter and playlist_fail are subscriptions');
SELECT is((SELECT aliases FROM daz.commands WHERE name = 'echo'), '{e,echo2}'::text[], 'aliases are stored lower case, sorted');

-- ---------------------------------------------------------------- replies
SELECT is(pg_temp.say('alice', '!ping')::text ~ '^\{"chat:pong \(\d+ ms\)"\}$', true, '!ping in chat: one chat job "pong (N ms)"');
SELECT pg_temp.chat('bob', '!ping');
SELECT daz.run_jobs('test', 100);
SELECT is((SELECT ARRAY[queue, kind, priority::text, room] FROM daz.jobs WHERE queue = 'cytube' AND kind = 'chat'),
          ARRAY['cytube', 'chat', '1', 'lobby'], 'the reply is a cytube chat job at priority 1 for the room');
SELECT is((SELECT correlation_id FROM daz.jobs WHERE queue = 'cytube'),
          (SELECT id::text FROM daz.events WHERE actor = 'bob' AND payload->>'msg' = '!ping'),
          'its correlation_id is the id of the event that carried the command');
SELECT pg_temp.take();
SELECT is(pg_temp.whisper('bob', '!echo hi'), ARRAY['pm:bob:["hi"] rest=hi via=pm rank=0 admin=false'],
          'a command by pm is answered by pm to the sender');

-- ---------------------------------------------------------------- parsing
SELECT is(pg_temp.say('alice', '!echo a "b c"  d\"e "" \\x'),
          ARRAY['chat:["a", "b c", "d\"e", "", "\\x"] rest=a "b c"  d\"e "" \\x via=chat rank=1 admin=false'],
          'arguments: whitespace split, "quotes" group, backslash escapes, "" is an empty argument');
SELECT is(pg_temp.say('alice', '!echo “smart quotes” too'),
          ARRAY['chat:["smart quotes", "too"] rest=“smart quotes” too via=chat rank=1 admin=false'],
          'curly quotes group too');
SELECT is(pg_temp.say('alice', '!echo &lt;b&gt;&amp; <a href="https://example.com/x?a=1&amp;b=2" target="_blank" rel="noopener noreferrer">https://example.com/x?a=1&amp;b=2</a>'),
          ARRAY['chat:["<b>&", "https://example.com/x?a=1&b=2"] rest=<b>& https://example.com/x?a=1&b=2 via=chat rank=1 admin=false'],
          'CyTube''s HTML is decoded: entities and the <a href> around a link');
SELECT is(pg_temp.say('alice', '!ECHO2 x'), ARRAY['chat:["x"] rest=x via=chat rank=1 admin=false'],
          'aliases resolve case-insensitively');
SELECT is(pg_temp.say('alice', '!E'), ARRAY['chat:[] rest= via=chat rank=1 admin=false'], 'a one-letter alias works');
SELECT is(pg_temp.say('alice', $$!echo '); DROP TABLE daz.commands; --$$),
          ARRAY[$$chat:["');", "DROP", "TABLE", "daz.commands;", "--"] rest='); DROP TABLE daz.commands; -- via=chat rank=1 admin=false$$],
          'SQL-looking input is only text');
SELECT is(pg_temp.say('bob', $$!seen x'); DELETE FROM daz.users; --$$),
          ARRAY[$$chat:I have not seen x'); here.$$], 'SQL-looking input reaches handlers as a value');
SELECT ok(to_regclass('daz.commands') IS NOT NULL AND (SELECT count(*) FROM daz.users WHERE room = 'lobby') = 5,
          'daz.commands and daz.users are untouched');
SELECT is(pg_temp.say('alice', '!lines'), ARRAY[U&'chat:\200B/kick bob', 'chat:second line'],
          'one job per non-empty reply line; a line starting with / cannot become a CyTube command');
SELECT is(pg_temp.say('alice', '!say ' || repeat('x', 315) || ' /kick boss flooding'),
          ARRAY['chat:' || repeat('x', 315), U&'chat:\200B/kick boss flooding'],
          'a reply over CyTube''s 320 characters is split at a space by the bot, and a part starting with / is defused');
SELECT is(pg_temp.say('alice', '!say ' || repeat('😀', 200)),
          ARRAY['chat:' || repeat('😀', 159), 'chat:' || repeat('😀', 41)],
          'parts are measured as CyTube measures them (UTF-16 units: an emoji counts 2)');
SELECT daz.bot_reply('lobby', 'chat', 'alice', repeat('word ', 900));
SELECT is(pg_temp.take(),
          ARRAY(SELECT 'chat:' || rtrim(repeat('word ', 64)) FROM generate_series(1, 3)) || ('chat:' || rtrim(repeat('word ', 8))),
          'a reply line is cut at 1000 characters: at most 4 parts of it');

-- ---------------------------------------------------------------- what is not dispatched
SELECT pg_temp.chat('alice', '!ping', 'lobby', '{history}');
SELECT is(pg_temp.take(), '{}'::text[], 'a history line (replayed on join) is never dispatched');
SELECT is((SELECT count(*)::int FROM daz.jobs WHERE kind = 'commands'), 0, '... not even routed as a job');
SELECT is(pg_temp.say('DazBot', '!ping'), '{}'::text[], 'the bot never obeys its own lines');
SELECT daz.ingest(ARRAY[pg_temp.ev('chatMsg', jsonb_build_object('username', 'alice', 'msg', '!ping',
    'meta', '{"addClass": "action", "action": true}'::jsonb, 'time', (extract(epoch FROM now()) * 1000)::bigint),
    '{chat,user-message,action}', 'alice')]);
SELECT is(pg_temp.take(), '{}'::text[], 'a /me action that starts with the prefix is not a command');
SELECT daz.ingest(ARRAY[pg_temp.ev('chatMsg', jsonb_build_object('username', 'bob', 'msg', '!8ball am I muted?',
    'meta', '{"shadow": true}'::jsonb, 'time', (extract(epoch FROM now()) * 1000)::bigint),
    '{chat,user-message}', 'bob')]);
SELECT is(pg_temp.take(), '{}'::text[],
          'a shadow-muted user''s line (seen only by moderators) is not answered: the room must not learn of it');
SELECT is(pg_temp.say('alice', 'ping !ping'), '{}'::text[], 'a line not starting with the prefix is chat');
SELECT is(pg_temp.say('alice', '!echo ' || repeat('x', 507)), '{}'::text[], 'a command line over 512 characters is ignored');
SELECT is((SELECT outcome FROM daz.command_log ORDER BY id DESC LIMIT 1), 'too_long', '... and logged as too_long');
SELECT ok((pg_temp.say('alice', '!echo ' || repeat('x', 506)))[1] LIKE 'chat:["' || repeat('x', 300) || '%',
          'a command line of exactly 512 characters runs');
SELECT pg_temp.chat('alice', '!ping', 'lobby', '{}', now() - interval '10 minutes');
SELECT is(pg_temp.take(), '{}'::text[], 'a line received 10 minutes ago (a backlog) is not answered');
SELECT is((SELECT outcome FROM daz.command_log ORDER BY id DESC LIMIT 1), 'stale', '... and logged as stale');
SELECT is(pg_temp.say('alice', '!nosuchcommand'), '{}'::text[], 'an unknown command gets no reply');
SELECT is((SELECT ARRAY[invoked, coalesce(command, 'NULL'), outcome] FROM daz.command_log ORDER BY id DESC LIMIT 1),
          ARRAY['nosuchcommand', 'NULL', 'unknown'], '... and is logged as unknown');
UPDATE daz.commands SET enabled = false WHERE name = 'echo';
SELECT is(pg_temp.say('alice', '!echo x'), '{}'::text[], 'a disabled command is ignored');
UPDATE daz.commands SET enabled = true, rooms = '{annex}' WHERE name = 'echo';
SELECT is(pg_temp.say('alice', '!echo x'), '{}'::text[], 'a command limited to other rooms is ignored here');
SELECT is(pg_temp.say('alice', '!echo x', 'annex'), ARRAY['chat:["x"] rest=x via=chat rank=1 admin=false'], '... and works in its room');
UPDATE daz.commands SET rooms = NULL WHERE name = 'echo';

-- ---------------------------------------------------------------- rank, admin
SELECT is(pg_temp.say('bob', '!greeter on'), ARRAY['pm:bob:!greeter needs rank 2 (moderator) or higher; yours is 0 (guest).'],
          'rank refusal: a guest may not use a moderator command, told by pm');
SELECT is(pg_temp.say('bob', '!greeter on'), '{}'::text[], 'the same refusal is not repeated within the cooldown');
SELECT is(pg_temp.say('mod', '!greeter on'), ARRAY['chat:Greeter is now on in this room.'], 'a moderator (rank 2 from the userlist) may');
SELECT daz.ingest(ARRAY[pg_temp.ev('setUserRank', '{"name": "mod", "rank": 1}', '{user,presence}', 'mod')]);
UPDATE daz.command_cooldowns SET used_at = used_at - interval '1 hour', refused_until = NULL;
SELECT is(pg_temp.say('mod', '!greeter off'), ARRAY['pm:mod:!greeter needs rank 2 (moderator) or higher; yours is 1 (registered).'],
          'rank is read from daz.users at each command: demoted by setUserRank, refused');
SELECT is(pg_temp.say('alice', '!playlistdelete 3'), ARRAY['pm:alice:!playlistdelete is for bot admins only.'],
          'admin refusal by pm');
SELECT is(pg_temp.say('boss', '!playlistdelete 3'), ARRAY['emit:delete 3', 'chat:Deleting #3 (not in my copy of the playlist).'],
          'a bot admin may');
SELECT is(pg_temp.say('boss', '!echo x'), ARRAY['chat:["x"] rest=x via=chat rank=3 admin=true'], 'the context says rank 3, admin');
SELECT pg_temp.leave('boss');
SELECT pg_temp.join('boss', 0);
SELECT is(pg_temp.say('boss', '!playlistdelete 3'), ARRAY['pm:boss:!playlistdelete is for bot admins only.'],
          'an admin name used by a guest (rank 0) is not an admin');

-- ---------------------------------------------------------------- cooldowns
SELECT is(pg_temp.say('alice', '!about')::text LIKE '{"chat:Daz %', true, 'first !about answered');
SELECT is(pg_temp.say('alice', '!about'), ARRAY['pm:alice:!about: please wait 5s.'], 'a second within the cooldown is refused by pm');
SELECT is(pg_temp.say('alice', '!version'), '{}'::text[], 'a third (by alias) is refused silently: one refusal per cooldown');
SELECT is((SELECT array_agg(outcome ORDER BY id) FROM (SELECT id, outcome FROM daz.command_log WHERE username = 'alice' AND command = 'about') l),
          ARRAY['ok', 'cooldown', 'cooldown'], 'all three attempts are logged');
SELECT is(pg_temp.say('bob', '!about')::text LIKE '{"chat:Daz %', true, 'cooldowns are per user');
SELECT is(cardinality(pg_temp.say('bob', '!help')), 1, '!help answered');
UPDATE daz.command_cooldowns SET used_at = used_at - interval '2 seconds' WHERE username = 'bob' AND command = 'help';
SELECT is(pg_temp.say('bob', '!help ping'), ARRAY['chat:!ping — Answers pong, with how long the bot took. (cooldown 5s)'],
          '!help <command> two seconds later is answered too (help''s cooldown is 1 second)');
UPDATE daz.command_cooldowns SET used_at = used_at - interval '6 seconds' WHERE username = 'alice' AND command = 'about';
SELECT is(pg_temp.say('alice', '!about')::text LIKE '{"chat:Daz %', true, 'after the cooldown it runs again');
SELECT pg_temp.leave('boss');
SELECT pg_temp.join('boss', 3);
SELECT is(cardinality(pg_temp.say('boss', '!about') || pg_temp.say('boss', '!about')), 4,
          'bot admins are exempt from cooldowns (two answers of two lines each)');

-- ---------------------------------------------------------------- errors
SELECT is(pg_temp.say('alice', '!boom'), ARRAY['chat:!boom failed: division by zero'],
          'a raising handler: short error reply');
SELECT is((SELECT ARRAY[outcome, error] FROM daz.command_log ORDER BY id DESC LIMIT 1),
          ARRAY['error', '22012: division by zero'], '... logged with SQLSTATE and message');
SELECT is((SELECT count(*)::int FROM daz.tells WHERE message = 'side effect'), 0, '... its side effects rolled back');
SELECT is((SELECT count(*)::int FROM daz.jobs WHERE kind = 'commands') + (SELECT count(*)::int FROM daz.dead_letters WHERE kind = 'commands'),
          0, '... and the job completed: nothing to retry, nothing dead');
SELECT is(pg_temp.say('alice', '!remind soon stretch'), ARRAY['chat:!remind: bad duration "soon" (try 90s, 10m, 1h30m)'],
          'a user error (SQLSTATE 22023) is answered with its message');

-- ---------------------------------------------------------------- settings
UPDATE daz.settings SET value = 'pm' WHERE key = 'reply_mode';
SELECT is(pg_temp.say('alice', '!echo q'), ARRAY['pm:alice:["q"] rest=q via=chat rank=1 admin=false'], 'reply_mode pm answers chat commands by pm');
UPDATE daz.settings SET value = 'auto' WHERE key = 'reply_mode';
UPDATE daz.settings SET value = '?' WHERE key = 'command_prefix';
SELECT is(pg_temp.say('alice', '?echo q'), ARRAY['chat:["q"] rest=q via=chat rank=1 admin=false'], 'the prefix is a setting');
UPDATE daz.settings SET value = '!' WHERE key = 'command_prefix';

SELECT is((SELECT ARRAY[ok_24h, errors_24h, refused_24h]::int[] FROM daz.command_overview WHERE name = 'about'), ARRAY[5, 0, 2],
          'daz.command_overview counts uses, errors and refusals of the last 24 hours');
SELECT is((SELECT last_error FROM daz.command_overview WHERE name = 'boom'), '22012: division by zero', '... and shows the last error');

-- ---------------------------------------------------------------- long !help
INSERT INTO daz.commands (name, handler, description)
SELECT 'extracommand' || i, 'daz.cmd_ping(jsonb)', 'test' FROM generate_series(10, 49) i;
SELECT pg_temp.leave('boss');
SELECT pg_temp.join('boss', 3);
SELECT pg_temp.chat('boss', '!help');
SELECT daz.run_jobs('test', 100);
SELECT ok((SELECT count(*) > 1 AND bool_and(length(j.payload->>'text') <= 320)
                   AND bool_and(j.payload->>'text' ~ ('^Commands \(\d/' || n.n || '\): !'))
             FROM daz.jobs j, (SELECT count(*) AS n FROM daz.jobs WHERE queue = 'cytube') n
            WHERE j.queue = 'cytube'),
          '!help with many commands: numbered lines "Commands (i/n): ...", none over 320 characters');
SELECT is((SELECT count(*)::int FROM daz.commands c
            WHERE (SELECT string_agg(j.payload->>'text', ' ') FROM daz.jobs j WHERE j.queue = 'cytube')
                  ~ ('(^| )!' || c.name || '( |$)')),
          (SELECT count(*)::int FROM daz.commands),
          '... which together name every command');
DELETE FROM daz.jobs WHERE queue = 'cytube';

-- ---------------------------------------------------------------- the commands table
SELECT throws_ok($$INSERT INTO daz.commands (name, aliases, handler) VALUES ('other', '{E}', 'daz.cmd_ping(jsonb)')$$,
                 '23505', NULL, 'an alias already used by another command is refused');
SELECT throws_ok($$INSERT INTO daz.commands (name, handler) VALUES ('bad', 'daz.cmd_dispatch(daz.jobs)')$$,
                 '22023', NULL, 'a handler that is not (jsonb) RETURNS text is refused');

SELECT * FROM finish();
ROLLBACK;

-- 50_bot_prune.sql — daz.bot_prune keeps the bot's tables small and is scheduled by pg_cron.
BEGIN;
SELECT plan(6);

INSERT INTO daz.command_log (at, room, username, via, invoked, outcome) VALUES
    (now() - interval '91 days', 'lobby', 'old', 'chat', 'ping', 'ok'),
    (now() - interval '1 day', 'lobby', 'new', 'chat', 'ping', 'ok');
INSERT INTO daz.tells (room, sender, recipient, message, via, created_at, expires_at, delivered_at) VALUES
    ('lobby', 'a', 'b', 'delivered long ago', 'chat', now() - interval '40 days', now() - interval '33 days', now() - interval '39 days'),
    ('lobby', 'a', 'c', 'expired long ago', 'chat', now() - interval '40 days', now() - interval '33 days', NULL),
    ('lobby', 'a', 'd', 'pending', 'chat', now(), now() + interval '7 days', NULL);
INSERT INTO daz.greetings VALUES ('lobby', 'old', now() - interval '3 days'), ('lobby', 'new', now());
INSERT INTO daz.command_cooldowns VALUES ('lobby', 'old', 'ping', now() - interval '2 days', NULL),
                                         ('lobby', 'new', 'ping', now(), NULL);

SELECT is(daz.bot_prune(),
          '{"command_log": 1, "tells": 2, "greetings": 1, "cooldowns": 1, "playlist_requests": 0}'::jsonb,
          'daz.bot_prune deletes what can no longer matter and says how much');
SELECT is((SELECT array_agg(username) FROM daz.command_log), '{new}'::text[], 'command_log keeps the last 90 days');
SELECT is((SELECT array_agg(message) FROM daz.tells), '{pending}'::text[], 'pending tells stay');
SELECT is((SELECT array_agg(username) FROM daz.greetings), '{new}'::text[], 'recent greetings stay (24-hour rule)');
SELECT is((SELECT array_agg(username) FROM daz.command_cooldowns), '{new}'::text[], 'live cooldowns stay');
SELECT is((SELECT schedule FROM cron.job WHERE jobname = 'daz-bot-prune'), '29 * * * *', 'pg_cron runs it hourly');

SELECT * FROM finish();
ROLLBACK;

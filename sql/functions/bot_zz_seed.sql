-- bot_zz_seed.sql — the built-in commands and the bot's subscriptions (after their handlers exist; re-run safely).
--
-- ON CONFLICT DO NOTHING: a DBA's changes to these rows (cooldowns, ranks, enabled) survive every
-- migrate. A deleted built-in command comes back on the next migrate; to remove one for good,
-- disable it (UPDATE daz.commands SET enabled = false WHERE name = ...).

INSERT INTO daz.commands (name, aliases, handler, min_rank, admin_only, cooldown, description, usage) VALUES
    ('help', '{h,commands}', 'daz.cmd_help(jsonb)', 0, false, '1 second',
     'Lists the commands you may use here, or describes one.', '[command]'),
    ('about', '{version,info}', 'daz.cmd_about(jsonb)', 0, false, NULL,
     'What this bot is: version, rooms, time here (queue depths for bot admins).', NULL),
    ('uptime', '{up}', 'daz.cmd_uptime(jsonb)', 0, false, NULL,
     'How long the bot has been connected to this room.', NULL),
    ('ping', '{}', 'daz.cmd_ping(jsonb)', 0, false, NULL,
     'Answers pong, with how long the bot took.', NULL),
    ('seen', '{lastseen}', 'daz.cmd_seen(jsonb)', 0, false, NULL,
     'Whether a user is here, else when they were last seen and what they last said.', '<user>'),
    ('tell', '{}', 'daz.cmd_tell(jsonb)', 0, false, '10 seconds',
     'Leaves a message for a user who is not here; delivered when they next join (by pm if you sent it by pm). Kept 7 days.',
     '<user> <message>'),
    ('remind', '{reminder}', 'daz.cmd_remind(jsonb)', 0, false, '10 seconds',
     'Reminds you after a while (90s, 10m, 1h30m; at most 24h), the way you asked.', '<duration> <message>'),
    ('8ball', '{eightball}', 'daz.cmd_8ball(jsonb)', 0, false, NULL,
     'Asks the Magic 8-Ball.', '<question>'),
    ('coinflip', '{flip,coin}', 'daz.cmd_coinflip(jsonb)', 0, false, NULL,
     'Heads or tails.', NULL),
    ('rps', '{}', 'daz.cmd_rps(jsonb)', 0, false, NULL,
     'Rock, paper, scissors against the bot.', 'rock|paper|scissors'),
    ('random', '{roll,rand}', 'daz.cmd_random(jsonb)', 0, false, NULL,
     'A random number from 1 to N (default 100).', '[N]'),
    ('quote', '{}', 'daz.cmd_quote(jsonb)', 0, false, '10 seconds',
     'A random past chat line of this room (of that user).', '[user]'),
    ('np', '{nowplaying}', 'daz.cmd_np(jsonb)', 0, false, NULL,
     'What is playing now, elapsed and remaining time.', NULL),
    ('stats', '{}', 'daz.cmd_stats(jsonb)', 0, false, '30 seconds',
     'Most played media and top chatters of this room.', NULL),
    ('greeter', '{}', 'daz.cmd_greeter(jsonb)', 2, false, NULL,
     'Turns greetings of joining users on or off for this room (moderators).', 'on|off'),
    ('playlistadd', '{add}', 'daz.cmd_playlistadd(jsonb)', 0, true, '2 seconds',
     'Queues a link at the end of the playlist as a temporary item (bot admins).', '<url>'),
    ('playlistdelete', '{delete}', 'daz.cmd_playlistdelete(jsonb)', 0, true, '2 seconds',
     'Deletes a playlist item by its uid (bot admins).', '<uid>')
ON CONFLICT (name) DO NOTHING;

INSERT INTO daz.subscriptions (name, tags, types, queue, handler, priority, comment) VALUES
    ('tells', '{presence}', '{addUser}', 'bot', 'daz.bot_tell_deliver(daz.jobs)', 1,
     'A user joins: deliver their pending !tell messages (not on the userlist of a reconnect).'),
    ('greeter', '{presence}', '{addUser}', 'bot', 'daz.bot_greet_join(daz.jobs)', 0,
     'A user joins: schedule a greeting if the room''s greeter is on (daz.greeter).'),
    ('playlist_fail', '{media}', '{queueFail}', 'bot', 'daz.bot_queue_fail(daz.jobs)', 1,
     'CyTube refused a queue: tell the user whose !playlistadd it was.')
ON CONFLICT (name) DO NOTHING;

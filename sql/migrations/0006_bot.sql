-- 0006_bot.sql — chat commands and the bot's own state: commands, admins, cooldowns, log, tells, greeter.
--
-- The bot's behaviour is PL/pgSQL run as jobs on queue `bot`. A chat or pm line starting with the
-- command prefix is routed by the `commands` subscription (0004) to daz.cmd_dispatch, which
-- parses it, checks daz.commands and calls the command's handler. Handlers, the seeded command
-- rows and the bot's own subscriptions (tell delivery, greeter, queueFail reports) live in
-- sql/functions/bot_*.sql: the rows name their handlers as regprocedure, so they are inserted
-- after the functions exist (bot_zz_seed.sql, INSERT ... ON CONFLICT DO NOTHING).

-- ---------------------------------------------------------------- commands

CREATE TABLE daz.commands (
    name        text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,31}$'),
    aliases     text[] NOT NULL DEFAULT '{}',
    handler     regprocedure NOT NULL,
    min_rank    numeric NOT NULL DEFAULT 0,
    admin_only  boolean NOT NULL DEFAULT false,
    cooldown    interval CHECK (cooldown IS NULL OR cooldown >= interval '0'),
    enabled     boolean NOT NULL DEFAULT true,
    description text NOT NULL DEFAULT '',
    usage       text,
    rooms       text[],
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE daz.commands IS
    'Chat commands (the plugin system): one row per command, its handler daz.cmd_<name>(jsonb) RETURNS text, who may use it and how often. Add a command with one CREATE FUNCTION and one INSERT (docs/commands.md). Names and aliases are lower case and unique across both (checked by a trigger).';
COMMENT ON COLUMN daz.commands.name IS 'Command name as typed after the prefix, lower case ([a-z0-9_-], at most 32 chars).';
COMMENT ON COLUMN daz.commands.aliases IS 'Other names for the command (case-insensitive; stored lower case).';
COMMENT ON COLUMN daz.commands.handler IS 'Function called with the context: signature (jsonb) RETURNS text; the text (NULL = no reply) is the reply, one message per line.';
COMMENT ON COLUMN daz.commands.min_rank IS 'Lowest CyTube rank allowed: -1 anon, 0 guest, 1 registered, 1.5 leader, 2 moderator, 3 channel admin, 4 owner, 5 founder, 255 site admin. Bot admins pass any rank check.';
COMMENT ON COLUMN daz.commands.admin_only IS 'Only bot admins (daz.admins) may use it.';
COMMENT ON COLUMN daz.commands.cooldown IS 'Per user per room between two uses; NULL = setting default_cooldown. Bot admins are exempt.';
COMMENT ON COLUMN daz.commands.enabled IS 'A disabled command is ignored as if it did not exist (logged as disabled).';
COMMENT ON COLUMN daz.commands.description IS 'One line shown by !help <command>.';
COMMENT ON COLUMN daz.commands.usage IS 'Arguments as shown by !help, e.g. <user> <message>.';
COMMENT ON COLUMN daz.commands.rooms IS 'Rooms where the command exists; NULL = every room.';
COMMENT ON COLUMN daz.commands.updated_at IS 'Last change of the row (set by the guard trigger).';

CREATE TABLE daz.admins (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room     text,
    name     text NOT NULL CHECK (name ~ '^[A-Za-z0-9_-]{1,20}$'),
    comment  text,
    added_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX admins_room_name_idx ON daz.admins (coalesce(room, ''), lower(name));
COMMENT ON TABLE daz.admins IS
    'Bot admins: may use admin_only commands, pass rank checks and skip cooldowns. room NULL = every room. An admin must also be logged in with at least rank admin_min_rank (setting, default 1 = registered) so a guest cannot borrow an unregistered admin name.';
COMMENT ON COLUMN daz.admins.room IS 'Room the admin applies to; NULL = all rooms.';
COMMENT ON COLUMN daz.admins.name IS 'CyTube account name (compared case-insensitively).';
COMMENT ON COLUMN daz.admins.comment IS 'Why this person is an admin.';

CREATE TABLE daz.command_cooldowns (
    room          text NOT NULL,
    username      text NOT NULL,
    command       text NOT NULL,
    used_at       timestamptz,
    refused_until timestamptz,
    PRIMARY KEY (room, username, command)
);
COMMENT ON TABLE daz.command_cooldowns IS
    'Last use of each command per user (lower-cased name) per room, and until when a refusal for it is not repeated. A table, so cooldowns survive restarts.';
COMMENT ON COLUMN daz.command_cooldowns.used_at IS 'Last accepted use (start of the cooldown).';
COMMENT ON COLUMN daz.command_cooldowns.refused_until IS 'A refusal was sent by pm; further refusals stay silent until this time.';
COMMENT ON COLUMN daz.command_cooldowns.username IS 'User name, lower case.';
COMMENT ON COLUMN daz.command_cooldowns.command IS 'Command name (daz.commands.name).';

CREATE TABLE daz.command_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    room        text NOT NULL,
    username    text NOT NULL,
    rank        numeric,
    via         text NOT NULL CHECK (via IN ('chat', 'pm')),
    invoked     text NOT NULL,
    command     text,
    args        text[] NOT NULL DEFAULT '{}',
    outcome     text NOT NULL CHECK (outcome IN ('ok', 'error', 'unknown', 'disabled', 'rank',
                                                 'admin', 'cooldown', 'too_long', 'stale')),
    error       text,
    reply       text,
    duration_ms numeric,
    event_id    text
);
CREATE INDEX command_log_at_idx ON daz.command_log USING brin (at);
CREATE INDEX command_log_room_user_idx ON daz.command_log (room, lower(username), at DESC);
COMMENT ON TABLE daz.command_log IS
    'Every command attempt: who, where, what, when, outcome (ok, error, unknown, disabled, rank, admin, cooldown, too_long, stale), the error and the reply.';
COMMENT ON COLUMN daz.command_log.invoked IS 'The command word as typed (lower case), alias or name.';
COMMENT ON COLUMN daz.command_log.command IS 'The resolved command name, NULL when unknown.';
COMMENT ON COLUMN daz.command_log.outcome IS 'ok | error (handler raised) | unknown | disabled (or not in this room) | rank | admin | cooldown (refused) | too_long (over 512 chars) | stale (line older than command_max_age).';
COMMENT ON COLUMN daz.command_log.error IS 'Handler error (SQLSTATE and message) or the refusal reason.';
COMMENT ON COLUMN daz.command_log.event_id IS 'The event that carried the command; also the correlation_id of the reply jobs.';
COMMENT ON COLUMN daz.command_log.username IS 'Who typed it, as CyTube spells the name.';
COMMENT ON COLUMN daz.command_log.rank IS 'Their CyTube rank in the room at that moment (daz.users).';
COMMENT ON COLUMN daz.command_log.via IS 'chat or pm.';
COMMENT ON COLUMN daz.command_log.args IS 'Arguments after splitting (quotes and escapes resolved).';
COMMENT ON COLUMN daz.command_log.reply IS 'The reply text (ok) or the error reply (error).';
COMMENT ON COLUMN daz.command_log.duration_ms IS 'Time from the start of dispatch to the end of the handler.';

-- ---------------------------------------------------------------- tells, greeter, playlist requests

CREATE TABLE daz.tells (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room         text NOT NULL,
    sender       text NOT NULL,
    recipient    text NOT NULL,
    message      text NOT NULL CHECK (length(message) BETWEEN 1 AND 400),
    via          text NOT NULL CHECK (via IN ('chat', 'pm')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL DEFAULT now() + interval '7 days',
    delivered_at timestamptz,
    event_id     text
);
CREATE INDEX tells_pending_idx ON daz.tells (room, lower(recipient)) WHERE delivered_at IS NULL;
COMMENT ON TABLE daz.tells IS
    'Messages left with !tell for a user who is not online; delivered (by pm or chat, as sent) when the user next joins the room, unless expired.';
COMMENT ON COLUMN daz.tells.via IS 'How the tell was sent, and so how it is delivered: chat or pm.';
COMMENT ON COLUMN daz.tells.delivered_at IS 'When it was handed to the cytube queue; NULL while pending.';
COMMENT ON COLUMN daz.tells.sender IS 'Who left the message (the bot''s own name for a reminder that found nobody).';
COMMENT ON COLUMN daz.tells.recipient IS 'Who gets it (compared case-insensitively).';
COMMENT ON COLUMN daz.tells.expires_at IS 'Not delivered after this (setting tell_ttl after created_at).';
COMMENT ON COLUMN daz.tells.event_id IS 'The event of the !tell command.';

CREATE TABLE daz.greeter (
    room       text PRIMARY KEY,
    enabled    boolean NOT NULL DEFAULT false,
    message    text,
    set_by     text,
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE daz.greeter IS
    'Greeter switch per room (!greeter on|off). message NULL = setting greeter_message; {user} is replaced by the name.';
COMMENT ON COLUMN daz.greeter.message IS 'Greeting of this room; NULL = setting greeter_message. {user} is replaced by the name.';
COMMENT ON COLUMN daz.greeter.set_by IS 'Who last switched it with !greeter.';

CREATE TABLE daz.greetings (
    room       text NOT NULL,
    username   text NOT NULL,
    greeted_at timestamptz NOT NULL,
    PRIMARY KEY (room, username)
);
COMMENT ON TABLE daz.greetings IS
    'Last greeting per user (lower-cased name) per room: a user is greeted at most once per greeter_interval (default 24 hours).';
COMMENT ON COLUMN daz.greetings.greeted_at IS 'When the last greeting was scheduled.';

CREATE TABLE daz.playlist_requests (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room         text NOT NULL,
    username     text NOT NULL,
    via          text NOT NULL CHECK (via IN ('chat', 'pm')),
    media_type   text NOT NULL,
    media_id     text NOT NULL,
    link         text NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT now(),
    failed_at    timestamptz,
    error        text,
    event_id     text
);
CREATE INDEX playlist_requests_room_idx ON daz.playlist_requests (room, requested_at DESC);
COMMENT ON TABLE daz.playlist_requests IS
    '!playlistadd requests, so a later queueFail from CyTube can be reported to the user who asked.';
COMMENT ON COLUMN daz.playlist_requests.media_type IS 'CyTube media type inferred from the link (yt, vi, dm, ...).';
COMMENT ON COLUMN daz.playlist_requests.media_id IS 'Media id sent in the queue frame; queueFail names it.';
COMMENT ON COLUMN daz.playlist_requests.link IS 'The link as typed.';
COMMENT ON COLUMN daz.playlist_requests.failed_at IS 'When CyTube answered queueFail; NULL otherwise.';
COMMENT ON COLUMN daz.playlist_requests.error IS 'The queueFail message.';

-- ---------------------------------------------------------------- settings

INSERT INTO daz.settings (key, value, comment) VALUES
    ('command_max_length', '512', 'Command lines longer than this (characters) are ignored.'),
    ('command_max_age', '2 minutes', 'Command lines received longer ago than this are not answered (a backlog after an outage).'),
    ('admin_min_rank', '1', 'A daz.admins name counts as admin only when logged in with at least this rank (1 = registered).'),
    ('greeter_message', 'Welcome, {user}!', 'Default greeting; {user} is replaced by the name.'),
    ('greeter_interval', '24 hours', 'A user is greeted at most once per this interval per room.'),
    ('greeter_delay', '3 seconds', 'Greetings wait this long plus up to the same again at random.'),
    ('tell_ttl', '7 days', 'Undelivered !tell messages expire after this.'),
    ('remind_max', '24 hours', 'Longest !remind duration.'),
    ('command_log_retention', '90 days', 'daz.bot_prune deletes daz.command_log rows older than this.')
ON CONFLICT (key) DO NOTHING;

-- ---------------------------------------------------------------- privileges

REVOKE ALL ON daz.commands, daz.admins, daz.command_cooldowns, daz.command_log, daz.tells,
              daz.greeter, daz.greetings, daz.playlist_requests FROM PUBLIC;
GRANT SELECT ON daz.commands, daz.admins, daz.command_cooldowns, daz.command_log, daz.tells,
                daz.greeter, daz.greetings, daz.playlist_requests TO daz_operator;
GRANT INSERT, UPDATE, DELETE ON daz.commands, daz.admins, daz.greeter, daz.command_cooldowns,
                                daz.tells TO daz_operator;
GRANT SELECT ON daz.command_log, daz.commands TO daz_reader;

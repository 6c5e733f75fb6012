-- 0004_subscriptions.sql — tag-based routing: subscriptions turn stored events into jobs; seeded subscription commands.
--
-- Matching happens inside daz.ingest (sql/functions/events_ingest.sql). Helpers daz.subscribe /
-- daz.unsubscribe are in sql/functions/subs_subscribe.sql.

-- Validation of a subscription row; created here because the trigger below needs it now, kept
-- up to date by sql/functions/subs_check.sql.
CREATE FUNCTION daz.subs_check() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, daz, pg_temp
AS $$
BEGIN
    RETURN NEW;
END;
$$;

-- Placeholder until the bot's command dispatcher is installed (sql/functions/bot_dispatch.sql replaces it).
CREATE FUNCTION daz.cmd_dispatch(p_job daz.jobs) RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, daz, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = '0A000', MESSAGE = 'daz.cmd_dispatch: commands are not installed';
END;
$$;
COMMENT ON FUNCTION daz.cmd_dispatch(daz.jobs) IS
    'Handler of subscription commands: runs the chat command in the routed event. Placeholder that raises until the bot '
    'commands are installed.';
REVOKE ALL ON FUNCTION daz.cmd_dispatch(daz.jobs) FROM PUBLIC;

CREATE TABLE daz.subscriptions (
    name         text         PRIMARY KEY
                 CONSTRAINT subscriptions_name_check CHECK (length(name) BETWEEN 1 AND 128 AND name !~ '[[:cntrl:]]'),
    tags         text[]       NOT NULL DEFAULT '{}',
    exclude_tags text[]       NOT NULL DEFAULT '{history,bot}',
    types        text[]       NULL,
    rooms        text[]       NULL,
    queue        text         NOT NULL DEFAULT 'bot' REFERENCES daz.queues (name) ON UPDATE CASCADE,
    handler      regprocedure NULL,
    priority     smallint     NOT NULL DEFAULT 0
                 CONSTRAINT subscriptions_priority_check CHECK (priority BETWEEN 0 AND 3),
    enabled      boolean      NOT NULL DEFAULT true,
    comment      text,
    created_at   timestamptz  NOT NULL DEFAULT now(),
    updated_at   timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT subscriptions_match_check CHECK (cardinality(tags) > 0 OR types IS NOT NULL),
    CONSTRAINT subscriptions_arrays_check CHECK (array_position(tags, NULL) IS NULL
                                                 AND array_position(exclude_tags, NULL) IS NULL)
);
COMMENT ON TABLE daz.subscriptions IS
    'Routing rules: during daz.ingest every stored event that has all tags, none of exclude_tags, a type in types '
    '(NULL: any) and a room in rooms (NULL: any) becomes one job on queue with kind = name, payload = the event '
    '{id, received_at, room, type, tags, actor, server_time, payload}, correlation_id = event id, handler = handler. '
    'Changes apply from the next batch. Manage with daz.subscribe / daz.unsubscribe or plain SQL.';
COMMENT ON COLUMN daz.subscriptions.name IS 'Subscription name, also the kind of the jobs it makes.';
COMMENT ON COLUMN daz.subscriptions.tags IS 'Tags that must all be present (events.tags @> tags).';
COMMENT ON COLUMN daz.subscriptions.exclude_tags IS 'Tags none of which may be present (default: history and the bot''s own lines).';
COMMENT ON COLUMN daz.subscriptions.types IS 'Event types to match (NULL: any type).';
COMMENT ON COLUMN daz.subscriptions.rooms IS 'Rooms to match (NULL: any room).';
COMMENT ON COLUMN daz.subscriptions.queue IS 'Queue the jobs go to (default bot, run in the database by daz.run_jobs).';
COMMENT ON COLUMN daz.subscriptions.handler IS
    'Function handler(daz.jobs) RETURNS jsonb that daz.run_jobs calls for the jobs; NULL: the queue''s handler.';
COMMENT ON COLUMN daz.subscriptions.priority IS 'Priority of the jobs: 0 normal, 1 high, 2 urgent, 3 critical.';
COMMENT ON COLUMN daz.subscriptions.enabled IS 'false: routes nothing.';

CREATE TRIGGER subscriptions_check
    BEFORE INSERT OR UPDATE ON daz.subscriptions
    FOR EACH ROW EXECUTE FUNCTION daz.subs_check();
COMMENT ON TRIGGER subscriptions_check ON daz.subscriptions IS
    'Refuses a handler that is not handler(daz.jobs) RETURNS jsonb, or no handler on a queue without one; stamps updated_at.';

INSERT INTO daz.subscriptions (name, tags, types, queue, handler, priority, comment)
VALUES ('commands', '{command}', '{chatMsg,pm}', 'bot', 'daz.cmd_dispatch(daz.jobs)'::regprocedure, 1,
        'Chat and PM lines starting with the command prefix (not history, not the bot''s own) run as bot commands.');

REVOKE ALL ON daz.subscriptions FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON daz.subscriptions TO daz_operator;

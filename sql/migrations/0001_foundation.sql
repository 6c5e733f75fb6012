-- 0001_foundation.sql — schema daz, the three group roles, settings, pg_cron where it belongs.

CREATE SCHEMA IF NOT EXISTS daz;
COMMENT ON SCHEMA daz IS 'Daz, a CyTube chat bot whose brain is PostgreSQL: events, queues, rooms and chat commands.';

-- Group roles (NOLOGIN). Login roles are granted membership by the DBA, e.g.
--   CREATE ROLE dazd LOGIN PASSWORD '...' IN ROLE daz_daemon;
DO $$
DECLARE
    v_role text;
BEGIN
    FOREACH v_role IN ARRAY ARRAY['daz_daemon', 'daz_operator', 'daz_reader'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = v_role) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', v_role);
        END IF;
    END LOOP;
END
$$;
COMMENT ON ROLE daz_daemon IS 'dazd: ingest events, claim/complete/fail cytube jobs, room leases and heartbeats; nothing else.';
COMMENT ON ROLE daz_operator IS 'Operators: enqueue, say, pm, retry, cancel, pause and resume; read everything.';
COMMENT ON ROLE daz_reader IS 'Dashboards: read the views.';

REVOKE ALL ON SCHEMA daz FROM PUBLIC;
GRANT USAGE ON SCHEMA daz TO daz_daemon, daz_operator, daz_reader;

-- Settings a DBA may change at run time.
CREATE TABLE daz.settings (
    key     text PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_]{0,62}$'),
    value   text NOT NULL,
    comment text
);
COMMENT ON TABLE daz.settings IS 'Bot settings changeable at run time (UPDATE daz.settings SET value = ... WHERE key = ...).';

INSERT INTO daz.settings (key, value, comment) VALUES
    ('command_prefix', '!', 'Chat lines starting with this are commands.'),
    ('default_cooldown', '5 seconds', 'Per-user cooldown of a command that sets none.'),
    ('reply_mode', 'auto', 'auto: reply the way the command came (chat or pm); chat; pm.');

GRANT SELECT ON daz.settings TO daz_daemon, daz_operator, daz_reader;
GRANT INSERT, UPDATE, DELETE ON daz.settings TO daz_operator;

CREATE FUNCTION daz.setting(p_key text, p_default text DEFAULT NULL)
RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT coalesce((SELECT s.value FROM daz.settings s WHERE s.key = p_key), p_default)
$$;
COMMENT ON FUNCTION daz.setting(text, text) IS 'The value of a daz.settings key, or p_default when the key is absent.';
GRANT EXECUTE ON FUNCTION daz.setting(text, text) TO daz_daemon, daz_operator, daz_reader;

-- pg_cron can only be created in the database named by cron.database_name; elsewhere the
-- schedules are simply not installed (each later migration checks for the cron schema).
DO $$
BEGIN
    IF current_database() = current_setting('cron.database_name', true)
       AND EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_cron') THEN
        CREATE EXTENSION IF NOT EXISTS pg_cron;
    END IF;
END
$$;

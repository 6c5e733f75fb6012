-- bot_dispatch.sql — daz.cmd_dispatch: handler of subscription commands (placeholder until the bot commands exist).

CREATE OR REPLACE FUNCTION daz.cmd_dispatch(p_job daz.jobs) RETURNS jsonb
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

-- bot_prune.sql — daz.bot_prune: keeps the bot's own tables small (command log, tells, greetings, cooldowns, playlist requests).

CREATE OR REPLACE FUNCTION daz.bot_prune(p_batch integer DEFAULT 10000)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, daz, pg_temp
AS $$
DECLARE
    v_keep    interval := daz.setting('command_log_retention', '90 days')::interval;
    v_log     bigint;
    v_tells   bigint;
    v_greet   bigint;
    v_cool    bigint;
    v_req     bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('daz.bot_prune')) THEN
        RETURN jsonb_build_object('skipped', 'another daz.bot_prune is running');
    END IF;
    DELETE FROM daz.command_log WHERE id IN (
        SELECT id FROM daz.command_log WHERE at < now() - v_keep ORDER BY id LIMIT p_batch);
    GET DIAGNOSTICS v_log = ROW_COUNT;
    DELETE FROM daz.tells WHERE id IN (
        SELECT id FROM daz.tells
         WHERE (delivered_at IS NOT NULL AND delivered_at < now() - interval '30 days')
            OR expires_at < now() - interval '30 days'
         LIMIT p_batch);
    GET DIAGNOSTICS v_tells = ROW_COUNT;
    DELETE FROM daz.greetings
     WHERE greeted_at < now() - daz.setting('greeter_interval', '24 hours')::interval - interval '1 day';
    GET DIAGNOSTICS v_greet = ROW_COUNT;
    DELETE FROM daz.command_cooldowns
     WHERE coalesce(used_at, '-infinity') < now() - interval '1 day'
       AND coalesce(refused_until, '-infinity') < now() - interval '1 day';
    GET DIAGNOSTICS v_cool = ROW_COUNT;
    DELETE FROM daz.playlist_requests WHERE requested_at < now() - interval '7 days';
    GET DIAGNOSTICS v_req = ROW_COUNT;
    RETURN jsonb_build_object('command_log', v_log, 'tells', v_tells, 'greetings', v_greet,
                              'cooldowns', v_cool, 'playlist_requests', v_req);
END
$$;
COMMENT ON FUNCTION daz.bot_prune(integer) IS
    'Deletes command_log rows older than setting command_log_retention (90 days, at most p_batch per call), tells delivered or expired over 30 days ago, greetings and cooldowns that can no longer matter, playlist requests over 7 days old. Returns the counts. pg_cron runs it hourly (job daz-bot-prune).';
REVOKE ALL ON FUNCTION daz.bot_prune(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION daz.bot_prune(integer) TO daz_operator;

-- Re-applied with every migrate; cron.schedule with a job name replaces that job.
DO $do$
BEGIN
    IF to_regnamespace('cron') IS NOT NULL THEN
        EXECUTE 'SELECT cron.schedule($1, $2, $3)'
            USING 'daz-bot-prune', '29 * * * *', 'SELECT daz.bot_prune()';
    END IF;
END
$do$;

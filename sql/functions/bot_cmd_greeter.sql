-- bot_cmd_greeter.sql — !greeter on|off and the greeting of real joins (subscription greeter on addUser).

CREATE OR REPLACE FUNCTION daz.cmd_greeter(p_ctx jsonb)
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_room text := p_ctx->>'room';
    v_arg  text := lower(p_ctx->'args'->>0);
    v_on   boolean;
BEGIN
    IF v_arg IN ('on', 'off') THEN
        INSERT INTO daz.greeter AS g (room, enabled, set_by)
        VALUES (v_room, v_arg = 'on', p_ctx->>'user')
        ON CONFLICT (room) DO UPDATE SET enabled = EXCLUDED.enabled, set_by = EXCLUDED.set_by, updated_at = now();
        RETURN format('Greeter is now %s in this room.', v_arg);
    ELSIF v_arg IS NOT NULL AND v_arg <> 'status' THEN
        RETURN format('Usage: %sgreeter on|off', p_ctx->>'prefix');
    END IF;
    SELECT g.enabled INTO v_on FROM daz.greeter g WHERE g.room = v_room;
    RETURN format('Greeter is %s in this room.', CASE WHEN coalesce(v_on, false) THEN 'on' ELSE 'off' END);
END
$$;
COMMENT ON FUNCTION daz.cmd_greeter(jsonb) IS '!greeter on|off: switches greetings of joining users for this room (daz.greeter); without argument tells whether it is on.';

-- Subscription greeter (addUser). Only live joins: not the userlist of a (re)connect (a different
-- event), not the bot itself, not a join replayed long after, at most once per user per
-- greeter_interval. The greeting itself is a delayed job, so it waits a moment like a person.
CREATE OR REPLACE FUNCTION daz.bot_greet_join(p_job daz.jobs)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, daz, pg_temp
AS $$
DECLARE
    v_room  text := p_job.payload->>'room';
    v_name  text := daz.bot_joined_user(p_job);
    v_delay interval := daz.setting('greeter_delay', '3 seconds')::interval;
    v_ok    boolean;
BEGIN
    IF v_name IS NULL THEN
        RETURN jsonb_build_object('greeting', false, 'why', 'not a join of another user');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM daz.greeter g WHERE g.room = v_room AND g.enabled) THEN
        RETURN jsonb_build_object('greeting', false, 'why', 'greeter off');
    END IF;
    IF (p_job.payload->>'received_at')::timestamptz < now() - interval '2 minutes' THEN
        RETURN jsonb_build_object('greeting', false, 'why', 'stale join');
    END IF;
    INSERT INTO daz.greetings AS g (room, username, greeted_at)
    VALUES (v_room, lower(v_name), now())
    ON CONFLICT (room, username) DO UPDATE SET greeted_at = EXCLUDED.greeted_at
        WHERE g.greeted_at <= now() - daz.setting('greeter_interval', '24 hours')::interval
    RETURNING true INTO v_ok;
    IF NOT coalesce(v_ok, false) THEN
        RETURN jsonb_build_object('greeting', false, 'why', 'greeted recently');
    END IF;
    PERFORM daz.enqueue('bot', 'greet', jsonb_build_object('room', v_room, 'user', v_name), v_room, 0,
                        now() + v_delay + v_delay * random(), 'greet:' || v_room || ':' || lower(v_name),
                        p_job.correlation_id, 'daz.bot_greet_fire(daz.jobs)'::regprocedure);
    RETURN jsonb_build_object('greeting', true);
END
$$;
COMMENT ON FUNCTION daz.bot_greet_join(daz.jobs) IS
    'Handler of subscription greeter (addUser): when the room''s greeter is on, schedules a greet job (after greeter_delay plus up to as much again at random) for a live join of another user not greeted within greeter_interval.';

CREATE OR REPLACE FUNCTION daz.bot_greet_fire(p_job daz.jobs)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, daz, pg_temp
AS $$
DECLARE
    v_room text := p_job.payload->>'room';
    v_user text := p_job.payload->>'user';
    v_msg  text;
BEGIN
    IF NOT daz.bot_user_online(v_room, v_user) THEN
        -- Left before the greeting: not greeted, so the next join may be.
        DELETE FROM daz.greetings WHERE room = v_room AND username = lower(v_user);
        RETURN jsonb_build_object('greeted', false, 'why', 'left');
    END IF;
    SELECT coalesce(g.message, daz.setting('greeter_message', 'Welcome, {user}!')) INTO v_msg
      FROM daz.greeter g WHERE g.room = v_room AND g.enabled;
    IF v_msg IS NULL THEN
        RETURN jsonb_build_object('greeted', false, 'why', 'greeter off');
    END IF;
    PERFORM daz.bot_reply(v_room, 'chat', v_user, replace(v_msg, '{user}', v_user), p_job.correlation_id, now(), true);
    RETURN jsonb_build_object('greeted', true);
END
$$;
COMMENT ON FUNCTION daz.bot_greet_fire(daz.jobs) IS
    'Handler of greet jobs: says the room''s greeting (daz.greeter.message or setting greeter_message, {user} replaced) if the user is still online and the greeter still on.';

REVOKE ALL ON FUNCTION daz.cmd_greeter(jsonb), daz.bot_greet_join(daz.jobs), daz.bot_greet_fire(daz.jobs) FROM PUBLIC;

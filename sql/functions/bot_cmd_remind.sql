-- bot_cmd_remind.sql — !remind: a delayed job on queue bot (survives restarts), fired by daz.cmd_remind_fire.

CREATE OR REPLACE FUNCTION daz.cmd_remind(p_ctx jsonb)
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_room    text := p_ctx->>'room';
    v_user    text := p_ctx->>'user';
    v_arg     text := p_ctx->'args'->>0;
    v_msg     text := btrim(substring(coalesce(p_ctx->>'rest', '') FROM '^\S+\s+(.*)$'));
    v_max     interval := daz.setting('remind_max', '24 hours')::interval;
    v_in      interval;
    v_pending integer;
BEGIN
    IF v_arg IS NULL OR coalesce(v_msg, '') = '' THEN
        RETURN format('Usage: %sremind <duration> <message>, e.g. %sremind 1h30m stretch', p_ctx->>'prefix', p_ctx->>'prefix');
    END IF;
    v_in := daz.bot_duration(v_arg);   -- raises 22023 "bad duration ..." for the user
    IF v_in < interval '1 second' OR v_in > v_max THEN
        -- in hours up to two days, as people type it ("24h", not "1d")
        RETURN format('A reminder can be from 1s to %s away.',
                      CASE WHEN v_max <= interval '48 hours' AND extract(epoch FROM v_max)::bigint % 3600 = 0
                           THEN (extract(epoch FROM v_max)::bigint / 3600) || 'h'
                           ELSE daz.bot_format_interval(v_max) END);
    END IF;
    IF length(v_msg) > 300 THEN
        RETURN format('That reminder is %s characters; the limit is 300.', length(v_msg));
    END IF;
    SELECT count(*) INTO v_pending FROM daz.jobs j
     WHERE j.queue = 'bot' AND j.kind = 'remind' AND j.room = v_room AND lower(j.payload->>'user') = lower(v_user);
    IF v_pending >= 5 THEN
        RETURN 'You have 5 reminders pending already.';
    END IF;
    PERFORM daz.enqueue('bot', 'remind',
        jsonb_build_object('room', v_room, 'user', v_user, 'text', v_msg, 'via', p_ctx->>'via', 'set_at', now()),
        v_room, 0, now() + v_in, NULL, p_ctx->>'event_id', 'daz.cmd_remind_fire(daz.jobs)'::regprocedure);
    RETURN format('%s: I will remind you in %s (%s UTC).', v_user, daz.bot_format_interval(v_in),
                  to_char((now() + v_in) AT TIME ZONE 'UTC', 'HH24:MI:SS'));
END
$$;
COMMENT ON FUNCTION daz.cmd_remind(jsonb) IS
    '!remind <duration> <message>: enqueues a job kind remind on queue bot at run_at = now() + duration (90s, 10m, 1h30m; at most remind_max = 24 hours), handler daz.cmd_remind_fire. A job, so it survives restarts. At most 5 pending per user and room.';

CREATE OR REPLACE FUNCTION daz.cmd_remind_fire(p_job daz.jobs)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, daz, pg_temp
AS $$
DECLARE
    v_p    jsonb := p_job.payload;
    v_room text := v_p->>'room';
    v_user text := v_p->>'user';
    v_ago  text := daz.bot_format_interval(now() - (v_p->>'set_at')::timestamptz);
BEGIN
    IF daz.bot_user_online(v_room, v_user) THEN
        PERFORM daz.bot_reply(v_room, coalesce(v_p->>'via', 'chat'), v_user,
                              format('%s, reminder: %s (set %s ago)', v_user, v_p->>'text', v_ago),
                              p_job.correlation_id, now(), true);
        RETURN jsonb_build_object('reminded', v_user, 'how', 'now');
    END IF;
    -- Not here: it waits as a tell for the next join.
    INSERT INTO daz.tells (room, sender, recipient, message, via, event_id)
    VALUES (v_room, coalesce(daz.bot_name(v_room), 'reminder'), v_user,
            left(format('reminder: %s (set %s ago)', v_p->>'text', v_ago), 400),
            coalesce(v_p->>'via', 'chat'), p_job.correlation_id);
    RETURN jsonb_build_object('reminded', v_user, 'how', 'tell');
END
$$;
COMMENT ON FUNCTION daz.cmd_remind_fire(daz.jobs) IS
    'Handler of remind jobs (queue bot): reminds the user the way the reminder was set (chat or pm); if the user is not online the reminder becomes a tell delivered on their next join.';

REVOKE ALL ON FUNCTION daz.cmd_remind(jsonb), daz.cmd_remind_fire(daz.jobs) FROM PUBLIC;

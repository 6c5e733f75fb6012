-- bot_cmd_tell.sql — !tell and its delivery when the recipient next joins (subscription tells on addUser).

CREATE OR REPLACE FUNCTION daz.cmd_tell(p_ctx jsonb)
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_room    text := p_ctx->>'room';
    v_user    text := p_ctx->>'user';
    v_to      text := ltrim(p_ctx->'args'->>0, '@');
    v_msg     text := btrim(substring(coalesce(p_ctx->>'rest', '') FROM '^\S+\s+(.*)$'));
    v_ttl     interval := daz.setting('tell_ttl', '7 days')::interval;
    v_pending integer;
BEGIN
    IF v_to IS NULL OR coalesce(v_msg, '') = '' THEN
        RETURN format('Usage: %stell <user> <message>', p_ctx->>'prefix');
    END IF;
    IF v_to !~ '^[A-Za-z0-9_-]{1,20}$' THEN
        RETURN format('"%s" is not a CyTube user name.', left(v_to, 24));
    END IF;
    IF lower(v_to) = lower(v_user) THEN
        RETURN 'You can tell yourself that.';
    END IF;
    IF lower(v_to) = lower(p_ctx->>'bot') THEN
        RETURN 'I am listening already.';
    END IF;
    IF daz.bot_user_online(v_room, v_to) THEN
        RETURN format('%s is here right now — tell them yourself.', v_to);
    END IF;
    IF length(v_msg) > 400 THEN
        RETURN format('That message is %s characters; the limit is 400.', length(v_msg));
    END IF;
    SELECT count(*) INTO v_pending FROM daz.tells t
     WHERE t.room = v_room AND lower(t.sender) = lower(v_user) AND t.delivered_at IS NULL AND t.expires_at > now();
    IF v_pending >= 10 THEN
        RETURN 'You have 10 messages waiting for delivery already; wait until some are delivered.';
    END IF;
    INSERT INTO daz.tells (room, sender, recipient, message, via, expires_at, event_id)
    VALUES (v_room, v_user, v_to, v_msg, p_ctx->>'via', now() + v_ttl, p_ctx->>'event_id');
    RETURN format('I will tell %s when they next join (kept for %s).', v_to, daz.bot_format_interval(v_ttl));
END
$$;
COMMENT ON FUNCTION daz.cmd_tell(jsonb) IS
    '!tell <user> <message>: stores a message for a user who is not online, delivered by daz.bot_tell_deliver when they next join, by pm or chat as it was sent; refused if the user is online; expires after tell_ttl (7 days); at most 10 pending per sender and room.';

-- Subscription `tells` (addUser): a real join, never the userlist snapshot of a (re)connect.
CREATE OR REPLACE FUNCTION daz.bot_tell_deliver(p_job daz.jobs)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, daz, pg_temp
AS $$
DECLARE
    v_room text := p_job.payload->>'room';
    v_name text := daz.bot_joined_user(p_job);
    v_t    daz.tells;
    v_n    integer := 0;
BEGIN
    IF v_name IS NULL THEN
        RETURN jsonb_build_object('delivered', 0, 'skipped', 'not a join of another user');
    END IF;
    -- A join replayed long after the fact (spool after an outage) delivers only if the user is still here.
    IF NOT daz.bot_user_online(v_room, v_name) THEN
        RETURN jsonb_build_object('delivered', 0, 'skipped', 'user not online');
    END IF;
    FOR v_t IN
        SELECT t.* FROM daz.tells t
         WHERE t.room = v_room AND lower(t.recipient) = lower(v_name)
           AND t.delivered_at IS NULL AND t.expires_at > now()
         ORDER BY t.created_at, t.id
         LIMIT 10
           FOR UPDATE SKIP LOCKED
    LOOP
        PERFORM daz.bot_reply(v_room, v_t.via, v_name,
            CASE WHEN lower(v_t.sender) = lower(coalesce(daz.bot_name(v_room), ''))
                 THEN format('%s, %s', v_name, v_t.message)       -- a reminder that found nobody
                 ELSE format('%s, %s asked me to tell you (%s ago): %s', v_name, v_t.sender,
                             daz.bot_format_interval(now() - v_t.created_at), v_t.message) END,
            p_job.correlation_id, now(), true);
        UPDATE daz.tells SET delivered_at = now() WHERE id = v_t.id;
        v_n := v_n + 1;
    END LOOP;
    RETURN jsonb_build_object('delivered', v_n);
END
$$;
COMMENT ON FUNCTION daz.bot_tell_deliver(daz.jobs) IS
    'Handler of subscription tells (addUser): delivers the joining user''s pending, unexpired !tell messages (up to 10 per join), each by pm or in chat as it was sent. Skips the bot itself and users no longer online.';

REVOKE ALL ON FUNCTION daz.cmd_tell(jsonb), daz.bot_tell_deliver(daz.jobs) FROM PUBLIC;

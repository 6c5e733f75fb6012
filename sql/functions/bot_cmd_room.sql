-- bot_cmd_room.sql — commands that read what the room did: seen, quote, np, stats.

CREATE OR REPLACE FUNCTION daz.cmd_seen(p_ctx jsonb)
RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_room   text := p_ctx->>'room';
    v_who    text := p_ctx->'args'->>0;
    v_u      daz.users;
    v_line   text;
    v_said   timestamptz;
BEGIN
    IF v_who IS NULL THEN
        RETURN format('Usage: %sseen <user>', p_ctx->>'prefix');
    END IF;
    v_who := left(ltrim(v_who, '@'), 20);
    IF lower(v_who) = lower(p_ctx->>'user') THEN
        RETURN format('%s: you are right here.', p_ctx->>'user');
    END IF;
    IF lower(v_who) = lower(p_ctx->>'bot') THEN
        RETURN 'I am right here.';
    END IF;
    SELECT u.* INTO v_u FROM daz.users u
     WHERE u.room = v_room AND lower(u.name) = lower(v_who)
     ORDER BY u.online DESC, u.last_seen DESC LIMIT 1;
    IF NOT FOUND THEN
        RETURN format('I have not seen %s here.', v_who);
    END IF;
    IF v_u.last_message_at IS NOT NULL THEN
        SELECT daz.html_to_text(e.payload->>'msg'), e.received_at INTO v_line, v_said
          FROM daz.events e
         WHERE e.room = v_room AND e.type = 'chatMsg' AND e.actor = v_u.name
           AND e.received_at >= v_u.last_message_at - interval '1 day'
         ORDER BY e.received_at DESC, e.id DESC LIMIT 1;   -- ids are UUIDv7: ties keep arrival order
    END IF;
    RETURN concat(
        CASE WHEN v_u.online
             THEN format('%s is here right now%s', v_u.name, CASE WHEN v_u.afk THEN ' (afk)' ELSE '' END)
             ELSE format('%s was last seen %s ago', v_u.name, daz.bot_format_interval(now() - v_u.last_seen)) END,
        CASE WHEN v_line IS NOT NULL
             THEN format(', last said “%s” %s ago', CASE WHEN length(v_line) > 120 THEN left(v_line, 119) || '…' ELSE v_line END,
                         daz.bot_format_interval(now() - v_said)) END,
        '.');
END
$$;
COMMENT ON FUNCTION daz.cmd_seen(jsonb) IS '!seen <user>: online now (afk?), or when last seen; and the last chat line with its age.';

CREATE OR REPLACE FUNCTION daz.cmd_quote(p_ctx jsonb)
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_room text := p_ctx->>'room';
    v_who  text := ltrim(p_ctx->'args'->>0, '@');
    v_bot  text := coalesce(p_ctx->>'bot', '');
    v_line text;
    v_by   text;
    v_at   timestamptz;
BEGIN
    -- A random line among the room's (or the user's) last 2000 public lines that are not commands
    -- and not the bot's own.
    SELECT daz.html_to_text(q.payload->>'msg'), q.actor, q.received_at INTO v_line, v_by, v_at
      FROM (SELECT e.payload, e.actor, e.received_at
              FROM daz.events e
             WHERE e.room = v_room AND e.type = 'chatMsg'
               AND NOT e.tags && '{command,bot}'::text[]
               AND e.actor IS NOT NULL AND e.actor !~ '^\[' AND lower(e.actor) <> lower(v_bot)
               AND (v_who IS NULL OR lower(e.actor) = lower(v_who))
             ORDER BY e.received_at DESC
             LIMIT 2000) q
     ORDER BY random()
     LIMIT 1;
    IF v_line IS NULL THEN
        RETURN CASE WHEN v_who IS NULL THEN 'No chat lines to quote yet.'
                    ELSE format('No lines of %s to quote.', left(v_who, 20)) END;
    END IF;
    IF length(v_line) > 300 THEN
        v_line := left(v_line, 299) || '…';
    END IF;
    RETURN format('“%s” — %s, %s', v_line, v_by, to_char(v_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'));
END
$$;
COMMENT ON FUNCTION daz.cmd_quote(jsonb) IS '!quote [user]: a random public chat line (of that user) among the room''s last 2000, never a command or the bot''s own line.';

CREATE OR REPLACE FUNCTION daz.cmd_np(p_ctx jsonb)
RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_p       daz.media_plays;
    v_elapsed interval;
BEGIN
    SELECT m.* INTO v_p FROM daz.media_plays m
     WHERE m.room = p_ctx->>'room'
     ORDER BY m.started_at DESC, m.play_id DESC LIMIT 1;
    IF NOT FOUND THEN
        RETURN 'Nothing is playing.';
    END IF;
    v_elapsed := now() - v_p.started_at;
    IF v_p.ended_at IS NOT NULL OR (v_p.seconds > 0 AND v_elapsed > make_interval(secs => v_p.seconds + 60)) THEN
        RETURN format('Nothing is playing (last: %s).', coalesce(v_p.title, v_p.media_id));
    END IF;
    RETURN format('Now playing: %s [%s:%s] — %s%s', coalesce(v_p.title, '(untitled)'), v_p.media_type, v_p.media_id,
        CASE WHEN coalesce(v_p.seconds, 0) > 0
             THEN format('%s / %s, %s left',
                         daz.bot_format_interval(least(v_elapsed, make_interval(secs => v_p.seconds))),
                         daz.bot_format_interval(make_interval(secs => v_p.seconds)),
                         daz.bot_format_interval(greatest(make_interval(secs => v_p.seconds) - v_elapsed, interval '0')))
             ELSE format('live for %s', daz.bot_format_interval(v_elapsed)) END,
        CASE WHEN v_p.queued_by IS NOT NULL THEN format(' (queued by %s)', v_p.queued_by) ELSE '' END);
END
$$;
COMMENT ON FUNCTION daz.cmd_np(jsonb) IS '!np: the current media of the room (daz.media_plays): title, type:id, elapsed / length and time left, who queued it.';

CREATE OR REPLACE FUNCTION daz.cmd_stats(p_ctx jsonb)
RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_room  text := p_ctx->>'room';
    v_media text;
    v_chat  text;
BEGIN
    SELECT string_agg(format('%s (%s)', t.title, t.n), ', ' ORDER BY t.n DESC, t.title) INTO v_media
      FROM (SELECT coalesce(max(m.title), m.media_id) AS title, count(*) AS n
              FROM daz.media_plays m WHERE m.room = v_room
             GROUP BY m.media_type, m.media_id
             ORDER BY count(*) DESC, max(m.started_at) DESC LIMIT 3) t;
    SELECT string_agg(format('%s (%s)', t.name, t.messages), ', ' ORDER BY t.messages DESC, t.name) INTO v_chat
      FROM (SELECT u.name, u.messages FROM daz.users u
             WHERE u.room = v_room AND u.messages > 0 AND lower(u.name) <> lower(coalesce(p_ctx->>'bot', ''))
             ORDER BY u.messages DESC, u.name LIMIT 3) t;
    RETURN format('Most played: %s. Top chatters: %s.', coalesce(v_media, 'nothing yet'), coalesce(v_chat, 'nobody yet'));
END
$$;
COMMENT ON FUNCTION daz.cmd_stats(jsonb) IS '!stats: the room''s three most played media (daz.media_plays) and three top chatters (daz.users.messages).';

REVOKE ALL ON FUNCTION daz.cmd_seen(jsonb), daz.cmd_quote(jsonb), daz.cmd_np(jsonb), daz.cmd_stats(jsonb) FROM PUBLIC;

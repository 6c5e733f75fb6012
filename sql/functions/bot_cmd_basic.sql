-- bot_cmd_basic.sql — commands about the bot itself: help, about, uptime, ping.

CREATE OR REPLACE FUNCTION daz.cmd_help(p_ctx jsonb)
RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_prefix text := p_ctx->>'prefix';
    v_rank   numeric := (p_ctx->>'rank')::numeric;
    v_admin  boolean := (p_ctx->>'is_admin')::boolean;
    v_room   text := p_ctx->>'room';
    v_want   text := lower(p_ctx->'args'->>0);
    v_cmd    daz.commands;
    v_list   text;
    v_parts  text[];
BEGIN
    IF v_want IS NULL THEN
        SELECT string_agg(v_prefix || c.name, ' ' ORDER BY c.name) INTO v_list
          FROM daz.commands c
         WHERE c.enabled
           AND (c.rooms IS NULL OR v_room = ANY (c.rooms))
           AND (v_admin OR (NOT c.admin_only AND c.min_rank <= v_rank));
        v_list := format('%s — %shelp <command> for details.', coalesce(v_list, '(none)'), v_prefix);
        -- A long list becomes numbered lines, each under CyTube's 320 characters and none starting
        -- with the prefix (another bot in the room would take "!np !ping ..." for a command).
        v_parts := daz.bot_chunks(v_list, 290);
        IF cardinality(v_parts) = 1 THEN
            RETURN 'Commands: ' || v_list;
        END IF;
        RETURN (SELECT string_agg(format('Commands (%s/%s): %s', i, cardinality(v_parts), v_parts[i]), E'\n' ORDER BY i)
                  FROM generate_subscripts(v_parts, 1) i);
    END IF;
    IF left(v_want, length(v_prefix)) = v_prefix THEN
        v_want := substr(v_want, length(v_prefix) + 1);
    END IF;
    SELECT c.* INTO v_cmd FROM daz.commands c
     WHERE (c.name = v_want OR v_want = ANY (c.aliases))
       AND c.enabled AND (c.rooms IS NULL OR v_room = ANY (c.rooms))
     ORDER BY (c.name = v_want) DESC LIMIT 1;
    IF NOT FOUND THEN
        RETURN format('No command "%s". %shelp lists them.', left(v_want, 32), v_prefix);
    END IF;
    RETURN concat_ws(' ',
        v_prefix || v_cmd.name || coalesce(' ' || nullif(v_cmd.usage, ''), ''),
        '—', coalesce(nullif(v_cmd.description, ''), 'no description.'),
        '(' || concat_ws('; ',
            CASE WHEN cardinality(v_cmd.aliases) > 0
                 THEN 'aliases: ' || array_to_string(ARRAY(SELECT v_prefix || a FROM unnest(v_cmd.aliases) a), ' ') END,
            CASE WHEN v_cmd.admin_only THEN 'bot admins only'
                 WHEN v_cmd.min_rank > 0 THEN format('rank %s+, %s', v_cmd.min_rank, daz.bot_rank_name(v_cmd.min_rank)) END,
            'cooldown ' || daz.bot_format_interval(coalesce(v_cmd.cooldown, daz.setting('default_cooldown', '5 seconds')::interval))
        ) || ')');
END
$$;
COMMENT ON FUNCTION daz.cmd_help(jsonb) IS '!help [command]: the commands the caller may use here, or usage, description, aliases, rank and cooldown of one.';

-- The dazd serving the room: its version and start time (any live worker if the room has no holder).
CREATE OR REPLACE FUNCTION daz.bot_worker(p_room text)
RETURNS daz.workers
LANGUAGE sql STABLE
AS $$
    SELECT w.* FROM daz.workers w
      LEFT JOIN daz.rooms r ON r.room = p_room AND r.holder = w.worker
     ORDER BY (r.room IS NOT NULL) DESC, w.heartbeat_at DESC
     LIMIT 1
$$;
COMMENT ON FUNCTION daz.bot_worker(text) IS 'The daz.workers row of the dazd holding the room, else the most recently heard one; NULL when none.';

CREATE OR REPLACE FUNCTION daz.cmd_about(p_ctx jsonb)
RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_w      daz.workers := daz.bot_worker(p_ctx->>'room');
    v_rooms  integer;
    v_since  timestamptz;
    v_queues text;
    v_text   text;
BEGIN
    SELECT count(*) FILTER (WHERE r.state = 'joined'),
           min(r.connected_since) FILTER (WHERE r.room = p_ctx->>'room')
      INTO v_rooms, v_since
      FROM daz.rooms r;
    v_text := format('Daz %s, a CyTube bot whose brain is PostgreSQL %s. In %s room%s%s. %shelp for commands.',
                     coalesce(v_w.version, '(version unknown)'),
                     split_part(current_setting('server_version'), ' ', 1),
                     v_rooms, CASE WHEN v_rooms = 1 THEN '' ELSE 's' END,
                     CASE WHEN v_since IS NOT NULL THEN ', here for ' || daz.bot_format_interval(now() - v_since) ELSE '' END,
                     p_ctx->>'prefix');
    IF (p_ctx->>'is_admin')::boolean THEN
        SELECT string_agg(format('%s %s', q.queue, q.n), ', ' ORDER BY q.queue) INTO v_queues
          FROM (SELECT j.queue, count(*) AS n FROM daz.jobs j GROUP BY j.queue) q;
        v_text := v_text || E'\nQueued jobs: ' || coalesce(v_queues, 'none') || '.';
    END IF;
    RETURN v_text;
END
$$;
COMMENT ON FUNCTION daz.cmd_about(jsonb) IS '!about: version (from daz.workers), PostgreSQL version, rooms joined, time in this room; queue depths for bot admins.';

CREATE OR REPLACE FUNCTION daz.cmd_uptime(p_ctx jsonb)
RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_since timestamptz;
    v_w     daz.workers := daz.bot_worker(p_ctx->>'room');
BEGIN
    SELECT r.connected_since INTO v_since FROM daz.rooms r WHERE r.room = p_ctx->>'room';
    IF v_since IS NULL AND v_w.worker IS NULL THEN
        RETURN 'No connection record for this room yet.';
    END IF;
    RETURN concat_ws(', ',
        CASE WHEN v_since IS NOT NULL THEN 'Connected here for ' || daz.bot_format_interval(now() - v_since) END,
        CASE WHEN v_w.worker IS NOT NULL
             THEN 'dazd running for ' || daz.bot_format_interval(now() - v_w.started_at) END) || '.';
END
$$;
COMMENT ON FUNCTION daz.cmd_uptime(jsonb) IS '!uptime: how long the bot has been connected to this room (daz.rooms.connected_since) and how long its dazd has run (daz.workers.started_at).';

CREATE OR REPLACE FUNCTION daz.cmd_ping(p_ctx jsonb)
RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT 'pong' || coalesce(format(' (%s ms)',
        round(greatest(extract(epoch FROM clock_timestamp() - (p_ctx->>'received_at')::timestamptz), 0) * 1000)), '')
$$;
COMMENT ON FUNCTION daz.cmd_ping(jsonb) IS '!ping: pong, with the time since dazd received the line.';

REVOKE ALL ON FUNCTION daz.cmd_help(jsonb), daz.cmd_about(jsonb), daz.cmd_uptime(jsonb), daz.cmd_ping(jsonb),
    daz.bot_worker(text) FROM PUBLIC;

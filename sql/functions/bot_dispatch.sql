-- bot_dispatch.sql — daz.cmd_dispatch: a routed chat/pm command line → checks → the command's handler → reply.

CREATE OR REPLACE FUNCTION daz.bot_log_command(p_ctx jsonb, p_command text, p_outcome text,
                                               p_error text DEFAULT NULL, p_reply text DEFAULT NULL,
                                               p_started timestamptz DEFAULT NULL)
RETURNS void
LANGUAGE sql
AS $$
    INSERT INTO daz.command_log (room, username, rank, via, invoked, command, args, outcome, error,
                                 reply, duration_ms, event_id)
    VALUES (p_ctx->>'room', p_ctx->>'user', (p_ctx->>'rank')::numeric, p_ctx->>'via',
            coalesce(p_ctx->>'invoked', ''), p_command,
            coalesce(ARRAY(SELECT jsonb_array_elements_text(p_ctx->'args')), '{}'),
            p_outcome, left(p_error, 500), left(p_reply, 2000),
            CASE WHEN p_started IS NOT NULL
                 THEN round((extract(epoch FROM clock_timestamp() - p_started) * 1000)::numeric, 3) END,
            p_ctx->>'event_id')
$$;
COMMENT ON FUNCTION daz.bot_log_command(jsonb, text, text, text, text, timestamptz) IS
    'Appends one attempt to daz.command_log from a command context.';

-- A refusal goes to the user by pm, at most once until p_until (the end of the cooldown).
CREATE OR REPLACE FUNCTION daz.bot_refuse(p_ctx jsonb, p_command text, p_text text, p_until timestamptz)
RETURNS boolean
LANGUAGE plpgsql
AS $$
DECLARE
    v_notify boolean;
BEGIN
    INSERT INTO daz.command_cooldowns AS c (room, username, command, refused_until)
    VALUES (p_ctx->>'room', lower(p_ctx->>'user'), p_command, p_until)
    ON CONFLICT (room, username, command) DO UPDATE
        SET refused_until = EXCLUDED.refused_until
        WHERE c.refused_until IS NULL OR c.refused_until <= now()
    RETURNING true INTO v_notify;
    IF coalesce(v_notify, false) THEN
        PERFORM daz.enqueue('cytube', 'pm', jsonb_build_object('to', p_ctx->>'user', 'text', p_text),
                            p_ctx->>'room', 1::smallint, now(), NULL, p_ctx->>'event_id');
    END IF;
    RETURN coalesce(v_notify, false);
END
$$;
COMMENT ON FUNCTION daz.bot_refuse(jsonb, text, text, timestamptz) IS
    'Sends a refusal by pm unless one for the same user, room and command was sent and p_until has not passed yet; returns whether it was sent.';

CREATE OR REPLACE FUNCTION daz.cmd_dispatch(p_job daz.jobs)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, daz, pg_temp
AS $$
DECLARE
    v_ev       jsonb := p_job.payload;
    v_room     text := coalesce(v_ev->>'room', p_job.room);
    v_type     text := v_ev->>'type';
    v_user     text := coalesce(v_ev->'payload'->>'username', v_ev->>'actor');
    v_html     text := v_ev->'payload'->>'msg';
    v_prefix   text := daz.setting('command_prefix', '!');
    v_started  timestamptz := clock_timestamp();
    v_via      text;
    v_text     text;
    v_line     text;
    v_words    text[];
    v_invoked  text;
    v_rest     text;
    v_rank     numeric;
    v_admin    boolean;
    v_cmd      daz.commands;
    v_cooldown interval;
    v_used     timestamptz;
    v_ok       boolean;
    v_ctx      jsonb;
    v_reply    text;
    v_err      text;
    v_state    text;
BEGIN
    IF coalesce(v_type, '') NOT IN ('chatMsg', 'pm') OR v_user IS NULL OR v_html IS NULL OR v_room IS NULL THEN
        RETURN jsonb_build_object('outcome', 'ignored', 'reason', 'not a chat or pm line');
    END IF;
    -- The bot never obeys itself (its own lines are also excluded by the subscription's `bot` tag),
    -- nor history, nor a /me action ("/me !ping" narrates, it does not ask), nor a shadow-muted
    -- user: CyTube shows their lines (meta.shadow) only to moderators, and a public answer would
    -- tell the whole room what the moderators hid.
    IF lower(v_user) = lower(daz.bot_name(v_room)) OR v_ev->'tags' ? 'history' OR v_ev->'tags' ? 'action'
       OR (v_ev->'payload'->'meta'->>'action') IS NOT DISTINCT FROM 'true'
       OR (v_ev->'payload'->'meta'->>'shadow') IS NOT DISTINCT FROM 'true' THEN
        RETURN jsonb_build_object('outcome', 'ignored', 'reason', 'own, history, action or shadow-muted line');
    END IF;
    v_via := CASE v_type WHEN 'pm' THEN 'pm' ELSE 'chat' END;
    v_text := btrim(daz.html_to_text(v_html));
    IF left(v_text, length(v_prefix)) <> v_prefix OR length(v_text) <= length(v_prefix) THEN
        RETURN jsonb_build_object('outcome', 'ignored', 'reason', 'no prefix');
    END IF;
    v_line := substr(v_text, length(v_prefix) + 1);
    v_invoked := lower(substring(v_line FROM '^(\S+)'));
    IF v_invoked IS NULL THEN
        RETURN jsonb_build_object('outcome', 'ignored', 'reason', 'no command word');
    END IF;
    v_invoked := left(v_invoked, 64);
    v_rest := btrim(substring(v_line FROM '^\S+\s*(.*)$'));
    v_rank := daz.bot_user_rank(v_room, v_user);
    v_admin := daz.bot_is_admin(v_room, v_user, v_rank);

    v_ctx := jsonb_build_object(
        'room', v_room, 'user', v_user, 'rank', v_rank, 'via', v_via, 'is_admin', v_admin,
        'invoked', v_invoked, 'args', '[]'::jsonb, 'rest', v_rest, 'raw', v_text,
        'prefix', v_prefix, 'bot', daz.bot_name(v_room), 'event_id', coalesce(v_ev->>'id', p_job.correlation_id),
        'received_at', v_ev->'received_at');

    IF length(v_text) > daz.setting('command_max_length', '512')::integer THEN
        PERFORM daz.bot_log_command(v_ctx, NULL, 'too_long', format('%s characters', length(v_text)));
        RETURN jsonb_build_object('outcome', 'too_long');
    END IF;
    IF (v_ev->>'received_at')::timestamptz < now() - daz.setting('command_max_age', '2 minutes')::interval THEN
        PERFORM daz.bot_log_command(v_ctx, NULL, 'stale', format('received %s', v_ev->>'received_at'));
        RETURN jsonb_build_object('outcome', 'stale');
    END IF;

    v_words := daz.bot_split_args(v_line);
    v_ctx := jsonb_set(v_ctx, '{args}', to_jsonb(coalesce(v_words[2:], '{}')));

    SELECT c.* INTO v_cmd
      FROM daz.commands c
     WHERE c.name = v_invoked OR v_invoked = ANY (c.aliases)
     ORDER BY (c.name = v_invoked) DESC
     LIMIT 1;
    IF NOT FOUND THEN
        PERFORM daz.bot_log_command(v_ctx, NULL, 'unknown');
        RETURN jsonb_build_object('outcome', 'unknown', 'invoked', v_invoked);
    END IF;
    v_ctx := jsonb_set(v_ctx, '{command}', to_jsonb(v_cmd.name));
    IF NOT v_cmd.enabled OR (v_cmd.rooms IS NOT NULL AND NOT v_room = ANY (v_cmd.rooms)) THEN
        PERFORM daz.bot_log_command(v_ctx, v_cmd.name, 'disabled');
        RETURN jsonb_build_object('outcome', 'disabled', 'command', v_cmd.name);
    END IF;

    v_cooldown := coalesce(v_cmd.cooldown, daz.setting('default_cooldown', '5 seconds')::interval);

    IF v_cmd.admin_only AND NOT v_admin THEN
        PERFORM daz.bot_refuse(v_ctx, v_cmd.name,
            format('%s%s is for bot admins only.', v_prefix, v_cmd.name),
            now() + greatest(v_cooldown, interval '5 seconds'));
        PERFORM daz.bot_log_command(v_ctx, v_cmd.name, 'admin', 'not a bot admin');
        RETURN jsonb_build_object('outcome', 'admin', 'command', v_cmd.name);
    END IF;
    IF v_rank < v_cmd.min_rank AND NOT v_admin THEN
        PERFORM daz.bot_refuse(v_ctx, v_cmd.name,
            format('%s%s needs rank %s (%s) or higher; yours is %s (%s).', v_prefix, v_cmd.name,
                   v_cmd.min_rank, daz.bot_rank_name(v_cmd.min_rank), v_rank, daz.bot_rank_name(v_rank)),
            now() + greatest(v_cooldown, interval '5 seconds'));
        PERFORM daz.bot_log_command(v_ctx, v_cmd.name, 'rank', format('rank %s < %s', v_rank, v_cmd.min_rank));
        RETURN jsonb_build_object('outcome', 'rank', 'command', v_cmd.name);
    END IF;

    -- Claim the cooldown atomically (two workers, one user, same command: one wins).
    INSERT INTO daz.command_cooldowns AS c (room, username, command, used_at)
    VALUES (v_room, lower(v_user), v_cmd.name, now())
    ON CONFLICT (room, username, command) DO UPDATE
        SET used_at = EXCLUDED.used_at
        WHERE v_admin OR c.used_at IS NULL OR c.used_at <= now() - v_cooldown
    RETURNING true INTO v_ok;
    IF NOT coalesce(v_ok, false) THEN
        SELECT c.used_at INTO v_used FROM daz.command_cooldowns c
         WHERE c.room = v_room AND c.username = lower(v_user) AND c.command = v_cmd.name;
        PERFORM daz.bot_refuse(v_ctx, v_cmd.name,
            format('%s%s: please wait %s.', v_prefix, v_cmd.name,
                   daz.bot_format_interval(greatest(v_used + v_cooldown - now(), interval '1 second'))),
            v_used + v_cooldown);
        PERFORM daz.bot_log_command(v_ctx, v_cmd.name, 'cooldown', format('used %s ago', now() - v_used));
        RETURN jsonb_build_object('outcome', 'cooldown', 'command', v_cmd.name);
    END IF;

    -- The handler runs in a subtransaction: whatever it did is undone if it raises, and the
    -- job still completes (no retry spam), with a short reply and the error logged.
    BEGIN
        EXECUTE format('SELECT %s($1)', v_cmd.handler::oid::regproc) INTO v_reply USING v_ctx;
        PERFORM daz.bot_reply(v_room, v_via, v_user, v_reply, v_ctx->>'event_id');
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_err = MESSAGE_TEXT, v_state = RETURNED_SQLSTATE;
        v_err := split_part(v_err, E'\n', 1);
        v_reply := CASE WHEN v_state = '22023'
                        THEN format('%s%s: %s', v_prefix, v_cmd.name, left(v_err, 200))
                        ELSE format('%s%s failed: %s', v_prefix, v_cmd.name,
                                    CASE WHEN length(v_err) > 80 THEN left(v_err, 79) || '…' ELSE v_err END) END;
        PERFORM daz.bot_reply(v_room, v_via, v_user, v_reply, v_ctx->>'event_id');
        PERFORM daz.bot_log_command(v_ctx, v_cmd.name, 'error', v_state || ': ' || v_err, v_reply, v_started);
        RETURN jsonb_build_object('outcome', 'error', 'command', v_cmd.name, 'sqlstate', v_state, 'error', v_err);
    END;
    PERFORM daz.bot_log_command(v_ctx, v_cmd.name, 'ok', NULL, v_reply, v_started);
    RETURN jsonb_build_object('outcome', 'ok', 'command', v_cmd.name);
END
$$;
COMMENT ON FUNCTION daz.cmd_dispatch(daz.jobs) IS
    'Handler of the `commands` subscription: parses a chat/pm command line (never history, /me actions, the bot''s own or shadow-muted lines; HTML decoded, prefix, quoted args, at most command_max_length chars, not older than command_max_age), resolves the command or alias, checks enabled/rooms, admin_only, min_rank (rank from daz.users), the per-user cooldown (admins exempt), calls the handler with the context {room, user, rank, via, is_admin, invoked, command, args, rest, raw, prefix, bot, event_id, received_at} and replies by chat or pm at priority 1 with correlation_id = event id. Refusals go by pm once per cooldown. Handler errors are caught, answered briefly and logged; the job completes. Every attempt lands in daz.command_log.';

REVOKE ALL ON FUNCTION daz.cmd_dispatch(daz.jobs), daz.bot_log_command(jsonb, text, text, text, text, timestamptz),
    daz.bot_refuse(jsonb, text, text, timestamptz) FROM PUBLIC;

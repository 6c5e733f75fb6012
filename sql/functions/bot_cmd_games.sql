-- bot_cmd_games.sql — small games: 8ball, coinflip, rps, random.

CREATE OR REPLACE FUNCTION daz.cmd_8ball(p_ctx jsonb)
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_answers text[] := ARRAY[
        'It is certain.', 'It is decidedly so.', 'Without a doubt.', 'Yes, definitely.',
        'You may rely on it.', 'As I see it, yes.', 'Most likely.', 'Outlook good.', 'Yes.',
        'Signs point to yes.', 'Reply hazy, try again.', 'Ask again later.',
        'Better not tell you now.', 'Cannot predict now.', 'Concentrate and ask again.',
        'Don''t count on it.', 'My reply is no.', 'My sources say no.', 'Outlook not so good.',
        'Very doubtful.'];
BEGIN
    IF coalesce(p_ctx->>'rest', '') = '' THEN
        RETURN format('Ask me a question: %s8ball <question>', p_ctx->>'prefix');
    END IF;
    RETURN format('%s: 🎱 %s', p_ctx->>'user', v_answers[1 + floor(random() * cardinality(v_answers))::integer]);
END
$$;
COMMENT ON FUNCTION daz.cmd_8ball(jsonb) IS '!8ball <question>: one of the twenty classic Magic 8-Ball answers.';

CREATE OR REPLACE FUNCTION daz.cmd_coinflip(p_ctx jsonb)
RETURNS text
LANGUAGE sql VOLATILE
AS $$
    SELECT format('%s flips a coin: %s.', p_ctx->>'user', CASE WHEN random() < 0.5 THEN 'heads' ELSE 'tails' END)
$$;
COMMENT ON FUNCTION daz.cmd_coinflip(jsonb) IS '!coinflip: heads or tails.';

CREATE OR REPLACE FUNCTION daz.cmd_rps(p_ctx jsonb)
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_moves text[] := ARRAY['rock', 'paper', 'scissors'];
    v_arg   text := lower(p_ctx->'args'->>0);
    v_mine  integer;
    v_bot   integer := 1 + floor(random() * 3)::integer;
BEGIN
    v_mine := CASE WHEN v_arg IN ('rock', 'r', '🪨') THEN 1
                   WHEN v_arg IN ('paper', 'p', '📄') THEN 2
                   WHEN v_arg IN ('scissors', 's', '✂️') THEN 3 END;
    IF v_mine IS NULL THEN
        RETURN format('Play with %srps rock|paper|scissors', p_ctx->>'prefix');
    END IF;
    RETURN format('%s: %s vs my %s — %s', p_ctx->>'user', v_moves[v_mine], v_moves[v_bot],
                  CASE (v_mine - v_bot + 3) % 3 WHEN 0 THEN 'a draw.' WHEN 1 THEN 'you win!' ELSE 'I win!' END);
END
$$;
COMMENT ON FUNCTION daz.cmd_rps(jsonb) IS '!rps rock|paper|scissors: plays one round against the bot.';

CREATE OR REPLACE FUNCTION daz.cmd_random(p_ctx jsonb)
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_arg text := p_ctx->'args'->>0;
    v_max bigint := 100;
BEGIN
    IF v_arg IS NOT NULL THEN
        IF v_arg !~ '^\d{1,12}$' OR v_arg::bigint < 1 THEN
            RETURN format('Usage: %srandom [N] — N a whole number from 1 to 999999999999.', p_ctx->>'prefix');
        END IF;
        v_max := v_arg::bigint;
    END IF;
    RETURN format('%s rolls %s (1–%s).', p_ctx->>'user', 1 + floor(random() * v_max)::bigint, v_max);
END
$$;
COMMENT ON FUNCTION daz.cmd_random(jsonb) IS '!random [N]: a random whole number from 1 to N (default 100).';

REVOKE ALL ON FUNCTION daz.cmd_8ball(jsonb), daz.cmd_coinflip(jsonb), daz.cmd_rps(jsonb), daz.cmd_random(jsonb) FROM PUBLIC;

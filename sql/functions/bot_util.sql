-- bot_util.sql — helpers shared by the bot's commands: argument splitting, durations, names, ranks, replies.

-- Whitespace-separated words; "double quotes" (or “curly quotes”) group words, a backslash takes
-- the next character literally (\" \\ \ ). An unterminated quote runs to the end of the line.
CREATE OR REPLACE FUNCTION daz.bot_split_args(p_text text)
RETURNS text[]
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    v_args     text[] := '{}';
    v_cur      text := '';
    v_in_token boolean := false;
    v_close    text;            -- closing quote while inside quotes, else NULL
    v_ch       text;
    v_i        integer := 1;
    v_n        integer := length(p_text);
BEGIN
    WHILE v_i <= v_n LOOP
        v_ch := substr(p_text, v_i, 1);
        IF v_ch = '\' AND v_i < v_n THEN
            v_cur := v_cur || substr(p_text, v_i + 1, 1);
            v_in_token := true;
            v_i := v_i + 2;
            CONTINUE;
        END IF;
        IF v_close IS NOT NULL THEN
            IF v_ch = v_close THEN
                v_close := NULL;
            ELSE
                v_cur := v_cur || v_ch;
            END IF;
        ELSIF v_ch = '"' THEN
            v_close := '"';
            v_in_token := true;
        ELSIF v_ch = '“' THEN
            v_close := '”';
            v_in_token := true;
        ELSIF v_ch ~ '^\s$' THEN
            IF v_in_token THEN
                v_args := v_args || v_cur;
                v_cur := '';
                v_in_token := false;
            END IF;
        ELSE
            v_cur := v_cur || v_ch;
            v_in_token := true;
        END IF;
        v_i := v_i + 1;
    END LOOP;
    IF v_in_token THEN
        v_args := v_args || v_cur;
    END IF;
    RETURN v_args;
END
$$;
COMMENT ON FUNCTION daz.bot_split_args(text) IS
    'Splits a command line into arguments: whitespace separates, "double quotes" (or “curly”) group, backslash escapes the next character. bot_split_args(''tell bob "see you" \"x\"'') = {tell,bob,"see you","\"x\""}.';

-- 1h30m, 90s, 2d, 1d2h3m4s; a bare number means minutes.
CREATE OR REPLACE FUNCTION daz.bot_duration(p_text text)
RETURNS interval
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    v_m text[];
BEGIN
    IF p_text ~ '^\d{1,6}$' THEN
        RETURN make_interval(mins => p_text::integer);
    END IF;
    v_m := regexp_match(lower(p_text), '^(?:(\d{1,4})d)?(?:(\d{1,6})h)?(?:(\d{1,6})m)?(?:(\d{1,7})s)?$');
    IF p_text = '' OR v_m IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('bad duration "%s" (try 90s, 10m, 1h30m)', left(p_text, 20));
    END IF;
    RETURN make_interval(days => coalesce(v_m[1], '0')::integer, hours => coalesce(v_m[2], '0')::integer,
                         mins => coalesce(v_m[3], '0')::integer, secs => coalesce(v_m[4], '0')::integer);
END
$$;
COMMENT ON FUNCTION daz.bot_duration(text) IS
    'Parses a short duration: 90s, 10m, 1h30m, 2d, 1d2h3m4s (d h m s in that order); a bare number is minutes. Raises 22023 on anything else.';

-- The two largest units, e.g. "2d 4h", "1h 30m", "45s".
CREATE OR REPLACE FUNCTION daz.bot_format_interval(p_interval interval)
RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    v_s     bigint := greatest(floor(extract(epoch FROM p_interval)), 0)::bigint;
    v_parts text[] := '{}';
BEGIN
    IF v_s >= 86400 THEN v_parts := v_parts || (v_s / 86400 || 'd'); END IF;
    IF v_s % 86400 >= 3600 THEN v_parts := v_parts || ((v_s % 86400) / 3600 || 'h'); END IF;
    IF v_s % 3600 >= 60 THEN v_parts := v_parts || ((v_s % 3600) / 60 || 'm'); END IF;
    IF v_s % 60 > 0 OR v_s = 0 THEN v_parts := v_parts || (v_s % 60 || 's'); END IF;
    RETURN array_to_string(v_parts[1:2], ' ');
END
$$;
COMMENT ON FUNCTION daz.bot_format_interval(interval) IS
    'Human duration with the two largest units: 2d 4h, 1h 30m, 5m 3s, 45s.';

CREATE OR REPLACE FUNCTION daz.bot_name(p_room text)
RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT r.username FROM daz.rooms r WHERE r.room = p_room
$$;
COMMENT ON FUNCTION daz.bot_name(text) IS 'The bot''s own account name in a room (daz.rooms.username), NULL if the room is unknown.';

CREATE OR REPLACE FUNCTION daz.bot_user_rank(p_room text, p_user text)
RETURNS numeric
LANGUAGE sql STABLE
AS $$
    SELECT coalesce((SELECT u.rank FROM daz.users u
                      WHERE u.room = p_room AND lower(u.name) = lower(p_user)
                      ORDER BY u.online DESC LIMIT 1), 0)
$$;
COMMENT ON FUNCTION daz.bot_user_rank(text, text) IS
    'A user''s CyTube rank in a room as tracked in daz.users (userlist, addUser, setUserRank); 0 (guest) when unknown — whoever can chat is at least a guest.';

CREATE OR REPLACE FUNCTION daz.bot_rank_name(p_rank numeric)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT CASE WHEN p_rank < 0 THEN 'anonymous' WHEN p_rank < 1 THEN 'guest' WHEN p_rank < 1.5 THEN 'registered'
                WHEN p_rank < 2 THEN 'leader' WHEN p_rank < 3 THEN 'moderator' WHEN p_rank < 4 THEN 'channel admin'
                WHEN p_rank < 5 THEN 'owner' WHEN p_rank < 255 THEN 'founder' ELSE 'site admin' END
$$;
COMMENT ON FUNCTION daz.bot_rank_name(numeric) IS
    'CyTube''s name for a rank (the highest named rank not above it): -1 anonymous, 0 guest, 1 registered, 1.5 leader, 2 moderator, 3 channel admin, 4 owner, 5 founder, 255 site admin.';

CREATE OR REPLACE FUNCTION daz.bot_is_admin(p_room text, p_user text, p_rank numeric)
RETURNS boolean
LANGUAGE sql STABLE
AS $$
    SELECT p_rank >= daz.setting('admin_min_rank', '1')::numeric
       AND EXISTS (SELECT 1 FROM daz.admins a
                    WHERE (a.room IS NULL OR a.room = p_room) AND lower(a.name) = lower(p_user))
$$;
COMMENT ON FUNCTION daz.bot_is_admin(text, text, numeric) IS
    'True when the user is in daz.admins for the room (or all rooms) and logged in with at least admin_min_rank (so a guest cannot use an admin''s unregistered name).';

CREATE OR REPLACE FUNCTION daz.bot_user_online(p_room text, p_user text)
RETURNS boolean
LANGUAGE sql STABLE
AS $$
    SELECT EXISTS (SELECT 1 FROM daz.users u
                    WHERE u.room = p_room AND lower(u.name) = lower(p_user) AND u.online)
$$;
COMMENT ON FUNCTION daz.bot_user_online(text, text) IS
    'True when the user (any case) is in the room now, as tracked in daz.users.';

-- Subscriptions on addUser (tells, greeter) react to other people's real joins only: the userlist
-- snapshot of a (re)connect is a different event, and the bot's own addUser is not a join to greet.
CREATE OR REPLACE FUNCTION daz.bot_joined_user(p_job daz.jobs)
RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT p_job.payload->'payload'->>'name'
     WHERE p_job.payload->>'type' = 'addUser'
       AND lower(p_job.payload->'payload'->>'name') IS DISTINCT FROM lower(daz.bot_name(p_job.payload->>'room'))
$$;
COMMENT ON FUNCTION daz.bot_joined_user(daz.jobs) IS
    'The name of the user whose join (addUser event) the job carries, NULL when it is not an addUser or the user is the bot itself.';

-- CyTube cuts a chat message at 320 characters, counted as JavaScript does (UTF-16 units), and
-- dazd splits a longer job at word boundaries. The bot splits its replies itself, so that every
-- part it sends is checked for a leading "/" (dazd's own split could otherwise start a part with
-- "/kick ..." taken from user text).
CREATE OR REPLACE FUNCTION daz.bot_chunks(p_text text, p_max integer DEFAULT 320)
RETURNS text[]
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    v_rest  text := btrim(regexp_replace(p_text, '[[:cntrl:]]', ' ', 'g'));
    v_parts text[] := '{}';
    v_units integer;
    v_i     integer;
    v_space integer;
    v_u     integer;
BEGIN
    IF p_max < 8 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('daz.bot_chunks: p_max must be at least 8, not %s', p_max);
    END IF;
    WHILE v_rest <> '' LOOP
        IF length(v_rest) + length(regexp_replace(v_rest, '[^\U00010000-\U0010FFFF]', '', 'g')) <= p_max THEN
            v_parts := v_parts || v_rest;
            EXIT;
        END IF;
        -- The longest prefix that fits; break at its last space, else inside the word.
        v_units := 0;
        v_i := 0;
        v_space := 0;
        LOOP
            v_u := CASE WHEN ascii(substr(v_rest, v_i + 1, 1)) > 65535 THEN 2 ELSE 1 END;
            EXIT WHEN v_units + v_u > p_max;
            IF substr(v_rest, v_i + 1, 1) = ' ' THEN
                v_space := v_i;
            END IF;
            v_units := v_units + v_u;
            v_i := v_i + 1;
        END LOOP;
        IF substr(v_rest, v_i + 1, 1) = ' ' OR v_space = 0 THEN
            v_space := v_i;
        END IF;
        v_parts := v_parts || rtrim(left(v_rest, v_space));
        v_rest := ltrim(substr(v_rest, v_space + 1));
    END LOOP;
    RETURN v_parts;
END
$$;
COMMENT ON FUNCTION daz.bot_chunks(text, integer) IS
    'Splits one line into parts of at most p_max UTF-16 units (CyTube counts like JavaScript; default 320), at the last space that fits, inside a word only when one word is longer; control characters become spaces, parts are trimmed.';

-- One cytube job per part of each non-empty line (at most 10 jobs), the way the command came
-- unless reply_mode says otherwise. A part starting with "/" would be run by CyTube as a chat
-- command (/kick ...): it gets a zero-width space in front.
CREATE OR REPLACE FUNCTION daz.bot_reply(p_room text, p_via text, p_user text, p_text text,
                                         p_correlation_id text DEFAULT NULL,
                                         p_run_at timestamptz DEFAULT now(),
                                         p_exact boolean DEFAULT false)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    v_mode text := daz.setting('reply_mode', 'auto');
    v_via  text;
    v_line text;
    v_part text;
    v_n    integer := 0;
BEGIN
    IF p_text IS NULL THEN
        RETURN 0;
    END IF;
    v_via := CASE WHEN v_mode IN ('chat', 'pm') AND NOT p_exact THEN v_mode ELSE p_via END;
    IF v_via NOT IN ('chat', 'pm') THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('daz.bot_reply: via must be chat or pm, not "%s"', v_via);
    END IF;
    <<lines>>
    FOREACH v_line IN ARRAY string_to_array(p_text, E'\n') LOOP
        -- 319: room for the zero-width space in front of a part that needs it.
        FOREACH v_part IN ARRAY daz.bot_chunks(left(v_line, 1000), 319) LOOP
            EXIT lines WHEN v_n >= 10;
            IF v_part ~ '^\s*/' THEN
                v_part := U&'\200B' || v_part;
            END IF;
            IF v_via = 'pm' THEN
                PERFORM daz.enqueue('cytube', 'pm', jsonb_build_object('to', p_user, 'text', v_part), p_room,
                                    1::smallint, p_run_at, NULL, p_correlation_id);
            ELSE
                PERFORM daz.enqueue('cytube', 'chat', jsonb_build_object('text', v_part), p_room,
                                    1::smallint, p_run_at, NULL, p_correlation_id);
            END IF;
            v_n := v_n + 1;
        END LOOP;
    END LOOP;
    RETURN v_n;
END
$$;
COMMENT ON FUNCTION daz.bot_reply(text, text, text, text, text, timestamptz, boolean) IS
    'Sends a reply as cytube jobs at priority 1: one chat (via chat) or pm to p_user (via pm) per part of each non-empty line (lines cut at 1000 characters, split by daz.bot_chunks so that no part exceeds CyTube''s 320), at most 10 jobs. Setting reply_mode chat|pm overrides the way unless p_exact (deliveries that must keep their way: a tell or reminder sent by pm stays private). Every part starting with / gets a zero-width space so CyTube never runs it as a command. Returns the number of jobs.';

REVOKE ALL ON FUNCTION daz.bot_split_args(text), daz.bot_duration(text),
    daz.bot_format_interval(interval), daz.bot_name(text), daz.bot_user_rank(text, text),
    daz.bot_is_admin(text, text, numeric), daz.bot_user_online(text, text), daz.bot_joined_user(daz.jobs),
    daz.bot_rank_name(numeric), daz.bot_chunks(text, integer), daz.bot_reply(text, text, text, text, text, timestamptz, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION daz.bot_split_args(text), daz.bot_duration(text),
    daz.bot_format_interval(interval), daz.bot_rank_name(numeric) TO daz_operator, daz_reader;

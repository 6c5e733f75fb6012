-- queue_outbound.sql — daz.say, daz.pm, daz.emit: operator shortcuts for what dazd sends to CyTube.

CREATE OR REPLACE FUNCTION daz.queue_check_room(p_fn text, p_room text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, daz, pg_temp
AS $fn$
BEGIN
    IF p_room IS NULL OR length(p_room) NOT BETWEEN 1 AND 64 OR p_room ~ '[[:cntrl:]]' THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('%s: room must be 1..64 characters without control characters', p_fn);
    END IF;
END
$fn$;

COMMENT ON FUNCTION daz.queue_check_room(text, text) IS 'Raises unless p_room is a valid room key (1..64 characters, no control characters).';
REVOKE ALL ON FUNCTION daz.queue_check_room(text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION daz.queue_check_text(p_fn text, p_text text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, daz, pg_temp
AS $fn$
BEGIN
    IF p_text IS NULL OR btrim(p_text) = '' THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('%s: text must not be empty', p_fn);
    END IF;
    IF length(p_text) > 10000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('%s: text is %s characters, the limit is 10000 (dazd splits long text into lines)',
                             p_fn, length(p_text));
    END IF;
END
$fn$;

COMMENT ON FUNCTION daz.queue_check_text(text, text) IS 'Raises unless p_text is non-blank and at most 10000 characters.';
REVOKE ALL ON FUNCTION daz.queue_check_text(text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION daz.say(p_room text, p_text text, p_priority integer DEFAULT 1) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, daz, pg_temp
AS $fn$
BEGIN
    PERFORM daz.queue_check_room('daz.say', p_room);
    PERFORM daz.queue_check_text('daz.say', p_text);
    RETURN daz.enqueue('cytube', 'chat', jsonb_build_object('text', p_text), p_room, p_priority);
END
$fn$;

COMMENT ON FUNCTION daz.say(text, text, integer) IS
    'Say p_text in a room''s chat: enqueues kind chat on queue cytube (priority 1 by default) and returns the job id. '
    'Text up to 10000 characters; dazd splits it to CyTube''s line limit.';
REVOKE ALL ON FUNCTION daz.say(text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION daz.say(text, text, integer) TO daz_operator;

CREATE OR REPLACE FUNCTION daz.pm(p_room text, p_to text, p_text text, p_priority integer DEFAULT 1) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, daz, pg_temp
AS $fn$
BEGIN
    PERFORM daz.queue_check_room('daz.pm', p_room);
    IF p_to IS NULL OR p_to !~ '^[A-Za-z0-9_-]{1,20}$' THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('daz.pm: "%s" is not a CyTube user name (1..20 of letters, digits, _ and -)', p_to);
    END IF;
    PERFORM daz.queue_check_text('daz.pm', p_text);
    RETURN daz.enqueue('cytube', 'pm', jsonb_build_object('to', p_to, 'text', p_text), p_room, p_priority);
END
$fn$;

COMMENT ON FUNCTION daz.pm(text, text, text, integer) IS
    'Send a private message to user p_to in a room (they must be in it): enqueues kind pm on queue cytube; returns the job id.';
REVOKE ALL ON FUNCTION daz.pm(text, text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION daz.pm(text, text, text, integer) TO daz_operator;

CREATE OR REPLACE FUNCTION daz.emit(p_room text, p_event text, p_payload jsonb DEFAULT NULL, p_priority integer DEFAULT 1)
    RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, daz, pg_temp
AS $fn$
BEGIN
    PERFORM daz.queue_check_room('daz.emit', p_room);
    IF p_event IS NULL OR p_event !~ '^[A-Za-z][A-Za-z0-9]{0,39}$' THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('daz.emit: "%s" does not look like a CyTube event name', p_event);
    END IF;
    -- Sent without the rank for them, these get the bot kicked (cytube-protocol.md section 4).
    IF p_event IN ('setOptions', 'setPermissions', 'setMotd', 'setChannelCSS', 'setChannelJS', 'assignLeader',
                   'readChanLog', 'initACP') THEN
        RAISE EXCEPTION USING ERRCODE = '42501',
            MESSAGE = format('daz.emit: refusing "%s": CyTube kicks a client that sends it without the rank', p_event);
    END IF;
    -- dazd owns the session: joining, logging in and chat go through it.
    IF p_event IN ('joinChannel', 'login', 'channelPassword') THEN
        RAISE EXCEPTION USING ERRCODE = '42501',
            MESSAGE = format('daz.emit: refusing "%s": dazd manages the session itself', p_event);
    END IF;
    IF p_event IN ('chatMsg', 'pm') THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('daz.emit: use daz.say or daz.pm instead of emitting "%s"', p_event);
    END IF;
    RETURN daz.enqueue('cytube', 'emit',
                       CASE WHEN p_payload IS NULL THEN jsonb_build_object('event', p_event)
                            ELSE jsonb_build_object('event', p_event, 'data', p_payload) END,
                       p_room, p_priority);
END
$fn$;

COMMENT ON FUNCTION daz.emit(text, text, jsonb, integer) IS
    'Send another CyTube event (queue, delete, moveMedia, voteskip, newPoll, ...) with p_payload as its data: enqueues '
    'kind emit on queue cytube. Refuses events that get the bot kicked (setOptions, setPermissions, setMotd, '
    'setChannelCSS, setChannelJS, assignLeader, readChanLog, initACP), session events and malformed names.';
REVOKE ALL ON FUNCTION daz.emit(text, text, jsonb, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION daz.emit(text, text, jsonb, integer) TO daz_operator;

-- rooms_state.sql — daz.room_state and daz.room_release: the holder reports connection state and gives a room back.

CREATE OR REPLACE FUNCTION daz.room_state(
    p_worker text,
    p_room   text,
    p_state  text,
    p_error  text DEFAULT NULL
) RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, daz, pg_temp
AS $$
BEGIN
    IF p_state IS NULL OR p_state NOT IN ('offline', 'connecting', 'joined', 'backoff', 'open-circuit') THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('daz.room_state: unknown state %L (offline, connecting, joined, backoff, open-circuit)', p_state);
    END IF;

    UPDATE daz.rooms r
       SET state           = p_state,
           connected_since = CASE WHEN p_state <> 'joined' THEN NULL
                                  WHEN r.state = 'joined' THEN r.connected_since
                                  ELSE now() END,
           -- Every attempt after the first one of a holding is a reconnect.
           reconnects      = r.reconnects
                             + CASE WHEN p_state = 'connecting' AND r.state <> 'offline' THEN 1 ELSE 0 END,
           last_error      = COALESCE(left(p_error, 1000), r.last_error),
           updated_at      = now()
     WHERE r.room = p_room
       AND r.holder = p_worker;

    RETURN FOUND;
END;
$$;

COMMENT ON FUNCTION daz.room_state(text, text, text, text) IS
    'The holder of a room records its connection state (offline, connecting, joined, backoff, open-circuit) and, if given, the last error (kept until the next error). Sets connected_since on joining and counts reconnects. Returns false, changing nothing, if p_worker does not hold the room. Example: SELECT daz.room_state(''host1:42'', ''lobby'', ''backoff'', ''kicked: Duplicate login'');';

REVOKE ALL ON FUNCTION daz.room_state(text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION daz.room_state(text, text, text, text) TO daz_daemon;

CREATE OR REPLACE FUNCTION daz.room_release(
    p_worker text,
    p_room   text
) RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, daz, pg_temp
AS $$
BEGIN
    UPDATE daz.rooms
       SET holder = NULL, lease_until = NULL, state = 'offline', connected_since = NULL,
           updated_at = now()
     WHERE room = p_room
       AND holder = p_worker;
    RETURN FOUND;
END;
$$;

COMMENT ON FUNCTION daz.room_release(text, text) IS
    'Give a room''s lease back (dazd on shutdown or when a room is removed from its config) so a standby can take it at once instead of waiting for expiry. Returns false if p_worker did not hold it. Example: SELECT daz.room_release(''host1:42'', ''lobby'');';

REVOKE ALL ON FUNCTION daz.room_release(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION daz.room_release(text, text) TO daz_daemon;

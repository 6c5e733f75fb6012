-- rooms_acquire.sql — daz.room_acquire: take (or keep) the lease on a CyTube room before joining it.

CREATE OR REPLACE FUNCTION daz.room_acquire(
    p_worker   text,
    p_room     text,
    p_site     text,
    p_channel  text,
    p_username text,
    p_lease    interval
) RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, daz, pg_temp
AS $$
DECLARE
    v_holder text;
BEGIN
    IF p_worker IS NULL OR p_worker = '' THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'daz.room_acquire: worker must not be empty';
    END IF;
    IF p_room IS NULL OR length(p_room) NOT BETWEEN 1 AND 64 OR p_room ~ '[[:cntrl:]]' THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('daz.room_acquire: invalid room %L (1..64 characters, no control characters)', p_room);
    END IF;
    IF p_site IS NULL OR p_channel IS NULL OR p_username IS NULL
       OR p_site = '' OR p_channel = '' OR p_username = '' THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('daz.room_acquire: room %L needs site, channel and username', p_room);
    END IF;
    IF p_lease IS NULL OR p_lease <= interval '0' THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('daz.room_acquire: lease must be positive, got %L', p_lease);
    END IF;

    -- Serialise every acquisition of the same CyTube identity, whatever room key names it.
    PERFORM pg_advisory_xact_lock(hashtextextended(
        'daz.room:' || lower(p_site) || '/' || lower(p_channel) || '/' || lower(p_username), 0));

    -- Another room key for the same account and channel, held by someone else: not ours.
    SELECT r.holder INTO v_holder
      FROM daz.rooms r
     WHERE lower(r.site) = lower(p_site)
       AND lower(r.channel) = lower(p_channel)
       AND lower(r.username) = lower(p_username)
       AND r.room <> p_room
       AND r.holder IS NOT NULL
       AND r.holder <> p_worker
       AND r.lease_until > now()
     LIMIT 1;
    IF FOUND THEN
        RETURN false;
    END IF;

    INSERT INTO daz.rooms AS r (room, site, channel, username, holder, lease_until, state, updated_at)
    VALUES (p_room, p_site, p_channel, p_username, p_worker, now() + p_lease, 'offline', now())
    ON CONFLICT (room) DO UPDATE
       SET site            = EXCLUDED.site,
           channel         = EXCLUDED.channel,
           username        = EXCLUDED.username,
           holder          = EXCLUDED.holder,
           lease_until     = EXCLUDED.lease_until,
           -- A takeover starts from a clean connection state; our own renewal keeps it.
           state           = CASE WHEN r.holder IS DISTINCT FROM EXCLUDED.holder
                                  THEN 'offline' ELSE r.state END,
           connected_since = CASE WHEN r.holder IS DISTINCT FROM EXCLUDED.holder
                                  THEN NULL ELSE r.connected_since END,
           updated_at      = now()
     WHERE r.holder IS NULL
        OR r.holder = EXCLUDED.holder
        OR r.lease_until <= now()
    RETURNING r.holder INTO v_holder;

    RETURN v_holder IS NOT NULL;
END;
$$;

COMMENT ON FUNCTION daz.room_acquire(text, text, text, text, text, interval) IS
    'Take the lease on a room for p_lease: true if the room was free, its lease expired, or p_worker already holds it (the lease is then renewed); false if another worker holds a live lease on it or on another room key with the same site, channel and username. dazd calls it before connecting a room and again every heartbeat while waiting. Example: SELECT daz.room_acquire(''host1:42'', ''lobby'', ''https://cytu.be'', ''lobby'', ''DazBot'', ''30 seconds'');';

REVOKE ALL ON FUNCTION daz.room_acquire(text, text, text, text, text, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION daz.room_acquire(text, text, text, text, text, interval) TO daz_daemon;

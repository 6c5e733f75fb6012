-- rooms_heartbeat.sql — daz.heartbeat: a worker says it is alive and renews the leases it holds.

-- The six-argument form of earlier development databases would make six-argument calls
-- ambiguous beside the current one, whose two last parameters have defaults.
DROP FUNCTION IF EXISTS daz.heartbeat(text, text, integer, text, text[], interval);

CREATE OR REPLACE FUNCTION daz.heartbeat(
    p_worker  text,
    p_host    text,
    p_pid     integer,
    p_version text,
    p_rooms   text[],
    p_lease   interval,
    p_event_rooms text[] DEFAULT NULL,
    p_event_at    timestamptz[] DEFAULT NULL
) RETURNS text[]
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, daz, pg_temp
AS $$
DECLARE
    v_held text[];
BEGIN
    IF p_worker IS NULL OR p_worker = '' THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'daz.heartbeat: worker must not be empty';
    END IF;
    IF p_lease IS NULL OR p_lease <= interval '0' THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('daz.heartbeat: lease must be positive, got %L', p_lease);
    END IF;
    IF cardinality(p_event_rooms) IS DISTINCT FROM cardinality(p_event_at) THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('daz.heartbeat: %s event rooms but %s event times',
                             COALESCE(cardinality(p_event_rooms), 0), COALESCE(cardinality(p_event_at), 0));
    END IF;

    INSERT INTO daz.workers AS w (worker, host, pid, version, started_at, heartbeat_at, rooms)
    VALUES (p_worker, p_host, p_pid, p_version, now(), now(), COALESCE(p_rooms, '{}'))
    ON CONFLICT (worker) DO UPDATE
       SET host         = EXCLUDED.host,
           pid          = EXCLUDED.pid,
           version      = EXCLUDED.version,
           -- Same name on another host or pid: a new process, a new start.
           started_at   = CASE WHEN (w.host, w.pid) IS NOT DISTINCT FROM (EXCLUDED.host, EXCLUDED.pid)
                               THEN w.started_at ELSE now() END,
           heartbeat_at = now(),
           rooms        = EXCLUDED.rooms;

    -- Time of the last event per held room; only moves forward, and rows that would not change
    -- are not written.
    UPDATE daz.rooms r
       SET last_event_at = e.at
      FROM unnest(p_event_rooms, p_event_at) AS e(room, at)
     WHERE r.room = e.room
       AND r.holder = p_worker
       AND e.at IS NOT NULL
       AND (r.last_event_at IS NULL OR r.last_event_at < e.at);

    -- Renew what we hold. A lease that already expired is still ours while nobody took it over.
    WITH renewed AS (
        UPDATE daz.rooms
           SET lease_until = now() + p_lease
         WHERE holder = p_worker
        RETURNING room
    )
    SELECT COALESCE(array_agg(room ORDER BY room), '{}') INTO v_held FROM renewed;

    RETURN v_held;
END;
$$;

COMMENT ON FUNCTION daz.heartbeat(text, text, integer, text, text[], interval, text[], timestamptz[]) IS
    'Worker liveness and lease renewal, called by dazd every lease/3: upserts daz.workers (rooms = p_rooms, the rooms the worker serves, for display), renews the lease of every room it still holds to now() + p_lease and returns those rooms, sorted. Rooms are given back only by daz.room_release. A room missing from the result was taken over by another worker: stop serving it. p_event_rooms / p_event_at (same length, optional): the time of the last event received per room, written to daz.rooms.last_event_at of the rooms p_worker holds (never moved back). Example: SELECT daz.heartbeat(''host1:42'', ''host1'', 42, ''0.1.0'', ''{lobby}'', ''30 seconds'', ''{lobby}'', ''{2026-01-01T12:00:00Z}'');';

REVOKE ALL ON FUNCTION daz.heartbeat(text, text, integer, text, text[], interval, text[], timestamptz[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION daz.heartbeat(text, text, integer, text, text[], interval, text[], timestamptz[]) TO daz_daemon;

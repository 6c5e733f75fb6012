-- 0005_rooms.sql — rooms and workers: which dazd holds which CyTube room (leases, heartbeat, state).
--
-- A room is one CyTube identity (site, channel, username) joined by exactly one dazd at a time:
-- CyTube kicks the first socket when the same account logs in twice. dazd takes a lease on the
-- room with daz.room_acquire before connecting, renews it with daz.heartbeat and gives it back
-- with daz.room_release. A standby dazd configured for the same room keeps calling
-- daz.room_acquire and wins once the holder's lease has expired.
-- Functions live in sql/functions/rooms_*.sql.

CREATE TABLE daz.workers (
    worker       text PRIMARY KEY
                 CHECK (length(worker) BETWEEN 1 AND 128 AND worker !~ '[[:cntrl:]]'),
    host         text,
    pid          integer,
    version      text,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    rooms        text[] NOT NULL DEFAULT '{}'
);

COMMENT ON TABLE daz.workers IS
    'One row per dazd process (worker name from its config). Written by daz.heartbeat every few seconds; a heartbeat_at far in the past means the process is gone.';
COMMENT ON COLUMN daz.workers.worker IS 'Worker name (config worker.name, default host:pid); the holder value in daz.rooms.';
COMMENT ON COLUMN daz.workers.host IS 'Host name the process runs on.';
COMMENT ON COLUMN daz.workers.pid IS 'Process id on that host.';
COMMENT ON COLUMN daz.workers.version IS 'dazd version string.';
COMMENT ON COLUMN daz.workers.started_at IS 'First heartbeat of this worker name (reset when host or pid change).';
COMMENT ON COLUMN daz.workers.heartbeat_at IS 'Last heartbeat.';
COMMENT ON COLUMN daz.workers.rooms IS 'Rooms the worker is configured to serve (held or waiting for a lease), as of its last heartbeat.';

CREATE TABLE daz.rooms (
    room            text PRIMARY KEY
                    CHECK (length(room) BETWEEN 1 AND 64 AND room !~ '[[:cntrl:]]'),
    site            text NOT NULL,
    channel         text NOT NULL,
    username        text NOT NULL,
    holder          text,
    lease_until     timestamptz,
    state           text NOT NULL DEFAULT 'offline'
                    CHECK (state IN ('offline', 'connecting', 'joined', 'backoff', 'open-circuit')),
    connected_since timestamptz,
    last_error      text,
    reconnects      integer NOT NULL DEFAULT 0,
    last_event_at   timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((holder IS NULL) = (lease_until IS NULL))
);

COMMENT ON TABLE daz.rooms IS
    'One row per CyTube room any dazd has served: who holds it (lease), its connection state as reported by the holder. Written only through daz.room_acquire / daz.heartbeat / daz.room_state / daz.room_release.';
COMMENT ON COLUMN daz.rooms.room IS 'Room key: config rooms[].name, else the channel name. The room column of events and jobs.';
COMMENT ON COLUMN daz.rooms.site IS 'CyTube site URL, e.g. https://cytu.be.';
COMMENT ON COLUMN daz.rooms.channel IS 'CyTube channel name.';
COMMENT ON COLUMN daz.rooms.username IS 'Account the bot logs in with; the bot''s own name in this room.';
COMMENT ON COLUMN daz.rooms.holder IS 'Worker (daz.workers.worker) holding the lease, NULL when free.';
COMMENT ON COLUMN daz.rooms.lease_until IS 'Lease expiry; after it another worker may take the room over.';
COMMENT ON COLUMN daz.rooms.state IS 'offline | connecting | joined | backoff | open-circuit, as last reported by the holder.';
COMMENT ON COLUMN daz.rooms.connected_since IS 'When the holder last reached state joined; NULL while not joined.';
COMMENT ON COLUMN daz.rooms.last_error IS 'Last error the holder reported (kick reason, login failure, network error).';
COMMENT ON COLUMN daz.rooms.reconnects IS 'Connection attempts after the first one, summed over all holders.';
COMMENT ON COLUMN daz.rooms.last_event_at IS 'Time of the last event the holder received from the room, if reported.';
COMMENT ON COLUMN daz.rooms.updated_at IS 'Last change of this row.';

-- The CyTube identity: two room keys naming the same account in the same channel must not be
-- held by two workers at once (daz.room_acquire checks it under an advisory lock).
CREATE INDEX rooms_identity_idx ON daz.rooms (lower(site), lower(channel), lower(username));
CREATE INDEX rooms_holder_idx ON daz.rooms (holder) WHERE holder IS NOT NULL;

REVOKE ALL ON daz.workers, daz.rooms FROM PUBLIC;
GRANT SELECT ON daz.workers, daz.rooms TO daz_daemon, daz_operator, daz_reader;

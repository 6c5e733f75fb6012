-- 0003_events.sql — event store: tagged events partitioned by day, log rules, rejected rows, ingest counters, derived state.
--
-- Functions that work on these tables (daz.ingest, partition maintenance, views) live in
-- sql/functions/events_*.sql and are re-applied on every migrate.

-- ---------------------------------------------------------------------------------------------
-- What dazd sends
-- ---------------------------------------------------------------------------------------------
CREATE TYPE daz.event_in AS (
    id          uuid,
    received_at timestamptz,
    room        text,
    type        text,
    tags        text[],
    actor       text,
    server_time timestamptz,
    payload     jsonb
);
COMMENT ON TYPE daz.event_in IS
    'One CyTube event as dazd sends it to daz.ingest(): id (UUIDv7, time-ordered, made by dazd), received_at (dazd clock), '
    'room key, type (CyTube event name), tags, actor (user it concerns), server_time (CyTube "time" if any), payload (as received).';

-- ---------------------------------------------------------------------------------------------
-- Events
-- ---------------------------------------------------------------------------------------------
CREATE TABLE daz.events (
    id          uuid        NOT NULL,
    received_at timestamptz NOT NULL,
    room        text        NOT NULL,
    type        text        NOT NULL,
    tags        text[]      NOT NULL DEFAULT '{}',
    actor       text,
    server_time timestamptz,
    payload     jsonb,
    expires_at  timestamptz,
    PRIMARY KEY (received_at, id)
) PARTITION BY RANGE (received_at);
COMMENT ON TABLE daz.events IS
    'Every CyTube event that the log rules keep, one row each, range-partitioned by UTC day on received_at '
    '(daz.events_YYYYMMDD, plus daz.events_default for days without a partition). Written only by daz.ingest(). '
    'The primary key is (received_at, id): dazd always resends an event with the same id and received_at, so the key '
    'makes ingest idempotent on id while containing the partition key.';
COMMENT ON COLUMN daz.events.id IS 'Event id made by dazd (UUIDv7 layout: sorts by time).';
COMMENT ON COLUMN daz.events.received_at IS 'When dazd received the frame (its clock). Partition key.';
COMMENT ON COLUMN daz.events.room IS 'Room key (config rooms[].name or channel).';
COMMENT ON COLUMN daz.events.type IS 'CyTube event name (chatMsg, addUser, ...) or dazd:connected / dazd:disconnected.';
COMMENT ON COLUMN daz.events.tags IS 'Tags (docs/events.md): room:<room>, chat, user-message, command, history, presence, media, ...';
COMMENT ON COLUMN daz.events.actor IS 'User the event concerns (chat author, user joining or leaving), if any.';
COMMENT ON COLUMN daz.events.server_time IS 'CyTube''s own "time" of the event (chatMsg, pm), if the payload has one.';
COMMENT ON COLUMN daz.events.payload IS 'Payload exactly as received (chat text is HTML-escaped by CyTube).';
COMMENT ON COLUMN daz.events.expires_at IS
    'Set only when a log rule gives this event a retention shorter than the longest one; '
    'daz.purge_expired_events() deletes such rows. NULL: the row lives until its partition is dropped.';

CREATE TABLE daz.events_default PARTITION OF daz.events DEFAULT;
COMMENT ON TABLE daz.events_default IS
    'Default partition of daz.events: events for a day that has no partition yet (spool replayed after an outage, '
    'clock skew) are stored here; daz.ensure_partitions() moves them into their day''s partition.';

CREATE INDEX events_received_brin ON daz.events USING brin (received_at);
CREATE INDEX events_tags_gin ON daz.events USING gin (tags);
CREATE INDEX events_room_type_received ON daz.events (room, type, received_at);
-- History dedup: a replayed chat line is looked up by (room, server_time), then actor and text.
CREATE INDEX events_chat_seen ON daz.events (room, server_time) WHERE type = 'chatMsg';
-- Per-row retention: only rows with a short retention are in it.
CREATE INDEX events_expires ON daz.events (expires_at) WHERE expires_at IS NOT NULL;

-- ---------------------------------------------------------------------------------------------
-- Log rules
-- ---------------------------------------------------------------------------------------------
CREATE TABLE daz.log_rules (
    tag       text     PRIMARY KEY CHECK (tag <> ''),
    action    text     NOT NULL DEFAULT 'store' CHECK (action IN ('store', 'drop')),
    retention interval CHECK (retention IS NULL OR retention > interval '0'),
    comment   text,
    CHECK (action = 'drop' OR retention IS NOT NULL)
);
COMMENT ON TABLE daz.log_rules IS
    'Log rules, read by daz.ingest() on every batch (a change applies from the next batch). An event is dropped if any '
    'of its tags has action drop; otherwise it is kept for the shortest retention among the store rules of its tags. '
    'Tag * matches every event (the default retention). Partitions are dropped after the longest store retention.';
COMMENT ON COLUMN daz.log_rules.tag IS 'Tag the rule applies to (e.g. update, room:lobby, presence), or * for every event.';
COMMENT ON COLUMN daz.log_rules.action IS 'store or drop.';
COMMENT ON COLUMN daz.log_rules.retention IS 'How long events with this tag are kept (store rules only).';
COMMENT ON COLUMN daz.log_rules.comment IS 'Why the rule exists.';

INSERT INTO daz.log_rules (tag, action, retention, comment) VALUES
    ('*', 'store', interval '90 days', 'Default: keep every event 90 days.'),
    ('update', 'drop', NULL, 'mediaUpdate heartbeats (every 5 s while playing): high volume, no value once seen.');

-- ---------------------------------------------------------------------------------------------
-- Rejected rows and ingest counters
-- ---------------------------------------------------------------------------------------------
CREATE TABLE daz.rejected_events (
    rejected_id bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rejected_at timestamptz NOT NULL DEFAULT now(),
    id          uuid,
    received_at timestamptz,
    room        text,
    type        text,
    reason      text        NOT NULL,
    event       jsonb
);
CREATE INDEX rejected_events_at ON daz.rejected_events (rejected_at);
COMMENT ON TABLE daz.rejected_events IS
    'Rows of an ingest batch that could not be stored (missing id, malformed room or type), with the reason; '
    'the rest of the batch is stored. Pruned after 30 days by daz.drop_expired_partitions().';
COMMENT ON COLUMN daz.rejected_events.reason IS 'Why the row was rejected, e.g. room has control characters.';
COMMENT ON COLUMN daz.rejected_events.event IS 'The whole event as received (daz.event_in as jsonb).';

CREATE TABLE daz.ingest_counters (
    hour       timestamptz NOT NULL,
    room       text        NOT NULL,
    type       text        NOT NULL,
    stored     bigint      NOT NULL DEFAULT 0,
    dropped    bigint      NOT NULL DEFAULT 0,
    duplicates bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (hour, room, type)
);
COMMENT ON TABLE daz.ingest_counters IS
    'Per UTC hour (of received_at), room and event type: rows stored, dropped by a log rule, and skipped as duplicates '
    '(same id already stored, or a replayed history line already stored). Updated set-wise by each daz.ingest() call.';
COMMENT ON COLUMN daz.ingest_counters.dropped IS 'Events dropped by a log rule with action drop.';
COMMENT ON COLUMN daz.ingest_counters.duplicates IS 'Events not stored because they were already stored.';

-- ---------------------------------------------------------------------------------------------
-- Derived state, maintained by daz.ingest()
-- ---------------------------------------------------------------------------------------------
CREATE TABLE daz.users (
    room            text        NOT NULL,
    name            text        NOT NULL,
    rank            numeric,
    online          boolean     NOT NULL DEFAULT false,
    afk             boolean     NOT NULL DEFAULT false,
    first_seen      timestamptz NOT NULL,
    last_seen       timestamptz NOT NULL,
    last_message_at timestamptz,
    messages        bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (room, name)
) WITH (fillfactor = 70);
CREATE INDEX users_room_online ON daz.users (room) WHERE online;
COMMENT ON TABLE daz.users IS
    'Users per room as seen in events: rank, online (userlist snapshot, addUser, userLeave), afk (setAFK), '
    'first/last seen and chat message count. Pseudo-users such as [server] are not listed.';
COMMENT ON COLUMN daz.users.rank IS 'Last known CyTube rank (-1 anonymous, 0 guest, 1 registered, 1.5 leader, 2 moderator, ...).';
COMMENT ON COLUMN daz.users.online IS 'In the room now, per the last userlist / addUser / userLeave.';
COMMENT ON COLUMN daz.users.last_seen IS 'received_at of the last event that showed the user (presence or chat).';
COMMENT ON COLUMN daz.users.last_message_at IS 'Time (CyTube server time) of the last public chat line.';
COMMENT ON COLUMN daz.users.messages IS 'Public chat lines stored for this user.';

CREATE TABLE daz.user_sessions (
    session_id bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room       text        NOT NULL,
    name       text        NOT NULL,
    joined_at  timestamptz NOT NULL,
    left_at    timestamptz,
    CHECK (left_at IS NULL OR left_at >= joined_at)
);
CREATE INDEX user_sessions_open ON daz.user_sessions (room, name) WHERE left_at IS NULL;
CREATE INDEX user_sessions_room_joined ON daz.user_sessions (room, joined_at);
COMMENT ON TABLE daz.user_sessions IS
    'One row per stay of a user in a room: opened when the user comes online (addUser or a userlist that lists them), '
    'closed when they go offline (userLeave or a userlist without them). left_at NULL: still there.';

CREATE TABLE daz.playlist (
    room        text        NOT NULL,
    uid         bigint      NOT NULL,
    pos         numeric     NOT NULL,
    media_type  text,
    media_id    text,
    title       text,
    seconds     integer,
    duration    text,
    temp        boolean     NOT NULL DEFAULT false,
    queued_by   text,
    is_current  boolean     NOT NULL DEFAULT false,
    added_at    timestamptz NOT NULL,
    PRIMARY KEY (room, uid)
);
CREATE INDEX playlist_room_pos ON daz.playlist (room, pos);
COMMENT ON TABLE daz.playlist IS
    'Mirror of each room''s playlist, from playlist (full replace), queue {item, after}, delete {uid}, '
    'moveVideo {from, after}, setTemp {uid, temp} and setCurrent uid. Ordered by pos; daz.playlist_now numbers the items 1..n.';
COMMENT ON COLUMN daz.playlist.uid IS 'CyTube playlist item uid (unique within the room''s playlist).';
COMMENT ON COLUMN daz.playlist.pos IS 'Ordering key of the item in the playlist (ascending = play order; not dense: see daz.playlist_now.position).';
COMMENT ON COLUMN daz.playlist.is_current IS 'The item setCurrent named last.';

CREATE TABLE daz.media_plays (
    play_id     bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room        text        NOT NULL,
    media_type  text,
    media_id    text,
    title       text,
    seconds     integer,
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz,
    queued_by   text,
    event_id    uuid        NOT NULL
);
CREATE INDEX media_plays_room_started ON daz.media_plays (room, started_at);
CREATE INDEX media_plays_open ON daz.media_plays (room) WHERE ended_at IS NULL;
COMMENT ON TABLE daz.media_plays IS
    'One row per changeMedia: what played, when it started (received_at), who queued it (from the playlist item '
    'named by setCurrent) and when it ended (the next changeMedia in the room).';

-- ---------------------------------------------------------------------------------------------
-- Settings and privileges
-- ---------------------------------------------------------------------------------------------
INSERT INTO daz.settings (key, value, comment) VALUES
    ('ingest_max_batch', '100000', 'daz.ingest: largest batch accepted; a larger one is refused whole.'),
    ('rejected_retention', '30 days', 'How long daz.rejected_events rows are kept.')
ON CONFLICT (key) DO NOTHING;

REVOKE ALL ON daz.events, daz.events_default, daz.log_rules, daz.rejected_events, daz.ingest_counters,
              daz.users, daz.user_sessions, daz.playlist, daz.media_plays FROM PUBLIC;
GRANT SELECT ON daz.events, daz.events_default, daz.log_rules, daz.rejected_events, daz.ingest_counters,
                daz.users, daz.user_sessions, daz.playlist, daz.media_plays TO daz_operator;
GRANT INSERT, UPDATE, DELETE ON daz.log_rules TO daz_operator;

-- events_ingest.sql — daz.ingest: one batch of events in one call: rules, idempotent insert, history dedup, derived state, routing.

-- Playlist and media plays from the playlist events of one batch, in received order. Playlist edits
-- depend on each other (queue after an item queued in the same batch), so they are applied one event
-- at a time; a batch holds few of them (the chat and presence bulk is handled set-wise by daz.ingest).
CREATE OR REPLACE FUNCTION daz.events_apply_playlist(p_events daz.event_in[])
RETURNS int
LANGUAGE plpgsql
SET search_path = pg_catalog, daz, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_ev     record;
    v_p      jsonb;
    v_uid    bigint;
    v_pos    numeric;
    v_start  timestamptz;
    v_rooms  text[] := '{}';
    v_long   boolean := false;
    v_n      int := 0;
BEGIN
    FOR v_ev IN
        SELECT e.* FROM unnest(p_events) AS e ORDER BY e.received_at, e.id
    LOOP
        v_p := v_ev.payload;
        v_rooms := v_rooms || v_ev.room;
        v_n := v_n + 1;
        CASE v_ev.type
        WHEN 'playlist' THEN
            DELETE FROM daz.playlist WHERE room = v_ev.room;
            INSERT INTO daz.playlist (room, uid, pos, media_type, media_id, title, seconds, duration, temp, queued_by, added_at)
            SELECT v_ev.room, (it->>'uid')::bigint, o,
                   it->'media'->>'type', it->'media'->>'id', it->'media'->>'title',
                   CASE WHEN jsonb_typeof(it->'media'->'seconds') = 'number' THEN (it->'media'->>'seconds')::numeric::int END,
                   it->'media'->>'duration',
                   COALESCE(jsonb_typeof(it->'temp') = 'boolean' AND (it->>'temp')::boolean, false),
                   it->>'queueby', v_ev.received_at
              FROM jsonb_array_elements(CASE WHEN jsonb_typeof(v_p) = 'array' THEN v_p ELSE '[]' END) WITH ORDINALITY AS a(it, o)
             WHERE jsonb_typeof(it->'uid') = 'number'
            ON CONFLICT (room, uid) DO NOTHING;
        WHEN 'queue' THEN
            CONTINUE WHEN jsonb_typeof(v_p->'item'->'uid') IS DISTINCT FROM 'number';
            v_uid := (v_p->'item'->>'uid')::bigint;
            v_pos := daz.events_playlist_pos(v_ev.room, v_p->'after', v_uid);
            v_long := v_long OR scale(v_pos) > 12;
            INSERT INTO daz.playlist AS pl (room, uid, pos, media_type, media_id, title, seconds, duration, temp, queued_by, added_at)
            VALUES (v_ev.room, v_uid, v_pos,
                    v_p->'item'->'media'->>'type', v_p->'item'->'media'->>'id', v_p->'item'->'media'->>'title',
                    CASE WHEN jsonb_typeof(v_p->'item'->'media'->'seconds') = 'number'
                         THEN (v_p->'item'->'media'->>'seconds')::numeric::int END,
                    v_p->'item'->'media'->>'duration',
                    COALESCE(jsonb_typeof(v_p->'item'->'temp') = 'boolean' AND (v_p->'item'->>'temp')::boolean, false),
                    v_p->'item'->>'queueby', v_ev.received_at)
            ON CONFLICT (room, uid) DO UPDATE
               SET pos = EXCLUDED.pos, media_type = EXCLUDED.media_type, media_id = EXCLUDED.media_id,
                   title = EXCLUDED.title, seconds = EXCLUDED.seconds, duration = EXCLUDED.duration,
                   temp = EXCLUDED.temp, queued_by = EXCLUDED.queued_by, is_current = false,
                   added_at = EXCLUDED.added_at;
        WHEN 'delete' THEN
            CONTINUE WHEN jsonb_typeof(v_p->'uid') IS DISTINCT FROM 'number';
            DELETE FROM daz.playlist WHERE room = v_ev.room AND uid = (v_p->>'uid')::bigint;
        WHEN 'moveVideo' THEN
            CONTINUE WHEN jsonb_typeof(v_p->'from') IS DISTINCT FROM 'number';
            v_uid := (v_p->>'from')::bigint;
            v_pos := daz.events_playlist_pos(v_ev.room, v_p->'after', v_uid);
            v_long := v_long OR scale(v_pos) > 12;
            UPDATE daz.playlist SET pos = v_pos WHERE room = v_ev.room AND uid = v_uid;
        WHEN 'setTemp' THEN
            CONTINUE WHEN jsonb_typeof(v_p->'uid') IS DISTINCT FROM 'number' OR jsonb_typeof(v_p->'temp') IS DISTINCT FROM 'boolean';
            UPDATE daz.playlist SET temp = (v_p->>'temp')::boolean
             WHERE room = v_ev.room AND uid = (v_p->>'uid')::bigint;
        WHEN 'setCurrent' THEN
            CONTINUE WHEN jsonb_typeof(v_p) IS DISTINCT FROM 'number';
            -- A uid that is no integer names no item: the current one is cleared.
            v_uid := daz.events_uid(v_p);
            UPDATE daz.playlist SET is_current = COALESCE(uid = v_uid, false)
             WHERE room = v_ev.room AND (is_current OR uid = v_uid)
               AND is_current IS DISTINCT FROM COALESCE(uid = v_uid, false);
        WHEN 'changeMedia' THEN
            -- CyTube sends changeMedia when an item starts (currentTime counting down from -3) and, with
            -- the position reached, to every socket that joins the room: on each reconnect of the bot.
            -- A join's changeMedia for the play open in the room (same media, started no later than the
            -- position says, and not a whole length earlier: then it was an earlier play of the same item)
            -- continues that play. One for an item the bot did not see start opens a play that started
            -- currentTime seconds ago (at most a week: a larger value is not believed).
            v_start := v_ev.received_at;
            IF jsonb_typeof(v_p->'currentTime') = 'number' AND (v_p->>'currentTime')::numeric BETWEEN 0.001 AND 604800 THEN
                v_start := v_ev.received_at - make_interval(secs => (v_p->>'currentTime')::numeric);
                CONTINUE WHEN EXISTS (
                    SELECT FROM daz.media_plays m
                     WHERE m.room = v_ev.room AND m.ended_at IS NULL
                       AND m.media_type IS NOT DISTINCT FROM v_p->>'type' AND m.media_id IS NOT DISTINCT FROM v_p->>'id'
                       AND m.started_at <= v_start + interval '30 seconds'
                       AND (COALESCE(m.seconds, 0) <= 0 OR m.started_at > v_start - make_interval(secs => m.seconds)));
            END IF;
            WITH closed AS (
                UPDATE daz.media_plays SET ended_at = GREATEST(started_at, v_start)
                 WHERE room = v_ev.room AND ended_at IS NULL AND started_at <= v_ev.received_at
            )
            INSERT INTO daz.media_plays (room, media_type, media_id, title, seconds, started_at, queued_by, event_id)
            VALUES (v_ev.room, v_p->>'type', v_p->>'id', v_p->>'title',
                    CASE WHEN jsonb_typeof(v_p->'seconds') = 'number' THEN (v_p->>'seconds')::numeric::int END,
                    v_start,
                    (SELECT p.queued_by FROM daz.playlist p
                      WHERE p.room = v_ev.room AND p.media_id = v_p->>'id' AND p.media_type IS NOT DISTINCT FROM v_p->>'type'
                      ORDER BY p.is_current DESC, p.pos LIMIT 1),
                    v_ev.id);
        ELSE
            v_n := v_n - 1;
        END CASE;
    END LOOP;

    -- pos is an ordering key (midpoints between neighbours); the rooms touched are renumbered only
    -- when a key has grown long after many placements between the same two items.
    IF v_long THEN
        UPDATE daz.playlist p SET pos = r.n
          FROM (SELECT room, uid, row_number() OVER (PARTITION BY room ORDER BY pos, uid) AS n
                  FROM daz.playlist WHERE room = ANY (v_rooms)) r
         WHERE p.room = r.room AND p.uid = r.uid AND p.pos <> r.n;
    END IF;
    RETURN v_n;
END;
$$;
COMMENT ON FUNCTION daz.events_apply_playlist(daz.event_in[]) IS
    'Internal to daz.ingest: applies the stored playlist, queue, delete, moveVideo, setTemp, setCurrent and changeMedia '
    'events of a batch, in received order, to daz.playlist and daz.media_plays. Returns events applied.';

-- A playlist uid from JSON: the number as bigint when it is an integer in range, else NULL. Compared
-- as bigint, a uid is looked up in the primary key (as numeric, every item of the room is cast).
CREATE OR REPLACE FUNCTION daz.events_uid(p_value jsonb)
RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN pg_catalog.jsonb_typeof(p_value) = 'number' AND p_value::text OPERATOR(pg_catalog.~) '^-?[0-9]{1,18}(\.0*)?$'
                THEN (p_value::text)::numeric::bigint END
$$;
COMMENT ON FUNCTION daz.events_uid(jsonb) IS
    'Internal to daz.ingest: a CyTube playlist uid from JSON as bigint (NULL unless an integral number of at most 18 digits).';

-- Position for an item placed after p_after (a uid, "prepend" or "append"), ignoring item p_skip
-- (the item being moved or re-queued).
CREATE OR REPLACE FUNCTION daz.events_playlist_pos(p_room text, p_after jsonb, p_skip bigint DEFAULT NULL)
RETURNS numeric
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_after bigint := daz.events_uid(p_after);
BEGIN
    RETURN (SELECT CASE
           WHEN p_after = '"prepend"' THEN
               COALESCE((SELECT min(pos) FROM daz.playlist WHERE room = p_room AND uid IS DISTINCT FROM p_skip), 1) - 1
           ELSE COALESCE(
               (SELECT CASE WHEN nx.pos IS NULL THEN pv.pos + 1 ELSE trim_scale((pv.pos + nx.pos) / 2) END
                  FROM daz.playlist pv
                  LEFT JOIN LATERAL (SELECT min(n.pos) AS pos FROM daz.playlist n
                                      WHERE n.room = p_room AND n.pos > pv.pos AND n.uid IS DISTINCT FROM p_skip) nx ON true
                 WHERE pv.room = p_room
                   AND pv.uid = v_after
                   AND pv.uid IS DISTINCT FROM p_skip),
               -- "append", or an unknown predecessor: at the end.
               COALESCE((SELECT max(pos) FROM daz.playlist WHERE room = p_room AND uid IS DISTINCT FROM p_skip), 0) + 1)
           END);
END;
$$;
COMMENT ON FUNCTION daz.events_playlist_pos(text, jsonb, bigint) IS
    'Internal to daz.ingest: playlist position for an item queued or moved after p_after (uid, "prepend" or "append").';

CREATE OR REPLACE FUNCTION daz.ingest(p_events daz.event_in[])
RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, daz, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_prefix   text := COALESCE(NULLIF(daz.setting('command_prefix', '!'), ''), '!');
    v_max      int  := COALESCE(daz.setting('ingest_max_batch', '100000')::int, 100000);
    v_drop     text[];
    v_drop_all boolean;
    v_max_ret  interval;
    v_short    text[];
    v_any_short boolean;
    v_stored   int;
    v_media    daz.event_in[];
    v_key_tags  text[];
    v_key_types text[];
    v_key_rooms text[];
    v_min      timestamptz;
    v_max_at   timestamptz;
    v_fast     boolean;
    v_history  boolean;
    v_try      int := 0;
    v_seen     bigint[] := '{}';
    v_stale    bigint[] := '{}';
BEGIN
    IF p_events IS NULL OR cardinality(p_events) = 0 THEN
        RETURN 0;
    END IF;
    IF array_ndims(p_events) <> 1 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('daz.ingest: the batch must be a one-dimensional array, got %s dimensions', array_ndims(p_events));
    END IF;
    IF cardinality(p_events) > v_max THEN
        RAISE EXCEPTION USING ERRCODE = '54000',
            MESSAGE = format('daz.ingest: %s events in one batch, the limit is %s (setting ingest_max_batch)',
                             cardinality(p_events), v_max);
    END IF;

    -- Log rules, read once per batch: a change applies from the next batch.
    SELECT COALESCE(array_agg(r.tag) FILTER (WHERE r.action = 'drop'), '{}'),
           COALESCE(bool_or(r.tag = '*' AND r.action = 'drop'), false),
           COALESCE(max(r.retention) FILTER (WHERE r.action = 'store'), interval '90 days')
      INTO v_drop, v_drop_all, v_max_ret
      FROM daz.log_rules r;
    IF (SELECT count(DISTINCT r.retention) FROM daz.log_rules r WHERE r.action = 'store') > 1 THEN
        SELECT COALESCE(array_agg(r.tag), '{}') INTO v_short
          FROM daz.log_rules r WHERE r.action = 'store' AND r.retention < v_max_ret;
    ELSE
        v_short := '{}';
    END IF;
    v_any_short := v_short <> '{}';  -- per row, the expiry test is then one flag when no rule is shorter
    -- Routing keys: each enabled subscription is reduced to one cheap necessary condition (a tag
    -- outside the common vocabulary it requires, else one of its types, else one of its rooms, else
    -- its first tag). Only events meeting some key are matched against the subscriptions, so an
    -- event that no subscription can match costs three array tests, whatever the number of them.
    SELECT COALESCE(array_agg(DISTINCT k.key) FILTER (WHERE k.kind = 'tag'), '{}'),
           COALESCE(array_agg(DISTINCT k.key) FILTER (WHERE k.kind = 'type'), '{}'),
           COALESCE(array_agg(DISTINCT k.key) FILTER (WHERE k.kind = 'room'), '{}')
      INTO v_key_tags, v_key_types, v_key_rooms
      FROM daz.subscriptions s
      LEFT JOIN LATERAL (
           SELECT t FROM unnest(s.tags) AS t
            WHERE t NOT LIKE 'room:%'
              AND t NOT IN ('chat', 'user-message', 'private', 'user', 'presence', 'media', 'change', 'queue', 'update',
                            'system', 'connection', 'unknown', 'action', 'history', 'bot')
            LIMIT 1) AS r(rare) ON true
     CROSS JOIN LATERAL (
           SELECT CASE WHEN r.rare IS NOT NULL THEN 'tag' WHEN s.types IS NOT NULL THEN 'type'
                       WHEN s.rooms IS NOT NULL THEN 'room' ELSE 'tag' END,
                  unnest(CASE WHEN r.rare IS NOT NULL THEN ARRAY[r.rare] WHEN s.types IS NOT NULL THEN s.types
                              WHEN s.rooms IS NOT NULL THEN s.rooms ELSE s.tags[1:1] END)) AS k(kind, key)
     WHERE s.enabled;

    -- Fast path: when nothing is stored between the batch's earliest and latest received_at (the
    -- live stream: dazd stamps events with its own clock), no stored row has the key (received_at,
    -- id) of a row of the batch, and the rows are inserted as they are. Otherwise the rows already
    -- stored and the repeats of a row within the batch are left out first. ON CONFLICT is not used:
    -- its speculative insertion cost about a tenth of the whole call. A duplicate neither path can
    -- see, inserted by a concurrent session, makes the insert wait for that session and, once it
    -- has committed, raise unique_violation: the statement is rolled back and run again (on the
    -- careful path), and then sees that row as stored.
    -- The same pass tells whether the batch holds replayed chat lines (history dedup below).
    -- (unnest in the select list: each element is read in place, not copied into a tuplestore.)
    SELECT min((x.e).received_at), max((x.e).received_at),
           COALESCE(bool_or((x.e).type = 'chatMsg' AND (x.e).tags @> '{history}'), false)
      INTO v_min, v_max_at, v_history
      FROM (SELECT unnest(p_events) AS e) x;
    -- (The first such row by the primary key: one index probe in the day's partition, usually.)
    v_fast := (SELECT ev.received_at FROM daz.events ev
                WHERE ev.received_at >= v_min AND ev.received_at <= v_max_at
                ORDER BY ev.received_at LIMIT 1) IS NULL;
    <<batch>>
    LOOP
        -- The lookups of stored rows run as statements of their own, and only when needed: inside the
        -- big statement their scan of every partition would be set up for every batch.
        -- Replayed history lines already stored: same (room, server_time, actor, text), another id,
        -- within a day of the line's server time (index events_chat_seen).
        IF v_history THEN
            SELECT COALESCE(array_agg(x.ord), '{}') INTO v_seen
              FROM (SELECT unnest(p_events) AS e, generate_series(1::bigint, cardinality(p_events)) AS ord) x
             WHERE (x.e).type = 'chatMsg' AND (x.e).tags @> '{history}'
               AND EXISTS (SELECT 1 FROM daz.events ev
                            WHERE ev.type = 'chatMsg' AND ev.room = (x.e).room AND ev.server_time = (x.e).server_time
                              AND ev.received_at >= (x.e).server_time - interval '1 day'
                              AND ev.received_at < (x.e).server_time + interval '1 day'
                              AND ev.actor IS NOT DISTINCT FROM (x.e).actor
                              AND ev.payload->'msg' IS NOT DISTINCT FROM (x.e).payload->'msg'
                              AND ev.id <> (x.e).id);
        END IF;
        -- Careful path: the rows of the batch already stored.
        IF NOT v_fast THEN
            SELECT COALESCE(array_agg(x.ord), '{}') INTO v_stale
              FROM unnest(p_events) WITH ORDINALITY AS x(id, received_at, room, type, tags, actor, server_time, payload, ord)
             WHERE EXISTS (SELECT 1 FROM daz.events ev WHERE ev.received_at = x.received_at AND ev.id = x.id);
        END IF;
        BEGIN
            WITH src AS MATERIALIZED (
                SELECT e.id, e.received_at, e.room, e.type, e.actor, e.server_time, e.payload, e.ord,
                       e.ctags AS tags,
                       CASE
                           -- The usual case first, in one test: id and time present, room and type of 1..64
                           -- bytes (so of 1..64 characters, without counting them) without control characters
                           -- (one regular expression for both). Longer multibyte names go through the checks below.
                           WHEN e.id IS NOT NULL AND e.received_at IS NOT NULL
                                AND octet_length(e.room) BETWEEN 1 AND 64 AND octet_length(e.type) BETWEEN 1 AND 64
                                AND e.room || e.type !~ '[[:cntrl:]]' THEN NULL
                           WHEN e.id IS NULL THEN 'id is missing'
                           WHEN e.received_at IS NULL THEN 'received_at is missing'
                           WHEN e.room IS NULL OR e.room = '' THEN 'room is empty'
                           WHEN length(e.room) > 64 THEN 'room is longer than 64 characters'
                           WHEN e.room ~ '[[:cntrl:]]' THEN 'room has control characters'
                           WHEN e.type IS NULL OR e.type = '' THEN 'type is empty'
                           WHEN length(e.type) > 64 THEN 'type is longer than 64 characters'
                           WHEN e.type ~ '[[:cntrl:]]' THEN 'type has control characters'
                       END AS reason,
                       v_drop_all OR e.ctags && v_drop AS dropped
                  -- (OFFSET 0 keeps the inner query whole, so the tags are computed once per row: pulled up,
                  -- their expression would be evaluated once for each use.)
                  FROM (SELECT e.*,
                               -- The database adds "command" to chat and PM lines that start with the prefix (dazd may not know it).
                               CASE
                                   WHEN e.type IN ('chatMsg', 'pm')
                                        AND left(e.payload->>'msg', length(v_prefix)) = v_prefix
                                        AND NOT COALESCE(e.tags, '{}') @> '{command}'
                                   THEN COALESCE(e.tags, '{}') || '{command}'::text[]
                                   ELSE COALESCE(e.tags, '{}')
                               END AS ctags
                          FROM unnest(p_events) WITH ORDINALITY
                                   AS e(id, received_at, room, type, tags, actor, server_time, payload, ord)
                        OFFSET 0) AS e
            ),
            rejected AS (
                INSERT INTO daz.rejected_events (id, received_at, room, type, reason, event)
                SELECT s.id, s.received_at, left(s.room, 200), left(s.type, 200), s.reason,
                       jsonb_build_object('id', s.id, 'received_at', s.received_at, 'room', s.room, 'type', s.type,
                                          'tags', s.tags, 'actor', s.actor, 'server_time', s.server_time, 'payload', s.payload)
                  FROM src s
                 WHERE s.reason IS NOT NULL
            ),
            -- A replayed history line is skipped when the same (room, server_time, actor, text) is already
            -- stored (v_seen) or appears earlier in this batch. Only batches that hold history lines pay for it.
            history_dup AS MATERIALIZED (
                SELECT x.id
                  FROM (SELECT s.id, s.ord, s.tags,
                               row_number() OVER (PARTITION BY s.room, s.server_time, s.actor, s.payload->'msg'
                                                  ORDER BY s.ord) AS k
                          FROM src s
                         WHERE v_history
                           AND s.reason IS NULL AND NOT s.dropped AND s.type = 'chatMsg') x
                 WHERE x.tags @> '{history}'
                   AND (x.k > 1 OR x.ord = ANY (v_seen))
            ),
            -- Careful path only: the rows already stored (v_stale), and the second and later rows of the
            -- batch with the same key.
            stale AS MATERIALIZED (
                SELECT x.ord
                  FROM (SELECT s.ord, row_number() OVER (PARTITION BY s.received_at, s.id ORDER BY s.ord) AS k
                          FROM src s
                         WHERE NOT v_fast AND s.reason IS NULL AND NOT s.dropped) x
                 WHERE x.k > 1 OR x.ord = ANY (v_stale)
            ),
            -- Each row of the batch with whether it is stored (the duplicate lists are only looked at on
            -- the paths that fill them). The insert has no ON CONFLICT: it stores
            -- every row flagged, or fails whole. So the stored rows are known without RETURNING them, and
            -- what follows reads them from src in place (flagged and ins are not materialized).
            flagged AS NOT MATERIALIZED (
                SELECT s.*,
                       s.reason IS NULL AND NOT s.dropped
                       AND (NOT v_history OR s.id NOT IN (SELECT d.id FROM history_dup d))
                       AND (v_fast OR s.ord NOT IN (SELECT t.ord FROM stale t)) AS stored
                  FROM src s
            ),
            ins AS NOT MATERIALIZED (
                SELECT f.id, f.received_at, f.room, f.type, f.tags, f.actor, f.server_time, f.payload
                  FROM flagged f
                 WHERE f.stored
            ),
            ins_events AS (
                INSERT INTO daz.events (id, received_at, room, type, tags, actor, server_time, payload, expires_at)
                SELECT i.id, i.received_at, i.room, i.type, i.tags, i.actor, i.server_time, i.payload,
                       CASE WHEN v_any_short AND (i.tags && v_short OR '*' = ANY (v_short)) THEN
                           i.received_at + (SELECT min(r.retention) FROM daz.log_rules r
                                             WHERE r.action = 'store' AND (r.tag = ANY (i.tags) OR r.tag = '*'))
                       END
                  FROM ins i
            ),
            -- The UTC hour by date_bin from a UTC midnight: plain arithmetic (date_trunc with a zone name
            -- looks the zone up on every row).
            counts AS MATERIALIZED (
                SELECT date_bin('1 hour', f.received_at, timestamptz '2000-01-01 00:00+00') AS hour, f.room, f.type,
                       count(*) FILTER (WHERE f.stored) AS stored, count(*) FILTER (WHERE f.dropped) AS dropped,
                       count(*) FILTER (WHERE NOT f.dropped) - count(*) FILTER (WHERE f.stored) AS duplicates
                  FROM flagged f
                 WHERE f.reason IS NULL
                 GROUP BY 1, 2, 3
            ),
            counters AS (
                INSERT INTO daz.ingest_counters AS c (hour, room, type, stored, dropped, duplicates)
                SELECT n.hour, n.room, n.type, n.stored, n.dropped, n.duplicates FROM counts n
                ON CONFLICT (hour, room, type) DO UPDATE
                   SET stored = c.stored + EXCLUDED.stored,
                       dropped = c.dropped + EXCLUDED.dropped,
                       duplicates = c.duplicates + EXCLUDED.duplicates
            ),
            -- The few stored events needed beyond counting and chat: presence and playlist events and
            -- those meeting a routing key (see cand), taken from the batch in one pass.
            side AS MATERIALIZED (
                SELECT i.id, i.received_at, i.room, i.type, i.tags, i.actor, i.server_time, i.payload,
                       i.tags && v_key_tags OR i.type = ANY (v_key_types) OR i.room = ANY (v_key_rooms) AS routable
                  FROM ins i
                 WHERE i.type IN ('addUser', 'userLeave', 'userlist', 'setUserRank', 'setAFK',
                                  'playlist', 'queue', 'delete', 'moveVideo', 'setTemp', 'setCurrent', 'changeMedia')
                    OR i.tags && v_key_tags OR i.type = ANY (v_key_types) OR i.room = ANY (v_key_rooms)
            ),
            pev AS NOT MATERIALIZED (
                SELECT i.id, i.received_at, i.room, i.type, i.payload
                  FROM side i
                 WHERE i.type IN ('addUser', 'userLeave', 'userlist', 'setUserRank', 'setAFK')
            ),
            -- Presence facts, one per (event, user): online / rank / afk where the event says so. An
            -- addUser, userLeave, setUserRank or setAFK gives one fact (plain expressions); a userlist one
            -- per user listed.
            pres AS (
                SELECT f.*
                  FROM (SELECT i.room, i.payload->>'name' AS name, i.received_at AS at, i.id,
                               CASE i.type WHEN 'addUser' THEN true WHEN 'userLeave' THEN false END AS online,
                               CASE WHEN i.type IN ('addUser', 'setUserRank') AND jsonb_typeof(i.payload->'rank') = 'number'
                                    THEN (i.payload->>'rank')::numeric END AS rank,
                               CASE WHEN i.type = 'addUser' AND jsonb_typeof(i.payload->'meta'->'afk') = 'boolean'
                                    THEN (i.payload->'meta'->>'afk')::boolean
                                    WHEN i.type = 'setAFK' AND jsonb_typeof(i.payload->'afk') = 'boolean'
                                    THEN (i.payload->>'afk')::boolean END AS afk,
                               false AS implied
                          FROM pev i
                         WHERE i.type <> 'userlist'
                        UNION ALL
                        SELECT i.room, u->>'name', i.received_at, i.id, true,
                               CASE WHEN jsonb_typeof(u->'rank') = 'number' THEN (u->>'rank')::numeric END,
                               CASE WHEN jsonb_typeof(u->'meta'->'afk') = 'boolean' THEN (u->'meta'->>'afk')::boolean END,
                               false
                          FROM pev i
                         CROSS JOIN LATERAL jsonb_array_elements(i.payload) AS u
                         WHERE i.type = 'userlist' AND jsonb_typeof(i.payload) = 'array') f
                 WHERE f.name IS NOT NULL AND f.name <> '' AND f.name !~ '^[{\[]'
            ),
            -- A userlist is a full snapshot: everyone known in the room and not in it is offline at that point.
            snap AS (
                SELECT i.room, i.received_at AS at, i.id,
                       ARRAY(SELECT u->>'name' FROM jsonb_array_elements(i.payload) AS u WHERE u->>'name' IS NOT NULL) AS names
                  FROM pev i
                 WHERE i.type = 'userlist' AND jsonb_typeof(i.payload) = 'array'
            ),
            implied AS (
                SELECT k.room, k.name, s.at, s.id, false AS online, NULL::numeric AS rank, NULL::boolean AS afk, true AS implied
                  FROM snap s
                  JOIN (SELECT u.room, u.name FROM daz.users u WHERE u.online AND u.room IN (SELECT room FROM snap)
                        UNION
                        SELECT p.room, p.name FROM pres p) AS k ON k.room = s.room
                 WHERE k.name <> ALL (s.names)
            ),
            facts AS (
                SELECT * FROM pres
                UNION ALL
                SELECT * FROM implied
            ),
            -- One row per user seen in the batch: last presence values (the first of each user's few facts
            -- in an order per value: one sort of all facts per value, not one per user), chat count and
            -- times: the facts and the chat lines go through one plain aggregation (no join, and no
            -- grouping of the chat lines of their own first).
            per_user AS (
                SELECT x.room, x.name, bool_or(x.online) AS online, max(x.rank) AS rank, bool_or(x.afk) AS afk,
                       min(x.first_at) AS first_at, max(x.last_at) AS last_at, sum(x.n) AS n, max(x.last_msg) AS last_msg
                  FROM (SELECT f.room, f.name,
                               first_value(f.online) OVER (PARTITION BY f.room, f.name ORDER BY f.online IS NULL, f.at DESC, f.id DESC) AS online,
                               first_value(f.rank) OVER (PARTITION BY f.room, f.name ORDER BY f.rank IS NULL, f.at DESC, f.id DESC) AS rank,
                               first_value(f.afk) OVER (PARTITION BY f.room, f.name ORDER BY f.afk IS NULL, f.at DESC, f.id DESC) AS afk,
                               CASE WHEN NOT f.implied THEN f.at END AS first_at,
                               CASE WHEN NOT f.implied THEN f.at END AS last_at,
                               0 AS n, NULL::timestamptz AS last_msg
                          FROM facts f
                        UNION ALL
                        SELECT i.room, i.actor, NULL, NULL, NULL, i.received_at, i.received_at,
                               1, COALESCE(i.server_time, i.received_at)
                          FROM ins i
                         WHERE i.type = 'chatMsg' AND i.actor IS NOT NULL AND i.actor <> '' AND i.actor NOT LIKE '[%]') x
                 GROUP BY x.room, x.name
            ),
            -- Known users: one update each, in place (presence values where the batch has them, counters
            -- added). The values are merged with the row as it is when updated, not as first read.
            users_up AS (
                UPDATE daz.users u
                   SET rank = COALESCE(p.rank, u.rank),
                       online = COALESCE(p.online, u.online),
                       afk = COALESCE(p.afk, u.afk),
                       first_seen = LEAST(u.first_seen, p.first_at),
                       last_seen = GREATEST(u.last_seen, p.last_at),
                       last_message_at = GREATEST(u.last_message_at, p.last_msg),
                       messages = u.messages + p.n
                  FROM per_user p
                 WHERE u.room = p.room AND u.name = p.name
                RETURNING u.room, u.name
            ),
            -- The users the update did not find are new (read from the update's own result: no second look
            -- at daz.users); when it updated as many rows as there are users in the batch (the usual case),
            -- there are none and the lookup is skipped. A user only implied offline by a userlist is not added. Another session may
            -- have added the user meanwhile: then its row is merged with, in two inserts so that a user
            -- who only chatted here leaves the presence values of that row as they are.
            users_new AS (
                SELECT p.*
                  FROM per_user p
                 WHERE (SELECT count(*) FROM users_up) < (SELECT count(*) FROM per_user)
                   AND p.first_at IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM users_up c WHERE c.room = p.room AND c.name = p.name)
            ),
            users_new_pres AS (
                INSERT INTO daz.users AS u (room, name, rank, online, afk, first_seen, last_seen, last_message_at, messages)
                SELECT p.room, p.name, p.rank, COALESCE(p.online, false), COALESCE(p.afk, false),
                       p.first_at, p.last_at, p.last_msg, p.n
                  FROM users_new p
                 WHERE p.online IS NOT NULL OR p.afk IS NOT NULL OR p.rank IS NOT NULL
                ON CONFLICT (room, name) DO UPDATE
                   SET rank = COALESCE(EXCLUDED.rank, u.rank),
                       online = EXCLUDED.online,
                       afk = EXCLUDED.afk,
                       first_seen = LEAST(u.first_seen, EXCLUDED.first_seen),
                       last_seen = GREATEST(u.last_seen, EXCLUDED.last_seen),
                       last_message_at = GREATEST(u.last_message_at, EXCLUDED.last_message_at),
                       messages = u.messages + EXCLUDED.messages
            ),
            users_new_chat AS (
                INSERT INTO daz.users AS u (room, name, first_seen, last_seen, last_message_at, messages)
                SELECT p.room, p.name, p.first_at, p.last_at, p.last_msg, p.n
                  FROM users_new p
                 WHERE p.online IS NULL AND p.afk IS NULL AND p.rank IS NULL
                ON CONFLICT (room, name) DO UPDATE
                   SET first_seen = LEAST(u.first_seen, EXCLUDED.first_seen),
                       last_seen = GREATEST(u.last_seen, EXCLUDED.last_seen),
                       last_message_at = GREATEST(u.last_message_at, EXCLUDED.last_message_at),
                       messages = u.messages + EXCLUDED.messages
            ),
            -- Sessions: each offline -> online change opens one, each online -> offline change closes one.
            changes AS (
                SELECT x.room, x.name, x.at, x.id, x.online,
                       lead(x.at) OVER w AS next_at,
                       row_number() OVER w AS k
                  FROM (SELECT f.room, f.name, f.at, f.id, f.online,
                               lag(f.online) OVER (PARTITION BY f.room, f.name ORDER BY f.at, f.id) AS prev,
                               cur.online AS was
                          FROM facts f
                          LEFT JOIN LATERAL (SELECT u0.online FROM daz.users u0
                                              WHERE u0.room = f.room AND u0.name = f.name LIMIT 1) cur ON true
                         WHERE f.online IS NOT NULL) x
                 WHERE x.online IS DISTINCT FROM COALESCE(x.prev, x.was, false)
                WINDOW w AS (PARTITION BY x.room, x.name ORDER BY x.at, x.id)
            ),
            sessions_open AS (
                INSERT INTO daz.user_sessions (room, name, joined_at, left_at)
                SELECT c.room, c.name, c.at, c.next_at FROM changes c WHERE c.online
            ),
            sessions_close AS (
                UPDATE daz.user_sessions us SET left_at = GREATEST(c.at, us.joined_at)
                  FROM changes c
                 WHERE NOT c.online AND c.k = 1
                   AND us.room = c.room AND us.name = c.name AND us.left_at IS NULL
            ),
            -- Routing (issue 9): every stored event matching an enabled subscription becomes one job. The
            -- enabled subscriptions are read once per batch; the events meeting a routing key are taken
            -- with their payload built once, however many subscriptions they match. The payload is the
            -- event as a daz.event_in (same keys as jsonb_build_object of the fields, a quarter cheaper).
            subs AS MATERIALIZED (
                SELECT sub.name, sub.tags, sub.exclude_tags, sub.types, sub.rooms, sub.queue, sub.handler,
                       sub.priority, q.max_attempts
                  FROM daz.subscriptions sub
                  JOIN daz.queues q ON q.name = sub.queue
                 WHERE sub.enabled
            ),
            cand AS MATERIALIZED (
                SELECT i.id, i.room, i.type, i.tags,
                       to_jsonb(ROW(i.id, i.received_at, i.room, i.type, i.tags, i.actor, i.server_time, i.payload)::daz.event_in) AS payload
                  FROM side i
                 WHERE i.routable
            ),
            routed AS (
                INSERT INTO daz.jobs (queue, kind, room, payload, priority, max_attempts, correlation_id, handler)
                SELECT s.queue, s.name, c.room, c.payload, s.priority, s.max_attempts, c.id::text, s.handler
                  FROM cand c
                  JOIN subs s
                    -- Cheapest tests first: type and room, then the tag arrays.
                    ON (s.types IS NULL OR c.type = ANY (s.types))
                   AND (s.rooms IS NULL OR c.room = ANY (s.rooms))
                   AND c.tags @> s.tags
                   AND NOT c.tags && s.exclude_tags
            )
            SELECT COALESCE((SELECT sum(n.stored) FROM counts n), 0),
                   array_agg(ROW(i.id, i.received_at, i.room, i.type, i.tags, i.actor, i.server_time, i.payload)::daz.event_in)
              INTO v_stored, v_media
              FROM side i
             WHERE i.type IN ('playlist', 'queue', 'delete', 'moveVideo', 'setTemp', 'setCurrent', 'changeMedia');
            EXIT batch;
        EXCEPTION WHEN unique_violation THEN
            -- Only the events' primary key can be violated (the other inserts resolve their conflicts).
            v_try := v_try + 1;
            IF v_try > 3 THEN
                RAISE;
            END IF;
            v_fast := false;
        END;
    END LOOP;

    IF v_media IS NOT NULL THEN
        BEGIN
            PERFORM daz.events_apply_playlist(v_media);
        EXCEPTION WHEN data_exception THEN
            -- A hostile playlist payload must not cost the batch: the events are stored, the mirror skips them.
            RAISE WARNING 'daz.ingest: playlist events of this batch not applied: %', SQLERRM;
        END;
    END IF;
    RETURN v_stored;
END;
$$;
COMMENT ON FUNCTION daz.ingest(daz.event_in[]) IS
    'Stores one batch of CyTube events (dazd calls it once per batch) and returns the number of rows stored. '
    'Idempotent on id: a resent event is skipped. Rows with a missing id or a malformed room or type go to '
    'daz.rejected_events; the rest is stored. Applies daz.log_rules (drop, retention), adds tag command to chat/pm lines '
    'starting with setting command_prefix, skips replayed history lines already stored, updates daz.ingest_counters, '
    'daz.users, daz.user_sessions, daz.playlist and daz.media_plays, and turns events matching enabled '
    'daz.subscriptions into jobs (one wake-up per queue). All set-wise, in the caller''s transaction.';

REVOKE ALL ON FUNCTION daz.ingest(daz.event_in[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION daz.events_apply_playlist(daz.event_in[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION daz.events_playlist_pos(text, jsonb, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION daz.events_uid(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION daz.ingest(daz.event_in[]) TO daz_daemon;

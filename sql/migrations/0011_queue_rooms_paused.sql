-- 0011_queue_rooms_paused.sql — each queue's row carries the rooms held by daz.pause_room.
--
-- A claim took the held rooms of its queue from daz.paused_rooms with a subquery, and PostgreSQL
-- sets up every subquery of a statement when the statement starts: about 30,000 instructions on
-- every claim (of 818,000 for a single-job claim and its acknowledgement), rooms held or not. The
-- claim reads its queue's row anyway, for the lease; that row now holds the rooms as an array,
-- kept equal to daz.paused_rooms by the triggers below, in the transaction that changes the table.
-- daz.paused_rooms stays what operators and DBAs read and write.

ALTER TABLE daz.queues ADD COLUMN rooms_paused text[] NOT NULL DEFAULT '{}';
COMMENT ON COLUMN daz.queues.rooms_paused IS
    'The rooms of this queue in daz.paused_rooms (no particular order), for the claim to read with the queue; kept by '
    'triggers on daz.paused_rooms: change that table, not this column.';

CREATE FUNCTION daz.paused_rooms_sync() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, daz, pg_temp
AS $fn$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE daz.queues SET rooms_paused = '{}' WHERE rooms_paused <> '{}';
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.queue = NEW.queue AND OLD.room = NEW.room THEN
        RETURN NULL;
    END IF;
    -- Each step is right whatever the array already holds: a queue renamed (the foreign key
    -- cascades to this table) brought its rooms along in its row.
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE daz.queues SET rooms_paused = array_remove(rooms_paused, OLD.room)
         WHERE name = OLD.queue AND OLD.room = ANY (rooms_paused);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE daz.queues SET rooms_paused = rooms_paused || NEW.room
         WHERE name = NEW.queue AND NOT NEW.room = ANY (rooms_paused);
    END IF;
    RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION daz.paused_rooms_sync() IS
    'Trigger on daz.paused_rooms: keeps daz.queues.rooms_paused equal to the rooms held on each queue.';
REVOKE ALL ON FUNCTION daz.paused_rooms_sync() FROM PUBLIC;

CREATE TRIGGER paused_rooms_sync
    AFTER INSERT OR UPDATE OR DELETE ON daz.paused_rooms
    FOR EACH ROW EXECUTE FUNCTION daz.paused_rooms_sync();
COMMENT ON TRIGGER paused_rooms_sync ON daz.paused_rooms IS 'Keeps daz.queues.rooms_paused up to date.';
CREATE TRIGGER paused_rooms_truncated
    AFTER TRUNCATE ON daz.paused_rooms
    FOR EACH STATEMENT EXECUTE FUNCTION daz.paused_rooms_sync();
COMMENT ON TRIGGER paused_rooms_truncated ON daz.paused_rooms IS 'Empties daz.queues.rooms_paused.';

UPDATE daz.queues q
   SET rooms_paused = COALESCE((SELECT array_agg(pr.room ORDER BY pr.room) FROM daz.paused_rooms pr WHERE pr.queue = q.name), '{}');

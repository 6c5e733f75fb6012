-- queue_rule.sql — inserted jobs: their queues must exist (checked once per statement), then one wake-up per queue.

-- The statement trigger on daz.jobs for inserted rows. First the rule of a foreign key, checked
-- once per statement instead of once per row: every new job's queue exists, and those queues are
-- locked FOR KEY SHARE (as a foreign key locks them) so that nobody deletes or renames them before
-- this transaction ends; a queue deleted by a transaction that committed first is missing here.
-- Then the wake-up: pg_notify('daz_jobs', queue) once per queue with jobs runnable now, on queues
-- that are not paused (a hint: workers also poll; sent only if the transaction commits).
CREATE OR REPLACE FUNCTION daz.queue_jobs_inserted() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, daz, pg_temp
AS $fn$
DECLARE
    v_missing text;
BEGIN
    SELECT n.queue INTO v_missing
      FROM (SELECT DISTINCT j.queue FROM new_jobs j) AS n
      LEFT JOIN LATERAL (SELECT q.name FROM daz.queues q WHERE q.name = n.queue FOR KEY SHARE) AS q ON true
     WHERE q.name IS NULL
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = '23503',
            MESSAGE = format('insert or update on table "jobs" violates its queue rule: queue "%s" does not exist', v_missing),
            HINT = 'Create the queue first: INSERT INTO daz.queues (name) VALUES (...).';
    END IF;
    PERFORM pg_notify('daz_jobs', n.queue)
       FROM (SELECT DISTINCT j.queue FROM new_jobs j WHERE j.state = 'ready' AND j.run_at <= now()) AS n
       JOIN daz.queues q ON q.name = n.queue AND NOT q.paused;
    RETURN NULL;
END
$fn$;

COMMENT ON FUNCTION daz.queue_jobs_inserted() IS
    'Statement trigger on daz.jobs (INSERT): raises foreign_key_violation unless every new job''s queue exists (and locks '
    'those queues FOR KEY SHARE), then NOTIFY daz_jobs once per queue (payload: the queue name) for jobs runnable now on '
    'queues that are not paused.';
REVOKE ALL ON FUNCTION daz.queue_jobs_inserted() FROM PUBLIC;

CREATE OR REPLACE TRIGGER jobs_inserted
    AFTER INSERT ON daz.jobs
    REFERENCING NEW TABLE AS new_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION daz.queue_jobs_inserted();

COMMENT ON TRIGGER jobs_inserted ON daz.jobs IS
    'Once per INSERT statement: every new job''s queue must exist (the foreign key rule), then wakes listeners of '
    'channel daz_jobs once per queue when runnable jobs arrive.';

-- A job moved to another queue (by hand, or by a queue's rename below): the new queue must exist.
CREATE OR REPLACE FUNCTION daz.queue_job_moved() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, daz, pg_temp
AS $fn$
BEGIN
    PERFORM 1 FROM daz.queues q WHERE q.name = NEW.queue FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = '23503',
            MESSAGE = format('insert or update on table "jobs" violates its queue rule: queue "%s" does not exist', NEW.queue);
    END IF;
    RETURN NEW;
END
$fn$;

COMMENT ON FUNCTION daz.queue_job_moved() IS
    'Row trigger on daz.jobs (UPDATE OF queue): raises foreign_key_violation unless the new queue exists.';
REVOKE ALL ON FUNCTION daz.queue_job_moved() FROM PUBLIC;

CREATE OR REPLACE TRIGGER jobs_queue_changed
    BEFORE UPDATE OF queue ON daz.jobs
    FOR EACH ROW WHEN (OLD.queue IS DISTINCT FROM NEW.queue)
    EXECUTE FUNCTION daz.queue_job_moved();

COMMENT ON TRIGGER jobs_queue_changed ON daz.jobs IS
    'A job''s queue may only change to a queue that exists (claims never change it, so they do not fire this).';

-- The queue side of the rule, one function for its three triggers: a queue with jobs cannot be
-- deleted or truncated away, and a rename carries its jobs along (ON UPDATE CASCADE). AFTER the
-- row is deleted, the check runs with a new snapshot, so it also sees the jobs of an inserter that
-- held the queue's lock until it committed.
CREATE OR REPLACE FUNCTION daz.queue_row_changed() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, daz, pg_temp
AS $fn$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        IF EXISTS (SELECT 1 FROM daz.jobs) THEN
            RAISE EXCEPTION USING ERRCODE = '23503',
                MESSAGE = 'truncate of table "queues" violates the queue rule of "jobs": there are jobs',
                HINT = 'Empty daz.jobs first.';
        END IF;
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        IF EXISTS (SELECT 1 FROM daz.jobs j WHERE j.queue = OLD.name) THEN
            RAISE EXCEPTION USING ERRCODE = '23503',
                MESSAGE = format('update or delete on table "queues" violates the queue rule of "jobs": queue "%s" still has jobs', OLD.name),
                HINT = 'Cancel or finish its jobs first (daz.cancel), or move them to another queue.';
        END IF;
        RETURN OLD;
    END IF;
    UPDATE daz.jobs j SET queue = NEW.name WHERE j.queue = OLD.name;
    RETURN NEW;
END
$fn$;

COMMENT ON FUNCTION daz.queue_row_changed() IS
    'Triggers on daz.queues: refuses to delete a queue that has jobs, or to truncate daz.queues while jobs exist '
    '(foreign_key_violation); a renamed queue takes its jobs along.';
REVOKE ALL ON FUNCTION daz.queue_row_changed() FROM PUBLIC;

CREATE OR REPLACE TRIGGER queues_deleted
    AFTER DELETE ON daz.queues
    FOR EACH ROW EXECUTE FUNCTION daz.queue_row_changed();

COMMENT ON TRIGGER queues_deleted ON daz.queues IS 'A queue that still has jobs cannot be deleted.';

CREATE OR REPLACE TRIGGER queues_renamed
    AFTER UPDATE OF name ON daz.queues
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION daz.queue_row_changed();

COMMENT ON TRIGGER queues_renamed ON daz.queues IS 'A renamed queue takes its jobs along.';

CREATE OR REPLACE TRIGGER queues_truncated
    BEFORE TRUNCATE ON daz.queues
    FOR EACH STATEMENT EXECUTE FUNCTION daz.queue_row_changed();

COMMENT ON TRIGGER queues_truncated ON daz.queues IS 'daz.queues cannot be truncated while jobs exist.';

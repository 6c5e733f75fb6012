-- queue_notify.sql — wake-up: one pg_notify('daz_jobs', queue) per statement per queue with jobs runnable now.

CREATE OR REPLACE FUNCTION daz.queue_notify_inserted() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, daz, pg_temp
AS $fn$
BEGIN
    PERFORM pg_notify('daz_jobs', n.queue)
       FROM (SELECT DISTINCT j.queue FROM new_jobs j WHERE j.state = 'ready' AND j.run_at <= now()) AS n
       JOIN daz.queues q ON q.name = n.queue AND NOT q.paused;
    RETURN NULL;
END
$fn$;

COMMENT ON FUNCTION daz.queue_notify_inserted() IS
    'Statement trigger on daz.jobs: NOTIFY daz_jobs once per queue (payload: the queue name) for inserted jobs runnable now '
    'on queues that are not paused. A wake-up hint only; workers also poll.';
REVOKE ALL ON FUNCTION daz.queue_notify_inserted() FROM PUBLIC;

CREATE OR REPLACE TRIGGER jobs_notify_insert
    AFTER INSERT ON daz.jobs
    REFERENCING NEW TABLE AS new_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION daz.queue_notify_inserted();

COMMENT ON TRIGGER jobs_notify_insert ON daz.jobs IS
    'Wakes listeners of channel daz_jobs once per statement and queue when runnable jobs arrive.';

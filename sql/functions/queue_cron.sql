-- queue_cron.sql — queue housekeeping and its pg_cron schedule (installed only where pg_cron exists).

CREATE OR REPLACE PROCEDURE daz.prune_job_results(p_batch integer DEFAULT 10000, p_max_batches integer DEFAULT 1000)
LANGUAGE plpgsql
AS $fn$
-- No SET clause and no SECURITY DEFINER: a procedure with either cannot COMMIT, and this one
-- commits between batches. Every name is schema-qualified instead.
DECLARE
    v_n     integer;
    v_total bigint := 0;
BEGIN
    IF p_batch IS NULL OR p_batch < 1 OR p_max_batches IS NULL OR p_max_batches < 1 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'daz.prune_job_results: batch and max_batches must be >= 1';
    END IF;
    IF NOT pg_catalog.pg_try_advisory_lock(pg_catalog.hashtext('daz.prune_job_results')) THEN
        RAISE NOTICE 'daz.prune_job_results: another run holds the lock, skipping';
        RETURN;
    END IF;
    FOR v_i IN 1..p_max_batches LOOP
        -- Each queue has its own retention, so the old rows are found by reading the table (no
        -- index is kept on completed_at: every acknowledgement would write it); the batch's rows
        -- are then deleted by primary key.
        DELETE FROM daz.job_results r
         WHERE r.id = ANY (ARRAY(SELECT r2.id
                                   FROM daz.job_results r2
                                   LEFT JOIN daz.queues q ON q.name = r2.queue
                                  WHERE q.name IS NULL OR r2.completed_at < pg_catalog.now() - q.retention
                                  LIMIT p_batch));
        GET DIAGNOSTICS v_n = ROW_COUNT;
        v_total := v_total + v_n;
        EXIT WHEN v_n < p_batch;
        COMMIT;
    END LOOP;
    PERFORM pg_catalog.pg_advisory_unlock(pg_catalog.hashtext('daz.prune_job_results'));
    RAISE NOTICE 'daz.prune_job_results: % rows removed', v_total;
END
$fn$;

COMMENT ON PROCEDURE daz.prune_job_results(integer, integer) IS
    'Delete job results older than their queue''s retention (and results of queues that no longer exist) in batches of '
    'p_batch, committing between batches. Guarded by an advisory lock; pg_cron runs it hourly (CALL it outside a '
    'transaction block to let it commit).';
REVOKE ALL ON PROCEDURE daz.prune_job_results(integer, integer) FROM PUBLIC;

CREATE OR REPLACE FUNCTION daz.prune_cron_history(p_keep interval DEFAULT '7 days') RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, daz, pg_temp
AS $fn$
DECLARE
    v_n bigint;
BEGIN
    IF p_keep IS NULL OR p_keep < interval '0' THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'daz.prune_cron_history: keep must be a non-negative interval';
    END IF;
    IF to_regclass('cron.job_run_details') IS NULL
       OR NOT pg_try_advisory_xact_lock(hashtext('daz.prune_cron_history')) THEN
        RETURN 0;
    END IF;
    EXECUTE 'DELETE FROM cron.job_run_details WHERE end_time < now() - $1' USING p_keep;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_n;
END
$fn$;

COMMENT ON FUNCTION daz.prune_cron_history(interval) IS
    'Delete pg_cron run history (cron.job_run_details) older than p_keep; 0 where pg_cron is absent. '
    'Guarded by an advisory lock; pg_cron runs it daily.';
REVOKE ALL ON FUNCTION daz.prune_cron_history(interval) FROM PUBLIC;

CREATE OR REPLACE FUNCTION daz.install_cron() RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, daz, pg_temp
AS $fn$
DECLARE
    v_jobs CONSTANT text[][] := ARRAY[
        ARRAY['daz-rescue-expired', '* * * * *',
              'SELECT daz.rescue_expired(10000)'],
        ARRAY['daz-run-jobs', '* * * * *',
              'SET statement_timeout = ''50s''; '
              'SELECT CASE WHEN pg_try_advisory_xact_lock(hashtext(''daz.run_jobs/pg_cron'')) '
              'THEN daz.run_jobs(''pg_cron'', 1000) END'],
        ARRAY['daz-prune-job-results', '17 * * * *',
              'CALL daz.prune_job_results()'],
        ARRAY['daz-prune-cron-history', '43 3 * * *',
              'SELECT daz.prune_cron_history(interval ''7 days'')']];
BEGIN
    IF to_regnamespace('cron') IS NULL THEN
        RETURN 0;
    END IF;
    -- cron.schedule with a job name replaces that job, so running this again changes nothing.
    FOR v_i IN 1..array_length(v_jobs, 1) LOOP
        EXECUTE 'SELECT cron.schedule($1, $2, $3)' USING v_jobs[v_i][1], v_jobs[v_i][2], v_jobs[v_i][3];
    END LOOP;
    RETURN array_length(v_jobs, 1);
END
$fn$;

COMMENT ON FUNCTION daz.install_cron() IS
    'Schedule the queue''s pg_cron jobs (idempotent, by job name): daz-rescue-expired and daz-run-jobs every minute, '
    'daz-prune-job-results hourly, daz-prune-cron-history daily. Returns how many were scheduled, 0 without pg_cron.';
REVOKE ALL ON FUNCTION daz.install_cron() FROM PUBLIC;

-- Re-applied with every migrate, so schedule changes here reach existing installations.
DO $do$
BEGIN
    IF to_regnamespace('cron') IS NOT NULL THEN
        PERFORM daz.install_cron();
    END IF;
END
$do$;

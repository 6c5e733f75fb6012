-- queue_run_jobs.sql — daz.run_jobs: the in-database worker for queues with a handler.

CREATE OR REPLACE FUNCTION daz.run_jobs(p_worker text DEFAULT 'sql', p_limit integer DEFAULT 100) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, daz, pg_temp
AS $fn$
DECLARE
    v_queue   record;
    v_job     daz.jobs;
    v_handler regprocedure;
    v_result  jsonb;
    v_state   text;
    v_msg     text;
    v_done    integer := 0;
    v_stop    boolean := false;
BEGIN
    PERFORM daz.queue_check_worker_limit('daz.run_jobs', p_worker, p_limit);

    <<queues>>
    FOR v_queue IN SELECT q.name, q.handler FROM daz.queues q WHERE q.handler IS NOT NULL AND NOT q.paused
                    ORDER BY q.name
    LOOP
        -- One job per claim: the claim stays outside the job's subtransaction (the attempt counts even if
        -- the handler fails), and a slow handler does not sit on a batch of claimed jobs.
        LOOP
            EXIT queues WHEN v_done >= p_limit OR v_stop;
            v_job := NULL;
            SELECT * INTO v_job FROM daz.queue_claim(v_queue.name, p_worker, 1, NULL);
            EXIT WHEN v_job.id IS NULL;
            v_handler := coalesce(v_job.handler, v_queue.handler);
            BEGIN
                PERFORM daz.queue_check_handler('daz.run_jobs', v_handler);
                EXECUTE format('SELECT %s($1)', v_handler::regproc) INTO v_result USING v_job;
                PERFORM daz.queue_complete_jobs(ARRAY[v_job.id], ARRAY[v_result]);
            EXCEPTION
                WHEN query_canceled THEN
                    -- statement_timeout (or a cancel) hit inside the handler: the handler's work is rolled
                    -- back, the attempt is recorded, and the run stops here, returning normally.
                    GET STACKED DIAGNOSTICS v_msg = MESSAGE_TEXT;
                    PERFORM daz.queue_fail_job(v_job.id, v_msg, true);
                    v_stop := true;
                WHEN OTHERS THEN
                    -- Data errors (class 22) and missing objects / privileges (class 42) do not heal by
                    -- retrying: straight to dead letters. Everything else retries with backoff.
                    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT;
                    PERFORM daz.queue_fail_job(v_job.id, v_msg, v_state NOT LIKE '22%' AND v_state NOT LIKE '42%');
            END;
            v_done := v_done + 1;
        END LOOP;
    END LOOP;
    RETURN v_done;
END
$fn$;

COMMENT ON FUNCTION daz.run_jobs(text, integer) IS
    'Run up to p_limit runnable jobs of queues that have a handler (not paused), one at a time, each in its own '
    'subtransaction: handler(job) = coalesce(job.handler, queue.handler); its jsonb result completes the job, an error '
    'fails it (SQLSTATE classes 22 and 42 are not retried). A statement timeout inside a handler fails that job and '
    'ends the run normally. Returns how many jobs ran. Called by dazd on NOTIFY, by pg_cron every minute, or by hand.';
REVOKE ALL ON FUNCTION daz.run_jobs(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION daz.run_jobs(text, integer) TO daz_daemon, daz_operator;

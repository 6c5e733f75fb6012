-- queue_status.sql — daz.job_status and daz.await_result: where is my job, and request/response from psql.

CREATE OR REPLACE FUNCTION daz.job_status(p_id bigint)
    RETURNS TABLE (id bigint, status text, queue text, kind text, room text, attempts integer, run_at timestamptz,
                   finished_at timestamptz, result jsonb, last_error text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, daz, pg_temp
AS $fn$
    SELECT s.id, s.status, s.queue, s.kind, s.room, s.attempts, s.run_at, s.finished_at, s.result, s.last_error
      FROM (
        SELECT j.id,
               CASE WHEN j.state = 'running' THEN 'running'
                    WHEN j.run_at <= now() THEN 'ready'
                    WHEN j.attempts > 0 THEN 'retrying'
                    ELSE 'scheduled' END AS status,
               j.queue, j.kind, j.room, j.attempts, j.run_at, NULL::timestamptz AS finished_at,
               NULL::jsonb AS result, j.last_error, 1 AS rank
          FROM daz.jobs j WHERE j.id = p_id
        UNION ALL
        SELECT r.id, 'completed', r.queue, r.kind, r.room, r.attempts, NULL, r.completed_at, r.result, NULL, 2
          FROM daz.job_results r WHERE r.id = p_id
        UNION ALL
        SELECT d.id, CASE WHEN d.reason = 'cancelled' THEN 'cancelled' ELSE 'dead' END, d.queue, d.kind, d.room,
               d.attempts, d.run_at, d.died_at, NULL, d.last_error, 3
          FROM daz.dead_letters d WHERE d.id = p_id
        UNION ALL
        SELECT p_id, 'unknown', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 4
      ) AS s
     ORDER BY s.rank
     LIMIT 1
$fn$;

COMMENT ON FUNCTION daz.job_status(bigint) IS
    'One row about a job wherever it is: status ready, scheduled (first run later), retrying (waiting for backoff), '
    'running, completed (with result, while kept), dead, cancelled, or unknown (never existed or pruned).';
REVOKE ALL ON FUNCTION daz.job_status(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION daz.job_status(bigint) TO daz_operator;

CREATE OR REPLACE FUNCTION daz.await_result(p_id bigint, p_timeout interval DEFAULT '30 seconds') RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, daz, pg_temp
AS $fn$
DECLARE
    v_deadline timestamptz;
    v_result   jsonb;
    v_dead     daz.dead_letters;
BEGIN
    IF p_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'daz.await_result: id must not be NULL';
    END IF;
    IF p_timeout IS NULL OR p_timeout < interval '0' OR p_timeout > interval '1 hour' THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('daz.await_result: timeout must be 0 .. 1 hour, got %s', coalesce(p_timeout::text, 'NULL'));
    END IF;
    v_deadline := clock_timestamp() + p_timeout;
    LOOP
        -- Each statement takes a new snapshot, so commits of other sessions show up between sleeps.
        SELECT r.result INTO v_result FROM daz.job_results r WHERE r.id = p_id;
        IF FOUND THEN
            RETURN v_result;
        END IF;
        SELECT * INTO v_dead FROM daz.dead_letters d WHERE d.id = p_id;
        IF FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'P0001',
                MESSAGE = format('daz.await_result: job %s is %s after %s attempts: %s', p_id,
                                 CASE WHEN v_dead.reason = 'cancelled' THEN 'cancelled' ELSE 'dead' END,
                                 v_dead.attempts, v_dead.last_error);
        END IF;
        IF NOT EXISTS (SELECT 1 FROM daz.jobs j WHERE j.id = p_id) THEN
            RAISE EXCEPTION USING ERRCODE = 'P0002',
                MESSAGE = format('daz.await_result: no job %s (never existed, or its result was pruned)', p_id);
        END IF;
        IF clock_timestamp() >= v_deadline THEN
            -- Not 57014 (query_canceled): plpgsql callers could not catch that with WHEN OTHERS.
            RAISE EXCEPTION USING ERRCODE = '55000',
                MESSAGE = format('daz.await_result: job %s not finished after %s', p_id, p_timeout),
                HINT = 'The job is still queued or running; see daz.job_status(id).';
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
END
$fn$;

COMMENT ON FUNCTION daz.await_result(bigint, interval) IS
    'Wait (polling every 50 ms) until a job completes and return its result; raise if it dies, is cancelled or is '
    'unknown, or after p_timeout. Call it after the enqueue has committed (psql autocommit), e.g. '
    'SELECT daz.await_result(daz.enqueue(...)) does not work in one statement.';
REVOKE ALL ON FUNCTION daz.await_result(bigint, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION daz.await_result(bigint, interval) TO daz_operator;

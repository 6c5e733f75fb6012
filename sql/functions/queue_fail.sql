-- queue_fail.sql — daz.fail, daz.fail_many, daz.rescue_expired: retry with backoff or move to dead letters.

-- Unchecked single failure; the public functions check the caller. NULL when the job is not running.
CREATE OR REPLACE FUNCTION daz.queue_fail_job(p_id bigint, p_error text, p_retryable boolean) RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, daz, pg_temp
AS $fn$
DECLARE
    v_job    daz.jobs;
    v_queue  daz.queues;
    v_error  text := left(coalesce(nullif(p_error, ''), 'unknown error'), 4000);
    v_errors jsonb;
    v_run_at timestamptz;
BEGIN
    SELECT * INTO v_job FROM daz.jobs j WHERE j.id = p_id AND j.state = 'running' FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    SELECT * INTO v_queue FROM daz.queues q WHERE q.name = v_job.queue;
    v_errors := v_job.errors || jsonb_build_array(jsonb_build_object(
        'attempt', v_job.attempts, 'at', clock_timestamp(), 'error', v_error, 'worker', v_job.locked_by));

    IF NOT coalesce(p_retryable, true) OR v_job.attempts >= v_job.max_attempts THEN
        INSERT INTO daz.dead_letters (id, queue, kind, room, payload, priority, run_at, attempts, max_attempts,
                                      locked_by, dedup_key, correlation_id, created_at, last_error, errors,
                                      handler, reason)
        VALUES (v_job.id, v_job.queue, v_job.kind, v_job.room, v_job.payload, v_job.priority, v_job.run_at,
                v_job.attempts, v_job.max_attempts, v_job.locked_by, v_job.dedup_key, v_job.correlation_id,
                v_job.created_at, v_error, v_errors, v_job.handler,
                CASE WHEN coalesce(p_retryable, true) THEN 'exhausted' ELSE 'fatal' END);
        DELETE FROM daz.jobs j WHERE j.id = p_id;
        RETURN 'dead';
    END IF;

    v_run_at := now() + daz.retry_delay(v_job.attempts, v_queue.backoff_base, v_queue.backoff_factor,
                                        v_queue.backoff_max, v_queue.jitter);
    UPDATE daz.jobs j
       SET state = 'ready', run_at = v_run_at, lease_until = NULL, locked_by = NULL,
           last_error = v_error, errors = v_errors
     WHERE j.id = p_id;
    IF v_run_at <= now() AND NOT v_queue.paused THEN
        PERFORM pg_notify('daz_jobs', v_job.queue);
    END IF;
    RETURN 'retry';
END
$fn$;

COMMENT ON FUNCTION daz.queue_fail_job(bigint, text, boolean) IS
    'Internal: record a failed attempt of a running job; retry after the queue''s backoff or move it to daz.dead_letters.';
REVOKE ALL ON FUNCTION daz.queue_fail_job(bigint, text, boolean) FROM PUBLIC;

CREATE OR REPLACE FUNCTION daz.fail(p_id bigint, p_error text, p_retryable boolean DEFAULT true) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, daz, pg_temp
AS $fn$
DECLARE
    v_queue text;
BEGIN
    IF p_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'daz.fail: id must not be NULL';
    END IF;
    IF daz.queue_caller_limited() THEN
        SELECT j.queue INTO v_queue FROM daz.jobs j WHERE j.id = p_id;
        IF FOUND THEN
            PERFORM daz.queue_check_worker('daz.fail', v_queue);
        END IF;
    END IF;
    RETURN daz.queue_fail_job(p_id, p_error, p_retryable);
END
$fn$;

COMMENT ON FUNCTION daz.fail(bigint, text, boolean) IS
    'Report a failed attempt of a running job: ''retry'' (ready again at now() + the queue''s backoff with jitter) or '
    '''dead'' (non-retryable, or max_attempts reached: moved to daz.dead_letters with every error). NULL when the job '
    'is not running (cancelled or rescued meanwhile). daz_daemon: queue cytube only.';
REVOKE ALL ON FUNCTION daz.fail(bigint, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION daz.fail(bigint, text, boolean) TO daz_daemon;

CREATE OR REPLACE FUNCTION daz.fail_many(p_ids bigint[], p_errors text[], p_retryable boolean[] DEFAULT NULL)
    RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, daz, pg_temp
AS $fn$
DECLARE
    v_bad text;
    v_n   integer := 0;
    v_r   record;
BEGIN
    IF p_ids IS NULL OR p_errors IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'daz.fail_many: ids and errors must not be NULL';
    END IF;
    IF cardinality(p_errors) <> cardinality(p_ids)
       OR (p_retryable IS NOT NULL AND cardinality(p_retryable) <> cardinality(p_ids)) THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('daz.fail_many: %s ids, %s errors, %s retryable flags: lengths must match',
                             cardinality(p_ids), cardinality(p_errors), coalesce(cardinality(p_retryable)::text, 'no'));
    END IF;
    IF daz.queue_caller_limited() THEN
        SELECT j.queue INTO v_bad FROM daz.jobs j WHERE j.id = ANY (p_ids) AND j.queue <> 'cytube' LIMIT 1;
        IF FOUND THEN
            PERFORM daz.queue_check_worker('daz.fail_many', v_bad);
        END IF;
    END IF;
    FOR v_r IN SELECT * FROM unnest(p_ids, p_errors, p_retryable) AS u(id, error, retryable) LOOP
        IF daz.queue_fail_job(v_r.id, v_r.error, coalesce(v_r.retryable, true)) IS NOT NULL THEN
            v_n := v_n + 1;
        END IF;
    END LOOP;
    RETURN v_n;
END
$fn$;

COMMENT ON FUNCTION daz.fail_many(bigint[], text[], boolean[]) IS
    'daz.fail for many jobs in one round trip: p_errors[i] (and p_retryable[i], default true) belong to p_ids[i]. '
    'Returns how many were running and got recorded. daz_daemon: queue cytube only.';
REVOKE ALL ON FUNCTION daz.fail_many(bigint[], text[], boolean[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION daz.fail_many(bigint[], text[], boolean[]) TO daz_daemon;

CREATE OR REPLACE FUNCTION daz.rescue_expired(p_limit integer DEFAULT 1000) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, daz, pg_temp
AS $fn$
DECLARE
    v_id bigint;
    v_n  integer := 0;
BEGIN
    IF p_limit IS NULL OR p_limit < 1 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'daz.rescue_expired: limit must be >= 1';
    END IF;
    IF NOT pg_try_advisory_xact_lock(hashtext('daz.rescue_expired')) THEN
        RETURN 0;
    END IF;
    FOR v_id IN
        SELECT j.id FROM daz.jobs j
         WHERE j.state = 'running' AND j.lease_until < now()
         ORDER BY j.lease_until
         LIMIT p_limit
           FOR UPDATE SKIP LOCKED
    LOOP
        PERFORM daz.queue_fail_job(v_id, 'lease expired', true);
        v_n := v_n + 1;
    END LOOP;
    RETURN v_n;
END
$fn$;

COMMENT ON FUNCTION daz.rescue_expired(integer) IS
    'Running jobs whose lease ended count as a failed attempt with error ''lease expired'' (retry with backoff, or dead '
    'when attempts are exhausted). At most p_limit per call; returns how many. Guarded by an advisory lock; pg_cron runs '
    'it every minute.';
REVOKE ALL ON FUNCTION daz.rescue_expired(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION daz.rescue_expired(integer) TO daz_operator;

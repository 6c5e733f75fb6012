-- queue_complete.sql — daz.complete and daz.extend_lease: acknowledge finished jobs, keep long ones alive.

-- Unchecked completion used by daz.complete and daz.run_jobs (generic plans: see queue_claim.sql).
CREATE OR REPLACE FUNCTION daz.queue_complete_jobs(p_ids bigint[], p_results jsonb[]) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, daz, pg_temp
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
    v_n integer;
BEGIN
    -- The ids go in as an array (primary key lookups); joined to unnest() instead, a cached
    -- generic plan hashes the whole table. The queue's retention is read per row by a subquery,
    -- which sets up cheaper than a join node over the queue table.
    WITH d AS (
        DELETE FROM daz.jobs j
         WHERE j.id = ANY (p_ids) AND j.state = 'running'
        RETURNING j.id, j.queue, j.kind, j.room, j.payload, j.attempts, j.locked_by, j.correlation_id, j.created_at
    ), i AS (
        INSERT INTO daz.job_results (id, queue, kind, room, payload, attempts, locked_by, correlation_id,
                                     created_at, result)
        SELECT d.id, d.queue, d.kind, d.room, d.payload, d.attempts, d.locked_by, d.correlation_id,
               d.created_at, r.result
          FROM d
          LEFT JOIN (SELECT DISTINCT ON (u.id) u.id, u.result
                       FROM unnest(p_ids, p_results) WITH ORDINALITY AS u(id, result, o)
                      WHERE p_results IS NOT NULL
                      ORDER BY u.id, u.o) AS r ON r.id = d.id
         WHERE (SELECT q.retention FROM daz.queues q WHERE q.name = d.queue) > interval '0'
        RETURNING 1
    )
    SELECT count(*) INTO v_n FROM d;
    RETURN v_n;
END
$fn$;

COMMENT ON FUNCTION daz.queue_complete_jobs(bigint[], jsonb[]) IS
    'Internal: move running jobs to daz.job_results with their results; no argument or role checks.';
REVOKE ALL ON FUNCTION daz.queue_complete_jobs(bigint[], jsonb[]) FROM PUBLIC;

-- The checked completion acknowledges a single job without a result, the usual call, with a
-- statement of its own (see daz.claim: with one job per call the set-up of each statement decides
-- a worker's throughput): one id, so no count over the deleted rows. Several jobs, or results, go
-- through daz.queue_complete_jobs. Keep the two statements alike.
CREATE OR REPLACE FUNCTION daz.complete(p_ids bigint[], p_results jsonb[] DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, daz, pg_temp
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
    v_bad text;
    v_id  bigint;
    v_n   integer;
BEGIN
    -- The arguments and the caller in one test (see daz.claim), taken apart only when it holds.
    -- (Without results the count comparison is NULL: passed.)
    IF p_ids IS NULL OR cardinality(p_results) <> cardinality(p_ids) OR daz.queue_caller_limited() THEN
        IF p_ids IS NULL THEN
            RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'daz.complete: ids must not be NULL';
        END IF;
        IF cardinality(p_results) <> cardinality(p_ids) THEN
            RAISE EXCEPTION USING ERRCODE = '22023',
                MESSAGE = format('daz.complete: %s ids but %s results', cardinality(p_ids), cardinality(p_results));
        END IF;
        -- The caller is limited to queue cytube.
        SELECT j.queue INTO v_bad FROM daz.jobs j WHERE j.id = ANY (p_ids) AND j.queue <> 'cytube' LIMIT 1;
        IF FOUND THEN
            PERFORM daz.queue_check_worker('daz.complete', v_bad);
        END IF;
    END IF;

    IF p_results IS NULL AND cardinality(p_ids) = 1 THEN
        WITH d AS (
            DELETE FROM daz.jobs j
             WHERE j.id = ANY (p_ids) AND j.state = 'running'
            RETURNING j.id, j.queue, j.kind, j.room, j.payload, j.attempts, j.locked_by, j.correlation_id, j.created_at
        ), i AS (
            INSERT INTO daz.job_results (id, queue, kind, room, payload, attempts, locked_by, correlation_id, created_at)
            SELECT d.id, d.queue, d.kind, d.room, d.payload, d.attempts, d.locked_by, d.correlation_id, d.created_at
              FROM d
             WHERE (SELECT q.retention FROM daz.queues q WHERE q.name = d.queue) > interval '0'
        )
        SELECT d.id INTO v_id FROM d;
        GET DIAGNOSTICS v_n = ROW_COUNT;
        RETURN v_n;
    END IF;
    RETURN daz.queue_complete_jobs(p_ids, p_results);
END
$fn$;

COMMENT ON FUNCTION daz.complete(bigint[], jsonb[]) IS
    'Acknowledge running jobs as done, p_results[i] being the result of p_ids[i] (optional). They move to '
    'daz.job_results (unless the queue keeps no results). Returns how many were running and are now complete; '
    'ids that are not running (cancelled, rescued, unknown) are ignored. daz_daemon: queue cytube only.';
REVOKE ALL ON FUNCTION daz.complete(bigint[], jsonb[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION daz.complete(bigint[], jsonb[]) TO daz_daemon;

CREATE OR REPLACE FUNCTION daz.extend_lease(p_ids bigint[], p_lease interval) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, daz, pg_temp
AS $fn$
DECLARE
    v_bad text;
    v_n   integer;
BEGIN
    IF p_ids IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'daz.extend_lease: ids must not be NULL';
    END IF;
    IF p_lease IS NULL OR p_lease <= interval '0' OR p_lease > interval '1 day' THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('daz.extend_lease: lease must be > 0 and <= 1 day, got %s', coalesce(p_lease::text, 'NULL'));
    END IF;
    IF daz.queue_caller_limited() THEN
        SELECT j.queue INTO v_bad FROM daz.jobs j WHERE j.id = ANY (p_ids) AND j.queue <> 'cytube' LIMIT 1;
        IF FOUND THEN
            PERFORM daz.queue_check_worker('daz.extend_lease', v_bad);
        END IF;
    END IF;
    UPDATE daz.jobs j SET lease_until = now() + p_lease
     WHERE j.id = ANY (p_ids) AND j.state = 'running';
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_n;
END
$fn$;

COMMENT ON FUNCTION daz.extend_lease(bigint[], interval) IS
    'Set lease_until = now() + p_lease on running jobs (a worker still busy with them); returns how many. '
    'daz_daemon: queue cytube only.';
REVOKE ALL ON FUNCTION daz.extend_lease(bigint[], interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION daz.extend_lease(bigint[], interval) TO daz_daemon;

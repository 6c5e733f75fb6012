-- queue_claim.sql — daz.claim: hand out runnable jobs with FOR UPDATE SKIP LOCKED.

-- Unchecked claim used by daz.claim and daz.run_jobs. One probe per priority level, highest
-- first: "priority = p AND run_at <= now()" is a range on the claim index, so jobs scheduled
-- for later are never visited however many there are. The UPDATE takes the locked ids as an
-- array (an index lookup on the primary key): joined to the CTE instead, a cached generic plan
-- cannot know the LIMIT and hashes the whole table.
CREATE OR REPLACE FUNCTION daz.queue_claim(p_queue text, p_worker text, p_limit integer,
                                           p_rooms text[], p_lease interval) RETURNS SETOF daz.jobs
LANGUAGE plpgsql
SET search_path = pg_catalog, daz, pg_temp
AS $fn$
DECLARE
    v_left  integer := p_limit;
    v_lease interval;
    v_n     integer;
BEGIN
    SELECT coalesce(p_lease, q.lease) INTO v_lease FROM daz.queues q WHERE q.name = p_queue AND NOT q.paused;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    FOR v_prio IN REVERSE 3..0 LOOP
        IF p_rooms IS NULL THEN
            RETURN QUERY
            WITH c AS MATERIALIZED (
                SELECT j.id FROM daz.jobs j
                 WHERE j.queue = p_queue AND j.state = 'ready' AND j.priority = v_prio AND j.run_at <= now()
                 ORDER BY j.run_at, j.id
                 LIMIT v_left
                   FOR UPDATE SKIP LOCKED
            ), u AS (
                UPDATE daz.jobs j
                   SET state = 'running', attempts = j.attempts + 1, lease_until = now() + v_lease,
                       locked_by = p_worker
                 WHERE j.id = ANY (ARRAY(SELECT c.id FROM c))
                RETURNING j.*
            )
            SELECT * FROM u ORDER BY u.run_at, u.id;
        ELSE
            RETURN QUERY
            WITH c AS MATERIALIZED (
                SELECT j.id FROM daz.jobs j
                 WHERE j.queue = p_queue AND j.state = 'ready' AND j.priority = v_prio
                   AND j.room = ANY (p_rooms) AND j.run_at <= now()
                 ORDER BY j.run_at, j.id
                 LIMIT v_left
                   FOR UPDATE SKIP LOCKED
            ), u AS (
                UPDATE daz.jobs j
                   SET state = 'running', attempts = j.attempts + 1, lease_until = now() + v_lease,
                       locked_by = p_worker
                 WHERE j.id = ANY (ARRAY(SELECT c.id FROM c))
                RETURNING j.*
            )
            SELECT * FROM u ORDER BY u.run_at, u.id;
        END IF;
        GET DIAGNOSTICS v_n = ROW_COUNT;
        v_left := v_left - v_n;
        EXIT WHEN v_left <= 0;
    END LOOP;
END
$fn$;

COMMENT ON FUNCTION daz.queue_claim(text, text, integer, text[], interval) IS
    'Internal claim without argument or role checks (daz.claim and daz.run_jobs call it).';
REVOKE ALL ON FUNCTION daz.queue_claim(text, text, integer, text[], interval) FROM PUBLIC;

CREATE OR REPLACE FUNCTION daz.claim(p_queue text, p_worker text, p_limit integer DEFAULT 1,
                                     p_rooms text[] DEFAULT NULL, p_lease interval DEFAULT NULL)
    RETURNS SETOF daz.jobs
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, daz, pg_temp
AS $fn$
BEGIN
    IF p_queue IS DISTINCT FROM 'cytube' THEN
        PERFORM daz.queue_check_worker('daz.claim', p_queue);
        IF NOT EXISTS (SELECT 1 FROM daz.queues q WHERE q.name = p_queue) THEN
            RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('daz.claim: unknown queue "%s"', p_queue);
        END IF;
    END IF;
    IF p_worker IS NULL OR length(p_worker) NOT BETWEEN 1 AND 128 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'daz.claim: worker must be 1..128 characters';
    END IF;
    IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('daz.claim: limit must be 1..10000, got %s', coalesce(p_limit::text, 'NULL'));
    END IF;
    IF p_lease IS NOT NULL AND (p_lease <= interval '0' OR p_lease > interval '1 day') THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('daz.claim: lease must be > 0 and <= 1 day, got %s', p_lease);
    END IF;
    RETURN QUERY SELECT * FROM daz.queue_claim(p_queue, p_worker, p_limit, p_rooms, p_lease);
END
$fn$;

COMMENT ON FUNCTION daz.claim(text, text, integer, text[], interval) IS
    'Claim up to p_limit runnable jobs (run_at <= now()) of a queue that is not paused, in order priority DESC, run_at, id, '
    'optionally only for rooms p_rooms; skips jobs other workers hold (SKIP LOCKED). Sets state running, attempts + 1, '
    'locked_by = p_worker, lease_until = now() + (p_lease or the queue''s lease). daz_daemon: queue cytube only.';
REVOKE ALL ON FUNCTION daz.claim(text, text, integer, text[], interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION daz.claim(text, text, integer, text[], interval) TO daz_daemon;

-- queue_claim.sql — daz.claim: hand out runnable jobs with FOR UPDATE SKIP LOCKED.

-- Unchecked claim without a room list, used by daz.run_jobs and by daz.claim for more than one
-- job. One statement probes the priority levels highest first (a LATERAL subquery per level):
-- "priority = p AND run_at <= now()" is a range on the claim index, so jobs scheduled for later
-- are never visited however many there are. The claim indexes are keyed by hashtext() of the
-- queue and room names (migration 0009): each probe names the hash, which the index matches, and
-- the name, which rules out another name with the same hash. The nested loop yields level 3's rows
-- before level 2's and the outer LIMIT stops pulling once it has enough, so no row is locked that
-- is not claimed. The UPDATE takes the locked ids as an array (primary key lookups): joined to the
-- CTE instead, a cached generic plan cannot know the LIMIT and hashes the whole table. The generic
-- plan is the right one whatever the arguments, and forcing it saves re-planning on every call (a
-- custom plan looks cheaper for LIMIT 1, so the plan cache would otherwise plan each claim afresh).
DROP FUNCTION IF EXISTS daz.queue_claim(text, text, integer, text[], interval);
CREATE OR REPLACE FUNCTION daz.queue_claim(p_queue text, p_worker text, p_limit integer, p_lease interval)
    RETURNS SETOF daz.jobs
LANGUAGE plpgsql
SET search_path = pg_catalog, daz, pg_temp
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
    v_lease  interval;
    v_paused text[];
BEGIN
    -- The lease, and the rooms held by daz.pause_room (their jobs are filtered out), which the
    -- queue's row carries (migration 0011).
    SELECT coalesce(p_lease, q.lease), q.rooms_paused INTO v_lease, v_paused
      FROM daz.queues q
     WHERE q.name = p_queue AND NOT q.paused;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    RETURN QUERY
    WITH c AS MATERIALIZED (
        SELECT x.id
          FROM (VALUES (3), (2), (1), (0)) AS p(prio)
         CROSS JOIN LATERAL (
               SELECT j.id FROM daz.jobs j
                WHERE hashtext(j.queue) = hashtext(p_queue) AND j.queue = p_queue
                  AND j.state = 'ready' AND j.priority = p.prio AND j.run_at <= now()
                  AND (j.room IS NULL OR j.room <> ALL (v_paused))
                ORDER BY j.run_at, j.id
                LIMIT p_limit
                  FOR UPDATE SKIP LOCKED) AS x
         LIMIT p_limit
    ), u AS (
        UPDATE daz.jobs j
           SET state = 'running', attempts = j.attempts + 1, lease_until = now() + v_lease, locked_by = p_worker
         WHERE j.id = ANY (ARRAY(SELECT c.id FROM c))
        RETURNING j.*
    )
    SELECT * FROM u ORDER BY u.priority DESC, u.run_at, u.id;
END
$fn$;

COMMENT ON FUNCTION daz.queue_claim(text, text, integer, interval) IS
    'Internal claim without argument or role checks and without a room list (daz.run_jobs calls it, and daz.claim for '
    'more than one job).';
REVOKE ALL ON FUNCTION daz.queue_claim(text, text, integer, interval) FROM PUBLIC;

-- The checked claim. A single job without a room list, the usual call, is claimed by a statement of
-- its own: the UPDATE returns the row itself (no CTE, no sort: one row is in claim order), because
-- with one job per call the set-up of each plan node decides a worker's throughput. More than one
-- job without a room list goes through daz.queue_claim, which returns them sorted (its second call
-- is little next to a batch). With a room list, dazd's way, the claim statement is here too. The
-- queue's lease and held rooms come from one primary-key lookup of its row (which also tells an
-- unknown queue from a paused one). The single-job probe is daz.queue_claim's with LIMIT 1: keep
-- the two alike.
CREATE OR REPLACE FUNCTION daz.claim(p_queue text, p_worker text, p_limit integer DEFAULT 1,
                                     p_rooms text[] DEFAULT NULL, p_lease interval DEFAULT NULL)
    RETURNS SETOF daz.jobs
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, daz, pg_temp
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
    v_lease  interval;
    v_paused text[];
BEGIN
    -- The caller's right to the queue and every argument in one test, taken apart only when it
    -- fails: PL/pgSQL sets each expression up again in every transaction, and with one job per call
    -- that set-up costs more than the tests themselves. (A NULL lease leaves its part NULL: passed.)
    IF (p_queue IS DISTINCT FROM 'cytube' AND daz.queue_caller_limited())
       OR p_worker IS NULL OR length(p_worker) NOT BETWEEN 1 AND 128
       OR p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 10000
       OR p_lease <= interval '0' OR p_lease > interval '1 day' THEN
        IF p_queue IS DISTINCT FROM 'cytube' AND daz.queue_caller_limited() THEN
            PERFORM daz.queue_check_worker('daz.claim', p_queue);
        END IF;
        PERFORM daz.queue_check_worker_limit('daz.claim', p_worker, p_limit);
        IF p_lease <= interval '0' OR p_lease > interval '1 day' THEN
            RAISE EXCEPTION USING ERRCODE = '22023',
                MESSAGE = format('daz.claim: lease must be > 0 and <= 1 day, got %s', p_lease);
        END IF;
    END IF;

    SELECT coalesce(p_lease, q.lease), q.rooms_paused INTO v_lease, v_paused
      FROM daz.queues q
     WHERE q.name = p_queue AND NOT q.paused;
    IF NOT FOUND OR p_rooms IS NOT NULL OR p_limit > 1 THEN
        IF NOT FOUND THEN
            IF NOT EXISTS (SELECT 1 FROM daz.queues q WHERE q.name = p_queue) THEN
                RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('daz.claim: unknown queue "%s"', p_queue);
            END IF;
            RETURN;  -- paused
        END IF;
        IF p_rooms IS NULL THEN
            -- Several jobs without a room list: daz.queue_claim returns them sorted.
            RETURN QUERY SELECT * FROM daz.queue_claim(p_queue, p_worker, p_limit, v_lease);
            RETURN;
        END IF;
        -- With a room list: each room of the list (once; not those held by daz.pause_room) probed
        -- per level on the per-room claim index, merged by run_at within the level. This may lock up
        -- to p_limit rows per room of one level while claiming p_limit; the extra rows stay ready and
        -- are released at commit (a room is held by one daemon, so nobody else is waiting for them).
        RETURN QUERY
        WITH r AS MATERIALIZED (
            SELECT DISTINCT l.room FROM unnest(p_rooms) AS l(room)
             WHERE l.room IS NOT NULL AND l.room <> ALL (v_paused)
        ), c AS MATERIALIZED (
            SELECT x.id
              FROM (VALUES (3), (2), (1), (0)) AS p(prio)
             CROSS JOIN LATERAL (
                   SELECT y.id
                     FROM r
                    CROSS JOIN LATERAL (
                          SELECT j.id, j.run_at FROM daz.jobs j
                           WHERE hashtext(j.queue) = hashtext(p_queue) AND j.queue = p_queue
                             AND j.state = 'ready' AND j.priority = p.prio
                             AND hashtext(j.room) = hashtext(r.room) AND j.room = r.room AND j.run_at <= now()
                           ORDER BY j.run_at, j.id
                           LIMIT p_limit
                             FOR UPDATE OF j SKIP LOCKED) AS y
                    -- A level with no runnable job in the whole queue (one probe of the queue's
                    -- claim index) is not probed room by room.
                    WHERE EXISTS (SELECT FROM daz.jobs j0
                                   WHERE hashtext(j0.queue) = hashtext(p_queue) AND j0.queue = p_queue
                                     AND j0.state = 'ready' AND j0.priority = p.prio AND j0.run_at <= now())
                    ORDER BY y.run_at, y.id
                    LIMIT p_limit) AS x
             LIMIT p_limit
        ), u AS (
            UPDATE daz.jobs j
               SET state = 'running', attempts = j.attempts + 1, lease_until = now() + v_lease, locked_by = p_worker
             WHERE j.id = ANY (ARRAY(SELECT c.id FROM c))
            RETURNING j.*
        )
        SELECT * FROM u ORDER BY u.priority DESC, u.run_at, u.id;
        RETURN;
    END IF;
    -- One job, no room list.
    RETURN QUERY
    UPDATE daz.jobs j
       SET state = 'running', attempts = j.attempts + 1, lease_until = now() + v_lease, locked_by = p_worker
     WHERE j.id = (SELECT x.id
                     FROM (VALUES (3), (2), (1), (0)) AS p(prio)
                    CROSS JOIN LATERAL (
                          SELECT j1.id FROM daz.jobs j1
                           WHERE hashtext(j1.queue) = hashtext(p_queue) AND j1.queue = p_queue
                             AND j1.state = 'ready' AND j1.priority = p.prio AND j1.run_at <= now()
                             AND (j1.room IS NULL OR j1.room <> ALL (v_paused))
                           ORDER BY j1.run_at, j1.id
                           LIMIT 1
                             FOR UPDATE SKIP LOCKED) AS x
                    LIMIT 1)
    RETURNING j.*;
END
$fn$;

COMMENT ON FUNCTION daz.claim(text, text, integer, text[], interval) IS
    'Claim up to p_limit runnable jobs (run_at <= now()) of a queue that is not paused, in order priority DESC, run_at, id, '
    'optionally only for rooms p_rooms; skips jobs other workers hold (SKIP LOCKED). Sets state running, attempts + 1, '
    'locked_by = p_worker, lease_until = now() + (p_lease or the queue''s lease). Rooms held by daz.pause_room are '
    'skipped. daz_daemon: queue cytube only.';
REVOKE ALL ON FUNCTION daz.claim(text, text, integer, text[], interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION daz.claim(text, text, integer, text[], interval) TO daz_daemon;

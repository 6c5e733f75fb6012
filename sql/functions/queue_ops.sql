-- queue_ops.sql — operator controls: daz.retry_dead(_many), daz.cancel, daz.pause/resume, daz.pause_room/resume_room.

CREATE OR REPLACE FUNCTION daz.retry_dead(p_id bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, daz, pg_temp
AS $fn$
DECLARE
    v_dead daz.dead_letters;
BEGIN
    DELETE FROM daz.dead_letters d WHERE d.id = p_id RETURNING * INTO v_dead;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'P0002', MESSAGE = format('daz.retry_dead: no dead letter with id %s', p_id);
    END IF;
    IF v_dead.dedup_key IS NOT NULL
       AND EXISTS (SELECT 1 FROM daz.jobs j WHERE j.queue = v_dead.queue AND j.dedup_key = v_dead.dedup_key) THEN
        RAISE EXCEPTION USING ERRCODE = '23505',
            MESSAGE = format('daz.retry_dead: job %s has dedup key "%s", which a live job of queue %s holds',
                             p_id, v_dead.dedup_key, v_dead.queue);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM daz.queues q WHERE q.name = v_dead.queue) THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('daz.retry_dead: job %s belongs to queue "%s", which no longer exists', p_id, v_dead.queue);
    END IF;
    -- Same id, fresh attempts; the error history stays so the next death shows the whole story.
    INSERT INTO daz.jobs (id, queue, kind, room, payload, priority, state, run_at, attempts, max_attempts,
                          dedup_key, correlation_id, created_at, last_error, errors, handler)
    VALUES (v_dead.id, v_dead.queue, v_dead.kind, v_dead.room, v_dead.payload, v_dead.priority, 'ready', now(), 0,
            v_dead.max_attempts, v_dead.dedup_key, v_dead.correlation_id, v_dead.created_at, v_dead.last_error,
            v_dead.errors, v_dead.handler);
    RETURN v_dead.id;
END
$fn$;

COMMENT ON FUNCTION daz.retry_dead(bigint) IS
    'Put a dead letter back on its queue under the same id, runnable now with attempts reset to 0 (error history kept). '
    'Returns the id.';
REVOKE ALL ON FUNCTION daz.retry_dead(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION daz.retry_dead(bigint) TO daz_operator;

CREATE OR REPLACE FUNCTION daz.retry_dead_many(p_queue text DEFAULT NULL, p_kind text DEFAULT NULL,
                                               p_since timestamptz DEFAULT NULL, p_until timestamptz DEFAULT NULL,
                                               p_error_like text DEFAULT NULL, p_reason text DEFAULT NULL)
    RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, daz, pg_temp
AS $fn$
DECLARE
    v_n integer;
BEGIN
    IF p_queue IS NOT NULL AND NOT EXISTS (SELECT 1 FROM daz.queues q WHERE q.name = p_queue) THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('daz.retry_dead_many: unknown queue "%s"', p_queue);
    END IF;
    IF p_reason IS NOT NULL AND p_reason NOT IN ('exhausted', 'fatal', 'cancelled') THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('daz.retry_dead_many: reason must be exhausted, fatal or cancelled, got "%s"', p_reason);
    END IF;
    -- Dead letters whose dedup key a live job (or an earlier row of this batch) holds stay dead.
    WITH pick AS (
        SELECT DISTINCT ON (d.queue, d.dedup_key, CASE WHEN d.dedup_key IS NULL THEN d.id END) d.id
          FROM daz.dead_letters d
          JOIN daz.queues q ON q.name = d.queue
         WHERE (p_queue IS NULL OR d.queue = p_queue)
           AND (p_kind IS NULL OR d.kind = p_kind)
           AND (p_since IS NULL OR d.died_at >= p_since)
           AND (p_until IS NULL OR d.died_at < p_until)
           AND (p_error_like IS NULL OR d.last_error LIKE p_error_like)
           AND (p_reason IS NULL OR d.reason = p_reason)
           AND (d.dedup_key IS NULL OR NOT EXISTS (SELECT 1 FROM daz.jobs j
                                                    WHERE j.queue = d.queue AND j.dedup_key = d.dedup_key))
         ORDER BY d.queue, d.dedup_key, CASE WHEN d.dedup_key IS NULL THEN d.id END, d.died_at DESC
    ), moved AS (
        DELETE FROM daz.dead_letters d USING pick WHERE d.id = pick.id RETURNING d.*
    ), ins AS (
        INSERT INTO daz.jobs (id, queue, kind, room, payload, priority, state, run_at, attempts, max_attempts,
                              dedup_key, correlation_id, created_at, last_error, errors, handler)
        SELECT m.id, m.queue, m.kind, m.room, m.payload, m.priority, 'ready', now(), 0, m.max_attempts,
               m.dedup_key, m.correlation_id, m.created_at, m.last_error, m.errors, m.handler
          FROM moved m
         ORDER BY m.id
        RETURNING 1
    )
    SELECT count(*) INTO v_n FROM ins;
    RETURN v_n;
END
$fn$;

COMMENT ON FUNCTION daz.retry_dead_many(text, text, timestamptz, timestamptz, text, text) IS
    'daz.retry_dead for every dead letter matching all given filters (NULL = any): queue, kind, died_at in '
    '[p_since, p_until), last_error LIKE p_error_like, reason. Returns how many went back. Example: '
    'daz.retry_dead_many(''cytube'', p_error_like => ''room offline%'', p_since => now() - interval ''1 hour'').';
REVOKE ALL ON FUNCTION daz.retry_dead_many(text, text, timestamptz, timestamptz, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION daz.retry_dead_many(text, text, timestamptz, timestamptz, text, text) TO daz_operator;

CREATE OR REPLACE FUNCTION daz.cancel(p_id bigint) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, daz, pg_temp
AS $fn$
DECLARE
    v_job daz.jobs;
BEGIN
    DELETE FROM daz.jobs j WHERE j.id = p_id RETURNING * INTO v_job;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO daz.dead_letters (id, queue, kind, room, payload, priority, run_at, attempts, max_attempts,
                                  locked_by, dedup_key, correlation_id, created_at, last_error, errors, handler,
                                  reason)
    VALUES (v_job.id, v_job.queue, v_job.kind, v_job.room, v_job.payload, v_job.priority, v_job.run_at,
            v_job.attempts, v_job.max_attempts, v_job.locked_by, v_job.dedup_key, v_job.correlation_id,
            v_job.created_at, 'cancelled', v_job.errors, v_job.handler, 'cancelled');
    RETURN true;
END
$fn$;

COMMENT ON FUNCTION daz.cancel(bigint) IS
    'Take a ready or running job off its queue into daz.dead_letters with reason cancelled (a worker''s later '
    'complete or fail of it is ignored). true if the job was live, false if there was no such job.';
REVOKE ALL ON FUNCTION daz.cancel(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION daz.cancel(bigint) TO daz_operator;

-- The one place a queue is paused or resumed; daz.pause and daz.resume name themselves in errors.
CREATE OR REPLACE FUNCTION daz.queue_set_paused(p_caller text, p_queue text, p_paused boolean) RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, daz, pg_temp
AS $fn$
DECLARE
    v_was boolean;
BEGIN
    SELECT q.paused INTO v_was FROM daz.queues q WHERE q.name = p_queue FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('%s: unknown queue "%s"', p_caller, p_queue);
    END IF;
    UPDATE daz.queues q SET paused = p_paused WHERE q.name = p_queue AND q.paused IS DISTINCT FROM p_paused;
    IF NOT p_paused
       -- (hashtext(queue) is the key of jobs_claim_idx; the name itself rules out a shared hash)
       AND EXISTS (SELECT 1 FROM daz.jobs j
                    WHERE hashtext(j.queue) = hashtext(p_queue) AND j.queue = p_queue
                      AND j.state = 'ready' AND j.run_at <= now()) THEN
        PERFORM pg_notify('daz_jobs', p_queue);
    END IF;
    RETURN v_was IS DISTINCT FROM p_paused;
END
$fn$;

COMMENT ON FUNCTION daz.queue_set_paused(text, text, boolean) IS
    'Internal to daz.pause and daz.resume: set a queue''s paused flag (NOTIFY daz_jobs on resume when jobs are '
    'runnable). true if the flag changed.';
REVOKE ALL ON FUNCTION daz.queue_set_paused(text, text, boolean) FROM PUBLIC;

CREATE OR REPLACE FUNCTION daz.pause(p_queue text) RETURNS boolean
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, daz, pg_temp
AS $fn$
    SELECT daz.queue_set_paused('daz.pause', p_queue, true)
$fn$;

COMMENT ON FUNCTION daz.pause(text) IS
    'Stop handing out jobs of a queue (daz.claim and daz.run_jobs return nothing for it); enqueueing goes on and '
    'running jobs finish. true if it was running, false if already paused.';
REVOKE ALL ON FUNCTION daz.pause(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION daz.pause(text) TO daz_operator;

CREATE OR REPLACE FUNCTION daz.resume(p_queue text) RETURNS boolean
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, daz, pg_temp
AS $fn$
    SELECT daz.queue_set_paused('daz.resume', p_queue, false)
$fn$;

COMMENT ON FUNCTION daz.resume(text) IS
    'Hand out jobs of a paused queue again (and NOTIFY daz_jobs if some are runnable). true if it was paused.';
REVOKE ALL ON FUNCTION daz.resume(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION daz.resume(text) TO daz_operator;

CREATE OR REPLACE FUNCTION daz.pause_room(p_room text, p_queue text DEFAULT 'cytube', p_reason text DEFAULT NULL)
    RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, daz, pg_temp
AS $fn$
DECLARE
    v_n integer;
BEGIN
    PERFORM daz.queue_check_room('daz.pause_room', p_room);
    IF NOT EXISTS (SELECT 1 FROM daz.queues q WHERE q.name = p_queue) THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('daz.pause_room: unknown queue "%s"', p_queue);
    END IF;
    INSERT INTO daz.paused_rooms (queue, room, reason) VALUES (p_queue, p_room, p_reason)
    ON CONFLICT (queue, room) DO NOTHING;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_n = 1;
END
$fn$;

COMMENT ON FUNCTION daz.pause_room(text, text, text) IS
    'Hold a room''s jobs on a queue (default cytube: the room''s output): claims skip them, enqueueing goes on, jobs '
    'already claimed finish. true if the room was not paused yet.';
REVOKE ALL ON FUNCTION daz.pause_room(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION daz.pause_room(text, text, text) TO daz_operator;

CREATE OR REPLACE FUNCTION daz.resume_room(p_room text, p_queue text DEFAULT 'cytube') RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, daz, pg_temp
AS $fn$
DECLARE
    v_n integer;
BEGIN
    DELETE FROM daz.paused_rooms pr WHERE pr.queue = p_queue AND pr.room = p_room;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    -- (hashtext(queue) is the key of jobs_claim_idx; the name itself rules out a shared hash)
    IF v_n = 1 AND EXISTS (SELECT 1 FROM daz.jobs j
                            WHERE hashtext(j.queue) = hashtext(p_queue) AND j.queue = p_queue
                              AND j.room = p_room AND j.state = 'ready' AND j.run_at <= now()) THEN
        PERFORM pg_notify('daz_jobs', p_queue);
    END IF;
    RETURN v_n = 1;
END
$fn$;

COMMENT ON FUNCTION daz.resume_room(text, text) IS
    'Release a room held by daz.pause_room (and NOTIFY daz_jobs if it has runnable jobs). true if it was paused.';
REVOKE ALL ON FUNCTION daz.resume_room(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION daz.resume_room(text, text) TO daz_operator;

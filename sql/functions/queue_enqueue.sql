-- queue_enqueue.sql — daz.enqueue and daz.enqueue_many: put jobs on a queue.

CREATE OR REPLACE FUNCTION daz.enqueue(p_queue text, p_kind text, p_payload jsonb DEFAULT '{}',
                                       p_room text DEFAULT NULL, p_priority integer DEFAULT 0,
                                       p_run_at timestamptz DEFAULT now(), p_dedup_key text DEFAULT NULL,
                                       p_correlation_id text DEFAULT NULL,
                                       p_handler regprocedure DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, daz, pg_temp
AS $fn$
DECLARE
    v_max_attempts integer;
    v_id           bigint;
BEGIN
    SELECT q.max_attempts INTO v_max_attempts FROM daz.queues q WHERE q.name = p_queue;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('daz.enqueue: unknown queue "%s"', p_queue);
    END IF;
    IF p_kind IS NULL OR length(p_kind) NOT BETWEEN 1 AND 128 OR p_kind ~ '[[:cntrl:]]' THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = 'daz.enqueue: kind must be 1..128 characters without control characters';
    END IF;
    IF p_priority IS NULL OR p_priority NOT BETWEEN 0 AND 3 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('daz.enqueue: priority must be 0..3 (0 normal, 1 high, 2 urgent, 3 critical), got %s',
                             coalesce(p_priority::text, 'NULL'));
    END IF;
    IF p_room IS NOT NULL AND (length(p_room) NOT BETWEEN 1 AND 64 OR p_room ~ '[[:cntrl:]]') THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = 'daz.enqueue: room must be 1..64 characters without control characters';
    END IF;
    IF p_payload IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'daz.enqueue: payload must not be NULL (use ''{}'')';
    END IF;
    IF pg_column_size(p_payload) > 1048576 THEN
        RAISE EXCEPTION USING ERRCODE = '54000',
            MESSAGE = format('daz.enqueue: payload is %s bytes, the limit is 1 MiB', pg_column_size(p_payload));
    END IF;
    IF p_run_at IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'daz.enqueue: run_at must not be NULL';
    END IF;
    PERFORM daz.queue_check_handler('daz.enqueue', p_handler);

    IF p_dedup_key IS NULL THEN
        INSERT INTO daz.jobs (queue, kind, room, payload, priority, run_at, max_attempts, correlation_id, handler)
        VALUES (p_queue, p_kind, p_room, p_payload, p_priority, p_run_at, v_max_attempts, p_correlation_id, p_handler)
        RETURNING id INTO v_id;
        RETURN v_id;
    END IF;

    -- With a dedup key: insert unless a live job holds the key, else return that job's id. The
    -- holder may complete between the two statements; then try again.
    FOR i IN 1..10 LOOP
        INSERT INTO daz.jobs (queue, kind, room, payload, priority, run_at, max_attempts, dedup_key,
                              correlation_id, handler)
        VALUES (p_queue, p_kind, p_room, p_payload, p_priority, p_run_at, v_max_attempts, p_dedup_key,
                p_correlation_id, p_handler)
        ON CONFLICT (queue, dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING
        RETURNING id INTO v_id;
        IF v_id IS NOT NULL THEN
            RETURN v_id;
        END IF;
        SELECT j.id INTO v_id FROM daz.jobs j WHERE j.queue = p_queue AND j.dedup_key = p_dedup_key;
        IF v_id IS NOT NULL THEN
            RETURN v_id;
        END IF;
    END LOOP;
    RAISE EXCEPTION USING ERRCODE = '40001',
        MESSAGE = format('daz.enqueue: dedup key "%s" kept changing hands, try again', p_dedup_key);
END
$fn$;

COMMENT ON FUNCTION daz.enqueue(text, text, jsonb, text, integer, timestamptz, text, text, regprocedure) IS
    'Put one job on a queue and return its id. priority 0..3 (higher first); run_at schedules it; with a dedup_key a '
    'second enqueue while the first job is ready or running returns the first id and inserts nothing; handler overrides '
    'the queue''s handler for daz.run_jobs. Payload limit 1 MiB. Wakes listeners on channel daz_jobs if runnable now.';
REVOKE ALL ON FUNCTION daz.enqueue(text, text, jsonb, text, integer, timestamptz, text, text, regprocedure) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION daz.enqueue(text, text, jsonb, text, integer, timestamptz, text, text, regprocedure) TO daz_operator;

CREATE OR REPLACE FUNCTION daz.enqueue_many(p_jobs jsonb) RETURNS bigint[]
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, daz, pg_temp
AS $fn$
DECLARE
    v_bad   text;
    v_ids   bigint[];
    v_job   record;
    v_n     integer;
BEGIN
    IF p_jobs IS NULL OR jsonb_typeof(p_jobs) <> 'array' THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'daz.enqueue_many: argument must be a JSON array of job objects';
    END IF;
    v_n := jsonb_array_length(p_jobs);
    IF v_n = 0 THEN
        RETURN '{}';
    END IF;
    IF v_n > 10000 THEN
        RAISE EXCEPTION USING ERRCODE = '54000',
            MESSAGE = format('daz.enqueue_many: %s jobs in one call, the limit is 10000', v_n);
    END IF;
    SELECT format('element %s is a %s, not an object', o, jsonb_typeof(e)) INTO v_bad
      FROM jsonb_array_elements(p_jobs) WITH ORDINALITY AS a(e, o)
     WHERE jsonb_typeof(e) <> 'object' LIMIT 1;
    IF v_bad IS NULL THEN
        SELECT format('element %s has unknown key "%s"', o, k) INTO v_bad
          FROM jsonb_array_elements(p_jobs) WITH ORDINALITY AS a(e, o), jsonb_object_keys(e) AS k
         WHERE k NOT IN ('queue', 'kind', 'payload', 'room', 'priority', 'run_at', 'dedup_key',
                         'correlation_id', 'handler')
         LIMIT 1;
    END IF;
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'daz.enqueue_many: ' || v_bad;
    END IF;

    -- Jobs with dedup keys or handlers take the careful one-by-one path (same checks as daz.enqueue).
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(p_jobs) AS a(e)
                WHERE e ? 'dedup_key' AND e->>'dedup_key' IS NOT NULL
                   OR e ? 'handler' AND e->>'handler' IS NOT NULL) THEN
        v_ids := '{}';
        FOR v_job IN
            SELECT * FROM ROWS FROM (jsonb_to_recordset(p_jobs) AS (queue text, kind text, payload jsonb,
                       room text, priority integer, run_at timestamptz, dedup_key text, correlation_id text,
                       handler text)) WITH ORDINALITY AS r(queue, kind, payload, room, priority, run_at, dedup_key, correlation_id, handler, o)
             ORDER BY o
        LOOP
            v_ids := v_ids || daz.enqueue(v_job.queue, v_job.kind, coalesce(v_job.payload, '{}'), v_job.room,
                                          coalesce(v_job.priority, 0), coalesce(v_job.run_at, now()),
                                          v_job.dedup_key, v_job.correlation_id, v_job.handler::regprocedure);
        END LOOP;
        RETURN v_ids;
    END IF;

    -- Fast path: validate set-wise, then one INSERT in input order (ids follow that order).
    SELECT CASE
             WHEN q.name IS NULL THEN format('element %s: unknown queue "%s"', r.o, r.queue)
             WHEN r.kind IS NULL OR length(r.kind) NOT BETWEEN 1 AND 128 OR r.kind ~ '[[:cntrl:]]'
               THEN format('element %s: kind must be 1..128 characters without control characters', r.o)
             WHEN r.priority IS NOT NULL AND r.priority NOT BETWEEN 0 AND 3
               THEN format('element %s: priority must be 0..3, got %s', r.o, r.priority)
             WHEN r.room IS NOT NULL AND (length(r.room) NOT BETWEEN 1 AND 64 OR r.room ~ '[[:cntrl:]]')
               THEN format('element %s: room must be 1..64 characters without control characters', r.o)
             WHEN pg_column_size(r.payload) > 1048576
               THEN format('element %s: payload is %s bytes, the limit is 1 MiB', r.o, pg_column_size(r.payload))
           END
      INTO v_bad
      FROM ROWS FROM (jsonb_to_recordset(p_jobs) AS (queue text, kind text, payload jsonb, room text,
                 priority integer, run_at timestamptz, correlation_id text)) WITH ORDINALITY AS r(queue, kind, payload, room, priority, run_at, correlation_id, o)
      LEFT JOIN daz.queues q ON q.name = r.queue
     WHERE q.name IS NULL
        OR r.kind IS NULL OR length(r.kind) NOT BETWEEN 1 AND 128 OR r.kind ~ '[[:cntrl:]]'
        OR (r.priority IS NOT NULL AND r.priority NOT BETWEEN 0 AND 3)
        OR (r.room IS NOT NULL AND (length(r.room) NOT BETWEEN 1 AND 64 OR r.room ~ '[[:cntrl:]]'))
        OR pg_column_size(r.payload) > 1048576
     ORDER BY r.o
     LIMIT 1;
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'daz.enqueue_many: ' || v_bad;
    END IF;

    WITH ins AS (
        INSERT INTO daz.jobs (queue, kind, room, payload, priority, run_at, max_attempts, correlation_id)
        SELECT r.queue, r.kind, r.room, coalesce(r.payload, '{}'), coalesce(r.priority, 0),
               coalesce(r.run_at, now()), q.max_attempts, r.correlation_id
          FROM ROWS FROM (jsonb_to_recordset(p_jobs) AS (queue text, kind text, payload jsonb, room text,
                     priority integer, run_at timestamptz, correlation_id text)) WITH ORDINALITY AS r(queue, kind, payload, room, priority, run_at, correlation_id, o)
          JOIN daz.queues q ON q.name = r.queue
         ORDER BY r.o
        RETURNING id
    )
    SELECT array_agg(id ORDER BY id) INTO v_ids FROM ins;
    RETURN v_ids;
END
$fn$;

COMMENT ON FUNCTION daz.enqueue_many(jsonb) IS
    'Put many jobs on queues in one statement: a JSON array of objects with the keys of daz.enqueue without p_ '
    '(queue, kind, payload, room, priority, run_at, dedup_key, correlation_id, handler). Returns the ids in input order. '
    'At most 10000 jobs per call; one NOTIFY per queue.';
REVOKE ALL ON FUNCTION daz.enqueue_many(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION daz.enqueue_many(jsonb) TO daz_operator;

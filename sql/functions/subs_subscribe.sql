-- subs_subscribe.sql — daz.subscribe / daz.unsubscribe: add, change or remove a routing subscription.

CREATE OR REPLACE FUNCTION daz.subscribe(p_name text, p_tags text[], p_handler regprocedure,
                                         p_types text[] DEFAULT NULL, p_rooms text[] DEFAULT NULL,
                                         p_queue text DEFAULT 'bot', p_priority integer DEFAULT 0,
                                         p_exclude_tags text[] DEFAULT '{history,bot}',
                                         p_enabled boolean DEFAULT true, p_comment text DEFAULT NULL)
RETURNS daz.subscriptions
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, daz, pg_temp
AS $$
DECLARE
    v_row daz.subscriptions;
BEGIN
    IF p_name IS NULL OR length(p_name) NOT BETWEEN 1 AND 128 OR p_name ~ '[[:cntrl:]]' THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = 'daz.subscribe: name must be 1..128 characters without control characters';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM daz.queues q WHERE q.name = p_queue) THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('daz.subscribe: unknown queue "%s"', p_queue);
    END IF;
    IF p_priority IS NULL OR p_priority NOT BETWEEN 0 AND 3 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('daz.subscribe: priority must be 0..3, got %s', COALESCE(p_priority::text, 'NULL'));
    END IF;
    IF COALESCE(cardinality(p_tags), 0) = 0 AND p_types IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = 'daz.subscribe: give at least one tag or a list of types (a subscription to everything is refused)';
    END IF;
    PERFORM daz.queue_check_handler('daz.subscribe', p_handler);
    IF p_handler IS NULL AND (SELECT q.handler FROM daz.queues q WHERE q.name = p_queue) IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('daz.subscribe: no handler given and queue "%s" has none', p_queue);
    END IF;

    INSERT INTO daz.subscriptions AS s (name, tags, exclude_tags, types, rooms, queue, handler, priority, enabled, comment)
    VALUES (p_name, COALESCE(p_tags, '{}'), COALESCE(p_exclude_tags, '{}'), p_types, p_rooms, p_queue, p_handler,
            p_priority, COALESCE(p_enabled, true), p_comment)
    ON CONFLICT (name) DO UPDATE
       SET tags = EXCLUDED.tags, exclude_tags = EXCLUDED.exclude_tags, types = EXCLUDED.types, rooms = EXCLUDED.rooms,
           queue = EXCLUDED.queue, handler = EXCLUDED.handler, priority = EXCLUDED.priority,
           enabled = EXCLUDED.enabled, comment = COALESCE(EXCLUDED.comment, s.comment)
    RETURNING * INTO v_row;
    RETURN v_row;
END;
$$;
COMMENT ON FUNCTION daz.subscribe(text, text[], regprocedure, text[], text[], text, integer, text[], boolean, text) IS
    'Adds or replaces subscription p_name: events with all p_tags, none of p_exclude_tags (default history, bot), '
    'a type in p_types and a room in p_rooms (NULL: any) become jobs on p_queue (default bot) for p_handler, '
    'a function (daz.jobs) RETURNS jsonb. Applies from the next ingested batch. Returns the subscription row.';

CREATE OR REPLACE FUNCTION daz.unsubscribe(p_name text)
RETURNS daz.subscriptions
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, daz, pg_temp
AS $$
DECLARE
    v_row daz.subscriptions;
BEGIN
    DELETE FROM daz.subscriptions WHERE name = p_name RETURNING * INTO v_row;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'P0002', MESSAGE = format('daz.unsubscribe: no subscription "%s"', p_name);
    END IF;
    RETURN v_row;
END;
$$;
COMMENT ON FUNCTION daz.unsubscribe(text) IS
    'Removes subscription p_name (jobs it already made stay queued) and returns the removed row; '
    'to pause one instead: UPDATE daz.subscriptions SET enabled = false WHERE name = ...';

REVOKE ALL ON FUNCTION daz.subscribe(text, text[], regprocedure, text[], text[], text, integer, text[], boolean, text),
                       daz.unsubscribe(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION daz.subscribe(text, text[], regprocedure, text[], text[], text, integer, text[], boolean, text),
                          daz.unsubscribe(text) TO daz_operator;

-- subs_check.sql — trigger on daz.subscriptions: handler signature and queue handler checks, updated_at.

CREATE OR REPLACE FUNCTION daz.subs_check() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, daz, pg_temp
AS $$
DECLARE
    v_queue_handler regprocedure;
BEGIN
    -- Handlers run with the rights of the owner of schema daz: same rule as daz.enqueue.
    PERFORM daz.queue_check_handler(format('daz.subscriptions: subscription "%s"', NEW.name), NEW.handler);
    IF NEW.handler IS NULL THEN
        SELECT q.handler INTO v_queue_handler FROM daz.queues q WHERE q.name = NEW.queue;
        IF v_queue_handler IS NULL THEN
            RAISE EXCEPTION USING ERRCODE = '22023',
                MESSAGE = format('daz.subscriptions: subscription "%s" has no handler and queue "%s" has none either',
                                 NEW.name, NEW.queue);
        END IF;
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION daz.subs_check() IS
    'Trigger function of daz.subscriptions: refuses a handler that is not handler(daz.jobs) RETURNS jsonb owned by the owner of schema daz, or a '
    'subscription without handler on a queue without handler; stamps updated_at.';
REVOKE ALL ON FUNCTION daz.subs_check() FROM PUBLIC;

-- subs_check.sql — trigger on daz.subscriptions: handler signature and queue handler checks, updated_at.

CREATE OR REPLACE FUNCTION daz.subs_check() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, daz, pg_temp
AS $$
DECLARE
    v_queue_handler regprocedure;
BEGIN
    IF NEW.handler IS NOT NULL AND NOT EXISTS (
           SELECT 1 FROM pg_proc p
            WHERE p.oid = NEW.handler
              AND p.pronargs = 1
              AND p.proargtypes[0] = 'daz.jobs'::regtype
              AND p.prorettype = 'jsonb'::regtype
              AND p.prokind = 'f'
              AND NOT p.proretset) THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('daz.subscriptions: handler %s of subscription "%s" must be a function (daz.jobs) RETURNS jsonb',
                             NEW.handler, NEW.name);
    END IF;
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
    'Trigger function of daz.subscriptions: refuses a handler that is not handler(daz.jobs) RETURNS jsonb, or a '
    'subscription without handler on a queue without handler; stamps updated_at.';
REVOKE ALL ON FUNCTION daz.subs_check() FROM PUBLIC;

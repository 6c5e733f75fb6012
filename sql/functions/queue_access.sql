-- queue_access.sql — who is calling: the rule that keeps daz_daemon on queue cytube.

-- Inside a SECURITY DEFINER function current_user is the function's owner (the role that runs
-- scripts/migrate, which also owns schema daz), so the caller is read from the role GUC (SET ROLE)
-- or, without one, the session user. A caller that is not a member of that owner (superusers are
-- members of every role) is "limited": it may claim, complete, fail and extend jobs of queue
-- cytube only.
-- Only the SECURITY DEFINER queue functions call this (nobody else may): called elsewhere,
-- current_user would be the caller itself and the answer always false. It is one SQL expression
-- so that the planner inlines it into the caller's own expression: as a PL/pgSQL function with a
-- catalog query it cost as much CPU as the claim's priority probe, on every claim and
-- acknowledgement of any queue but cytube.
CREATE OR REPLACE FUNCTION daz.queue_caller_limited() RETURNS boolean
LANGUAGE sql STABLE
AS $fn$
    SELECT NOT pg_catalog.pg_has_role(coalesce(nullif(nullif(pg_catalog.current_setting('role'), 'none'), ''),
                                               session_user::text),
                                      current_user, 'MEMBER')
$fn$;

COMMENT ON FUNCTION daz.queue_caller_limited() IS
    'Inside the SECURITY DEFINER queue functions: true when the calling role (SET ROLE, else the session user) is not a '
    'member of the functions'' owner (who owns schema daz): such callers (daz_daemon) may only claim, complete, fail and '
    'extend jobs of queue cytube.';
REVOKE ALL ON FUNCTION daz.queue_caller_limited() FROM PUBLIC;

-- Raises 42501 unless the caller may work queue p_queue (see daz.queue_caller_limited).
CREATE OR REPLACE FUNCTION daz.queue_check_worker(p_fn text, p_queue text) RETURNS void
LANGUAGE plpgsql STABLE
AS $fn$
BEGIN
    IF p_queue IS DISTINCT FROM 'cytube' AND daz.queue_caller_limited() THEN
        RAISE EXCEPTION USING ERRCODE = '42501',
            MESSAGE = pg_catalog.format('%s: permission denied for queue "%s"', p_fn, p_queue),
            HINT = 'daz_daemon may only work jobs of queue cytube.';
    END IF;
END
$fn$;

COMMENT ON FUNCTION daz.queue_check_worker(text, text) IS
    'Raises insufficient_privilege unless the caller may claim/complete/fail/extend jobs of the queue (daz_daemon: cytube only).';
REVOKE ALL ON FUNCTION daz.queue_check_worker(text, text) FROM PUBLIC;

-- Raises 22023 unless a worker name of 1..128 characters and a limit of 1..10000 jobs were given
-- (daz.claim, daz.run_jobs).
CREATE OR REPLACE FUNCTION daz.queue_check_worker_limit(p_fn text, p_worker text, p_limit integer) RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $fn$
BEGIN
    IF p_worker IS NULL OR length(p_worker) NOT BETWEEN 1 AND 128 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = pg_catalog.format('%s: worker must be 1..128 characters', p_fn);
    END IF;
    IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = pg_catalog.format('%s: limit must be 1..10000, got %s', p_fn, coalesce(p_limit::text, 'NULL'));
    END IF;
END
$fn$;

COMMENT ON FUNCTION daz.queue_check_worker_limit(text, text, integer) IS
    'Raises invalid_parameter_value unless the worker name has 1..128 characters and the limit is 1..10000.';
REVOKE ALL ON FUNCTION daz.queue_check_worker_limit(text, text, integer) FROM PUBLIC;

-- A handler runs with the owner's rights inside daz.run_jobs, so only functions owned by the owner
-- of schema daz (or a superuser) with the shape handler(daz.jobs) RETURNS jsonb are accepted.
CREATE OR REPLACE FUNCTION daz.queue_check_handler(p_fn text, p_handler regprocedure) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp  -- so handler names print schema-qualified in errors
AS $fn$
DECLARE
    v_proc record;
BEGIN
    IF p_handler IS NULL THEN
        RETURN;
    END IF;
    SELECT p.pronargs, p.proargtypes[0] AS argtype, p.prorettype, p.prokind, p.proowner INTO v_proc
      FROM pg_proc p WHERE p.oid = p_handler;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = '42883',
            MESSAGE = format('%s: handler %s does not exist', p_fn, p_handler::oid);
    END IF;
    IF v_proc.prokind <> 'f' OR v_proc.pronargs <> 1 OR v_proc.argtype <> 'daz.jobs'::regtype
       OR v_proc.prorettype <> 'jsonb'::regtype THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('%s: handler %s must be a function (job daz.jobs) RETURNS jsonb', p_fn, p_handler);
    END IF;
    IF NOT pg_has_role(v_proc.proowner, (SELECT n.nspowner FROM pg_namespace n WHERE n.nspname = 'daz'), 'MEMBER') THEN
        RAISE EXCEPTION USING ERRCODE = '42501',
            MESSAGE = format('%s: handler %s is not owned by the owner of schema daz', p_fn, p_handler);
    END IF;
END
$fn$;

COMMENT ON FUNCTION daz.queue_check_handler(text, regprocedure) IS
    'Raises unless the handler is a function (daz.jobs) RETURNS jsonb owned by the owner of schema daz (handlers run with its rights).';
REVOKE ALL ON FUNCTION daz.queue_check_handler(text, regprocedure) FROM PUBLIC;

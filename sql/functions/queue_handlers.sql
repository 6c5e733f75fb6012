-- queue_handlers.sql — default handler of in-database queues: fail loudly for kinds nobody handles.

CREATE OR REPLACE FUNCTION daz.unrouted_job(p_job daz.jobs) RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, daz, pg_temp
AS $fn$
BEGIN
    RAISE EXCEPTION USING ERRCODE = '42883', MESSAGE = format('no handler for kind "%s"', p_job.kind);
END
$fn$;

COMMENT ON FUNCTION daz.unrouted_job(daz.jobs) IS
    'Handler of queues bot and maintenance for jobs without their own handler: raises "no handler for kind" '
    '(undefined_function, not retryable), so such jobs go straight to daz.dead_letters.';
REVOKE ALL ON FUNCTION daz.unrouted_job(daz.jobs) FROM PUBLIC;

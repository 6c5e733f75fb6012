-- queue_backoff.sql — retry delay: capped exponential backoff with jitter.

CREATE OR REPLACE FUNCTION daz.retry_delay(p_attempt integer, p_base interval, p_factor numeric,
                                           p_max interval, p_jitter numeric) RETURNS interval
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, daz, pg_temp
AS $fn$
DECLARE
    v_max_s  numeric := extract(epoch FROM p_max);
    v_base_s numeric := extract(epoch FROM p_base);
    v_s      numeric;
BEGIN
    IF p_attempt IS NULL OR p_attempt < 1 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('daz.retry_delay: attempt must be >= 1, got %s', coalesce(p_attempt::text, 'NULL'));
    END IF;
    -- The exponent is capped so the power stays small; past the cap the delay is backoff_max anyway.
    v_s := least(v_max_s, v_base_s * power(p_factor, least(p_attempt - 1, 200)::numeric));
    v_s := v_s * (1 + coalesce(p_jitter, 0) * (2 * random()::numeric - 1));
    RETURN make_interval(secs => greatest(v_s, 0)::double precision);
END
$fn$;

COMMENT ON FUNCTION daz.retry_delay(integer, interval, numeric, interval, numeric) IS
    'Delay before retrying after failed attempt n: least(max, base * factor ^ (n - 1)) * (1 + jitter * (2 * random() - 1)); '
    'never negative, never above max * (1 + jitter).';
REVOKE ALL ON FUNCTION daz.retry_delay(integer, interval, numeric, interval, numeric) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION daz.retry_delay(integer, interval, numeric, interval, numeric) TO daz_operator;

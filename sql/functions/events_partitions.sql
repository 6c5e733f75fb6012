-- events_partitions.sql — daily partitions of daz.events: create ahead, move rows out of the default partition, drop after retention, purge short-retention rows, pg_cron schedule.

-- Name of the partition holding UTC day p_day.
CREATE OR REPLACE FUNCTION daz.events_partition_name(p_day date)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT
AS $$ SELECT 'events_' || to_char(p_day, 'YYYYMMDD') $$;
COMMENT ON FUNCTION daz.events_partition_name(date) IS
    'Name (in schema daz) of the daz.events partition for a UTC day: events_YYYYMMDD.';

-- Longest store retention of the log rules: partitions older than this are dropped.
CREATE OR REPLACE FUNCTION daz.events_max_retention()
RETURNS interval
LANGUAGE sql STABLE
AS $$ SELECT COALESCE(max(retention) FILTER (WHERE action = 'store'), interval '90 days') FROM daz.log_rules $$;
COMMENT ON FUNCTION daz.events_max_retention() IS
    'Longest retention among the store rules in daz.log_rules (90 days if none): how long a daz.events partition lives.';

CREATE OR REPLACE FUNCTION daz.ensure_partitions(p_days_ahead int DEFAULT 7)
RETURNS int
LANGUAGE plpgsql
SET search_path = pg_catalog, daz, pg_temp
AS $$
DECLARE
    v_today   date := (now() AT TIME ZONE 'UTC')::date;
    v_oldest  date := ((now() - daz.events_max_retention()) AT TIME ZONE 'UTC')::date;
    v_day     date;
    v_name    text;
    v_lo      timestamptz;
    v_hi      timestamptz;
    v_created int := 0;
BEGIN
    IF p_days_ahead IS NULL OR p_days_ahead < 0 OR p_days_ahead > 366 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('daz.ensure_partitions: p_days_ahead must be 0..366, got %s', p_days_ahead);
    END IF;
    -- One maintainer at a time; a concurrent call simply waits its turn (the work is idempotent).
    PERFORM pg_advisory_xact_lock(hashtext('daz.events.partitions'));

    -- Days from yesterday to p_days_ahead ahead, plus every day still within retention that has rows
    -- stranded in the default partition (spool replayed after an outage, clock skew).
    FOR v_day IN
        SELECT d::date FROM generate_series(v_today - 1, v_today + p_days_ahead, interval '1 day') AS d
        UNION
        SELECT DISTINCT (received_at AT TIME ZONE 'UTC')::date FROM daz.events_default
         WHERE received_at >= (v_oldest::timestamp AT TIME ZONE 'UTC')
        ORDER BY 1
    LOOP
        v_name := daz.events_partition_name(v_day);
        CONTINUE WHEN to_regclass(format('daz.%I', v_name)) IS NOT NULL;
        v_lo := v_day::timestamp AT TIME ZONE 'UTC';
        v_hi := (v_day + 1)::timestamp AT TIME ZONE 'UTC';
        IF EXISTS (SELECT 1 FROM daz.events_default WHERE received_at >= v_lo AND received_at < v_hi) THEN
            -- A partition cannot be created over rows in the default partition: build it detached,
            -- move the rows, then attach it (ATTACH checks the default no longer holds that range).
            EXECUTE format('CREATE TABLE daz.%I (LIKE daz.events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', v_name);
            EXECUTE format('WITH moved AS (DELETE FROM daz.events_default WHERE received_at >= $1 AND received_at < $2 RETURNING *)'
                           ' INSERT INTO daz.%I SELECT * FROM moved', v_name) USING v_lo, v_hi;
            EXECUTE format('ALTER TABLE daz.events ATTACH PARTITION daz.%I FOR VALUES FROM (%L) TO (%L)', v_name, v_lo, v_hi);
        ELSE
            EXECUTE format('CREATE TABLE daz.%I PARTITION OF daz.events FOR VALUES FROM (%L) TO (%L)', v_name, v_lo, v_hi);
        END IF;
        EXECUTE format('REVOKE ALL ON daz.%I FROM PUBLIC', v_name);
        EXECUTE format('GRANT SELECT ON daz.%I TO daz_operator', v_name);
        EXECUTE format('COMMENT ON TABLE daz.%I IS %L', v_name,
                       format('Partition of daz.events for UTC day %s (made by daz.ensure_partitions).', v_day));
        v_created := v_created + 1;
    END LOOP;
    RETURN v_created;
END;
$$;
COMMENT ON FUNCTION daz.ensure_partitions(int) IS
    'Creates the daily partitions of daz.events from yesterday to p_days_ahead days ahead (UTC), and a partition for '
    'every day within retention that has rows in daz.events_default, moving those rows into it. Idempotent, '
    'serialised by an advisory lock. Returns the number of partitions created. Run hourly by pg_cron.';

CREATE OR REPLACE FUNCTION daz.drop_expired_partitions()
RETURNS int
LANGUAGE plpgsql
SET search_path = pg_catalog, daz, pg_temp
AS $$
DECLARE
    v_cutoff  date := ((now() - daz.events_max_retention()) AT TIME ZONE 'UTC')::date;
    v_part    record;
    v_dropped int := 0;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('daz.events.partitions')) THEN
        RETURN 0;   -- another maintainer is at work; the next run catches up
    END IF;
    FOR v_part IN
        SELECT c.relname, to_date(substr(c.relname, 8), 'YYYYMMDD') AS day
          FROM pg_inherits i
          JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'daz.events'::regclass
           AND c.relname ~ '^events_[0-9]{8}$'
         ORDER BY 2
    LOOP
        -- A partition holds one day; it expires once the whole day is older than the cutoff.
        EXIT WHEN v_part.day >= v_cutoff;
        EXECUTE format('DROP TABLE daz.%I', v_part.relname);
        v_dropped := v_dropped + 1;
    END LOOP;
    DELETE FROM daz.events_default WHERE received_at < (v_cutoff::timestamp AT TIME ZONE 'UTC');
    DELETE FROM daz.rejected_events
     WHERE rejected_at < now() - daz.setting('rejected_retention', '30 days')::interval;
    DELETE FROM daz.ingest_counters WHERE hour < (v_cutoff::timestamp AT TIME ZONE 'UTC');
    RETURN v_dropped;
END;
$$;
COMMENT ON FUNCTION daz.drop_expired_partitions() IS
    'Drops the daz.events partitions whose whole day is older than the longest store retention in daz.log_rules, '
    'deletes such rows from the default partition, and prunes daz.rejected_events and daz.ingest_counters. '
    'Skips (returns 0) if another maintainer holds the lock. Returns the number of partitions dropped. Daily by pg_cron.';

CREATE OR REPLACE FUNCTION daz.purge_expired_events(p_limit int DEFAULT 50000)
RETURNS int
LANGUAGE plpgsql
SET search_path = pg_catalog, daz, pg_temp
AS $$
DECLARE
    v_deleted int;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('daz.events.purge')) THEN
        RETURN 0;
    END IF;
    DELETE FROM daz.events e
     USING (SELECT received_at, id FROM daz.events
             WHERE expires_at IS NOT NULL AND expires_at < now()
             ORDER BY expires_at LIMIT p_limit) x
     WHERE e.received_at = x.received_at AND e.id = x.id;
    GET DIAGNOSTICS v_deleted = ROW_COUNT;
    RETURN v_deleted;
END;
$$;
COMMENT ON FUNCTION daz.purge_expired_events(int) IS
    'Deletes up to p_limit events whose per-row retention (expires_at, set by a log rule shorter than the longest) '
    'has passed, oldest first, through the partial index on expires_at. Returns rows deleted. Every 10 minutes by pg_cron.';

CREATE OR REPLACE FUNCTION daz.events_schedule()
RETURNS int
LANGUAGE plpgsql
SET search_path = pg_catalog, daz, pg_temp
AS $$
BEGIN
    IF to_regnamespace('cron') IS NULL THEN
        RETURN 0;   -- pg_cron is not installed in this database
    END IF;
    PERFORM cron.schedule('daz-events-partitions', '7 * * * *', 'SELECT daz.ensure_partitions(7)');
    PERFORM cron.schedule('daz-events-retention', '23 3 * * *', 'SELECT daz.drop_expired_partitions()');
    PERFORM cron.schedule('daz-events-purge', '*/10 * * * *', 'SELECT daz.purge_expired_events(50000)');
    RETURN 3;
END;
$$;
COMMENT ON FUNCTION daz.events_schedule() IS
    'Installs (or updates, by job name) the pg_cron jobs daz-events-partitions (hourly), daz-events-retention (daily) '
    'and daz-events-purge (every 10 minutes). Does nothing where the cron schema does not exist. Returns jobs scheduled.';

REVOKE ALL ON FUNCTION daz.ensure_partitions(int), daz.drop_expired_partitions(), daz.purge_expired_events(int),
                       daz.events_schedule() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION daz.ensure_partitions(int), daz.purge_expired_events(int) TO daz_operator;

-- Applied on every migrate: partitions for the coming week exist, and the maintenance jobs are scheduled.
DO $$
BEGIN
    PERFORM daz.ensure_partitions(7);
    PERFORM daz.events_schedule();
END;
$$;

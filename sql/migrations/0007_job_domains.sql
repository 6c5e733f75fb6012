-- 0007_job_domains.sql — the single-column rules of daz.jobs become domains.
--
-- PostgreSQL reads every CHECK constraint of a table from the catalog text and prepares it again
-- for each INSERT or UPDATE statement, and evaluates all of them for every row an UPDATE writes,
-- whichever columns it changes. daz.jobs is updated by every claim (state, attempts, lease, worker
-- only), so its six checks were about a sixth of the CPU of a claim and its acknowledgement. A
-- domain's check is prepared once per session and runs only when a value is assigned to a column
-- of that domain. The rules are the same as before; only the rule that ties state to the lease
-- and worker spans columns and stays a table constraint.
--
-- queue_overview (present when upgrading) reads these columns and has to go while their types
-- change; it is created again, with its grants, from sql/functions/queue_zz_views.sql right after
-- the migrations.

CREATE DOMAIN daz.job_kind AS text
    CONSTRAINT job_kind_check CHECK (length(VALUE) BETWEEN 1 AND 128 AND VALUE !~ '[[:cntrl:]]');
COMMENT ON DOMAIN daz.job_kind IS 'What a job does (daz.jobs.kind): 1..128 characters, no control characters.';

CREATE DOMAIN daz.job_room AS text
    CONSTRAINT job_room_check CHECK (length(VALUE) BETWEEN 1 AND 64 AND VALUE !~ '[[:cntrl:]]');
COMMENT ON DOMAIN daz.job_room IS 'The CyTube room a job belongs to (daz.jobs.room): 1..64 characters, no control characters.';

CREATE DOMAIN daz.job_priority AS smallint
    CONSTRAINT job_priority_check CHECK (VALUE BETWEEN 0 AND 3);
COMMENT ON DOMAIN daz.job_priority IS 'Job priority (daz.jobs.priority): 0 (normal) .. 3 (first); higher runs first.';

CREATE DOMAIN daz.job_max_attempts AS integer
    CONSTRAINT job_max_attempts_check CHECK (VALUE BETWEEN 1 AND 1000);
COMMENT ON DOMAIN daz.job_max_attempts IS 'How many attempts a job gets before it is dead-lettered (daz.jobs.max_attempts): 1..1000.';

CREATE DOMAIN daz.job_state AS text
    CONSTRAINT job_state_check CHECK (VALUE IN ('ready', 'running'));
COMMENT ON DOMAIN daz.job_state IS 'State of a job in daz.jobs: ready (waiting for run_at or a worker) or running (claimed, under lease).';

DROP VIEW IF EXISTS daz.queue_overview;

ALTER TABLE daz.jobs
    DROP CONSTRAINT jobs_kind_check,
    DROP CONSTRAINT jobs_room_check,
    DROP CONSTRAINT jobs_priority_check,
    DROP CONSTRAINT jobs_state_check,
    DROP CONSTRAINT jobs_max_attempts_check,
    ALTER COLUMN kind TYPE daz.job_kind,
    ALTER COLUMN room TYPE daz.job_room,
    ALTER COLUMN priority TYPE daz.job_priority,
    ALTER COLUMN state TYPE daz.job_state,
    ALTER COLUMN max_attempts TYPE daz.job_max_attempts;

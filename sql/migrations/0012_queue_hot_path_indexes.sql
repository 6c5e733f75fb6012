-- 0012_queue_hot_path_indexes.sql — no index on the queue tables that only housekeeping reads.
--
-- Every index of a table is written by each statement that puts a row version into it (a claim is
-- an UPDATE that changes indexed columns, so it writes a new entry into every index whose predicate
-- the running row meets), and PostgreSQL opens and prepares each index of the table for each such
-- statement. Two indexes were written on every job and read only by housekeeping:
--
-- * jobs_lease_idx (running jobs by lease end) got an entry with every claim, for
--   daz.rescue_expired, which pg_cron runs once a minute. Without it the rescue reads daz.jobs
--   whole: ready, running and scheduled jobs, 7 ms for 100,000 of them, once a minute, against
--   about 13,000 instructions (and a WAL record) on each of thousands of claims per second.
-- * job_results_completed_brin got an entry with every acknowledgement (about 11,000
--   instructions: a BRIN index sets up its descriptor and reads its range map for each statement)
--   and no query used it: daz.prune_job_results compares completed_at with each queue's own
--   retention, which a scan of one index by one bound cannot answer, and reads the table.
--
-- Counted with tests/bench/queue/instructions: a single-job claim and its acknowledgement went
-- from 729,310 to 701,667 instructions.

DROP INDEX IF EXISTS daz.jobs_lease_idx;
DROP INDEX IF EXISTS daz.job_results_completed_brin;

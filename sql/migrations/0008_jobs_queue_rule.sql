-- 0008_jobs_queue_rule.sql — a job's queue is checked once per statement instead of once per row.
--
-- The foreign key from daz.jobs.queue to daz.queues ran a query and locked the queue's row for
-- every job inserted: a quarter of the CPU of inserting a job (35,000 of 144,000 instructions per
-- row, callgrind), paid 28,000 times by the subscriptions of the ingest benchmark for one queue
-- name. The same rule is now kept by triggers (sql/functions/queue_rule.sql): the statement
-- trigger that already sees the inserted jobs for its wake-up checks their queues once and locks
-- them FOR KEY SHARE as the foreign key did; deleting a queue that still has jobs fails with the
-- foreign key's SQLSTATE, renaming one carries its jobs along, truncating queues with jobs fails.
-- daz.paused_rooms and daz.subscriptions keep their foreign keys (few rows, rarely written).

ALTER TABLE daz.jobs DROP CONSTRAINT jobs_queue_fkey;

-- The wake-up trigger becomes the trigger for inserted jobs (check, then wake-up), under a new name.
DROP TRIGGER IF EXISTS jobs_notify_insert ON daz.jobs;
DROP FUNCTION IF EXISTS daz.queue_notify_inserted();

-- 0009_claim_index_keys.sql — the claim indexes lead with fixed-width keys.
--
-- A btree reads a column of an index tuple at a fixed offset only while every column before it has
-- a fixed width; after a text column each later column is found by walking the ones before it.
-- The claim indexes began with the queue name (text), so every comparison made while descending
-- them and every entry a claim read on its leaf page walked over the name to reach priority and
-- run_at: about 60,000 instructions of the 875,000 a single-job claim and its acknowledgement cost
-- (callgrind, tests/bench/queue/instructions). The room index had a second text column, the room,
-- before run_at. Both now hold hashtext() of the names, an integer, in their place, and the claim
-- compares the names themselves as well, so two names with the same hash never mix (the row is
-- checked after the index lookup; a collision only costs a row read and skipped).
--
-- The ranges a claim scans are the same as before: one queue (one hash), one priority, run_at up
-- to now(); with a room list, one room within that.

DROP INDEX daz.jobs_claim_idx;
CREATE INDEX jobs_claim_idx ON daz.jobs (hashtext(queue), priority DESC, run_at, id) WHERE state = 'ready';
COMMENT ON INDEX daz.jobs_claim_idx IS
    'Claim order for daz.claim without a room filter; holds only ready rows. Keyed by hashtext(queue): '
    'a query must also compare queue itself.';

DROP INDEX daz.jobs_claim_room_idx;
CREATE INDEX jobs_claim_room_idx ON daz.jobs (hashtext(queue), priority DESC, hashtext(room), run_at, id)
    WHERE state = 'ready';
COMMENT ON INDEX daz.jobs_claim_room_idx IS
    'Claim order per room for daz.claim with p_rooms (dazd claims for the rooms it holds). Keyed by hashtext(queue) '
    'and hashtext(room): a query must also compare queue and room themselves.';

-- 014: allocation plans are computed in worker threads. A plan row exists
-- from the moment it is asked for (status queued), so its id can be given
-- at once (202 + Location); the planner's result fills it in (done) or not
-- (failed). Plans stored before this migration were computed on the spot:
-- they are done.
-- Referents see the file reference (ref) of the young people in a plan: it
-- is joined when the plan is read, never stored in the plan (erasing a young
-- person erases it from every plan too). The functions that queue, finish
-- and read a plan (plan_enqueue, plan_finish, plan_json, plan_with_refs) are
-- API functions: sql/functions/plans.sql.

ALTER TABLE allocation_plans
    ADD COLUMN status text NOT NULL DEFAULT 'done'
        CONSTRAINT ck_allocation_plans__status CHECK (status IN ('queued', 'running', 'done', 'failed')),
    ADD COLUMN progress real NOT NULL DEFAULT 1
        CONSTRAINT ck_allocation_plans__progress CHECK (progress BETWEEN 0 AND 1),
    ADD COLUMN finished_at timestamptz,
    ALTER COLUMN plan DROP NOT NULL,
    ALTER COLUMN total_score DROP NOT NULL;
ALTER TABLE allocation_plans ALTER COLUMN status SET DEFAULT 'queued';
ALTER TABLE allocation_plans ALTER COLUMN progress SET DEFAULT 0;

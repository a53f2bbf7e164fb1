-- 019: every import (dry run or apply) is recorded as a run: who, when, what
-- kind and mode, the counts, and each row's outcome and errors, so the UI
-- lists past imports and a porteur or a referent sees what a file did.
-- Schema only: import_offers / import_youth write the runs, import_runs_list
-- and import_run_get read them, youth_erase forgets a young person's rows
-- (sql/functions/imports.sql, youth.sql).
CREATE TABLE import_runs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind text NOT NULL CONSTRAINT ck_import_runs__kind CHECK (kind IN ('offers', 'youth')),
    mode text NOT NULL CONSTRAINT ck_import_runs__mode CHECK (mode IN ('dry_run', 'apply')),
    applied boolean NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- who: as in the audit (no foreign keys: a revoked token or a removed
    -- account leaves its runs)
    role text NOT NULL,
    token_id bigint,
    account_id bigint,
    -- scope: the porteur whose offers the file is about (a porteur's own
    -- runs; an admin's file about one porteur); the départements of a
    -- youth file (the referent's, or those of an admin's rows)
    porteur_id bigint,
    departements text[],
    encoding text,
    separator text,
    summary jsonb NOT NULL,
    -- [{row, outcome, id}] and [{row, column, pointer, code, detail}] as the
    -- report gave them: json, kept as text, so recording a 10,000-row run
    -- costs one write, not a conversion
    rows json NOT NULL,
    errors json NOT NULL,
    -- the young people the rows name, so erasing one finds its runs
    youth_ids bigint[]
);
CREATE INDEX import_runs_porteur_idx ON import_runs (porteur_id, id) WHERE porteur_id IS NOT NULL;
CREATE INDEX import_runs_youth_ids_idx ON import_runs USING gin (youth_ids) WHERE youth_ids IS NOT NULL;

-- 027 a plan is stored as the JSON text the daemon wrote (json, not jsonb),
-- in lz4. Storing the 4.5 MB plan of a large département as jsonb parsed it
-- into a tree and compressed that with pglz (0.2-0.4 s); reading it back
-- decompressed it several times and merged trees (plan_json, ~1 s). Only
-- the plan's readers look inside it, and they assemble their answer from
-- the text as it is written (sql/functions/plans.sql): every item of
-- assignments and unassigned starts with {"youth_id":<id>. applied stays
-- jsonb: it is merged into.
--
-- One statement for the type and the compression: a change of type forgets
-- the column's compression, and the rows are rewritten once every part of
-- the statement is done, so in lz4.
ALTER TABLE allocation_plans
    ALTER COLUMN plan TYPE json USING plan::json,
    ALTER COLUMN plan SET COMPRESSION lz4;

-- The plans stored before are jsonb's text (keys by length: youth_id is not
-- first): written again as the daemon writes them, the arrays first, each
-- item's youth_id first, the rest of it as it was.
UPDATE allocation_plans a SET plan = (
    SELECT '{' || string_agg(to_json(t.key)::text || ':' || CASE
               WHEN t.key IN ('assignments', 'unassigned') AND jsonb_typeof(t.value) = 'array' THEN
                   '[' || coalesce((SELECT string_agg(CASE
                           WHEN NOT i.item ? 'youth_id' THEN i.item::text
                           WHEN i.item - 'youth_id' = '{}' THEN '{"youth_id":' || (i.item->'youth_id')::text || '}'
                           ELSE '{"youth_id":' || (i.item->'youth_id')::text || ',' || right((i.item - 'youth_id')::text, -1)
                       END, ',' ORDER BY i.n)
                       FROM jsonb_array_elements(t.value) WITH ORDINALITY AS i(item, n)), '') || ']'
               ELSE t.value::text END,
           ',' ORDER BY t.key NOT IN ('assignments', 'unassigned'), t.key <> 'assignments', t.key) || '}'
    FROM jsonb_each(a.plan::jsonb) AS t)::json
WHERE jsonb_typeof(plan::jsonb) = 'object' AND plan::jsonb <> '{}';

/*
 * inventory_rows: the inv_* SQL functions' rows (sql/003_youth.sql,
 * sql/004_placements.sql) turned into inventory model changes. Columns are
 * found by name (PQfnumber), so a function may add or reorder columns; a
 * column we need and do not find fails the whole result (logged).
 *
 * `ids` is what was asked for (NULL: everything, a full load): an offer
 * asked for and returned without places has none left; a young person
 * asked for and not returned was erased.
 */
#ifndef SIAOD_INVENTORY_ROWS_H
#define SIAOD_INVENTORY_ROWS_H

#include <stdint.h>
#include <libpq-fe.h>

struct inventory;

/* Each returns 0, or -1 (missing column, out of memory). */
int inventory_rows_offers(struct inventory *inv, const PGresult *res);
int inventory_rows_places(struct inventory *inv, const PGresult *res, const int64_t *ids, int nids);
int inventory_rows_spans(struct inventory *inv, const PGresult *res, const int64_t *ids, int nids);
int inventory_rows_youth(struct inventory *inv, const PGresult *res, const int64_t *ids, int nids);

#endif

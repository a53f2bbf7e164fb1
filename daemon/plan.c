/*
 * The allocation planner (see include/siaod/plan.h).
 *
 * Nodes: rows (young people) 0..n-1, columns (offers) n..n+m-1, the column
 * NOPLACE (unlimited, weight 0) and the sink T. Costs are negated weights;
 * reduced costs c(u,v) + pi(u) - pi(v) stay >= 0 on every residual arc:
 *   row i   -> column j   cost -w(i,j)   (i not in j)
 *   column j -> row i     cost +w(i,j)   (i in j: bumping i out)
 *   row i   -> NOPLACE    cost 0
 *   column j -> T         cost 0         (j has a free place; NOPLACE always)
 * Each row is added by one shortest path from it to T. Dijkstra stops when
 * T is popped; only the nodes it finalised get new potentials
 * (pi += d - d*), which keeps every reduced cost non-negative.
 */
#include "siaod/plan.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct heap_item {
	int64_t d;
	int32_t node;
};

struct solver {
	int32_t n, m, noplace, sink, nodes;
	/* rows' arcs, CSR */
	size_t *row_start;
	int32_t *row_col;
	int64_t *row_w;
	/* what each row holds now: a column (0..m-1), NOPLACE (m) or -1 (not yet added) */
	int32_t *row_at;
	int64_t *row_at_w;
	int32_t *row_slot;          /* index in its column's list */
	/* columns: capacity and the rows in them */
	int32_t *cap;
	size_t *col_start;
	int32_t *col_len, *col_rows;
	/* Dijkstra */
	int64_t *pi, *dist, *pred_w;
	int32_t *pred;
	uint32_t *seen, *done, iter;
	int32_t *finalised;
	int32_t nfinal;
	struct heap_item *heap;
	size_t hlen, hcap;
	size_t arcs;
};

static bool heap_push(struct solver *s, int64_t d, int32_t node)
{
	if (s->hlen == s->hcap) {
		size_t cap = s->hcap ? s->hcap * 2 : 1024;
		struct heap_item *h = realloc(s->heap, cap * sizeof *h);
		if (!h)
			return false;
		s->heap = h;
		s->hcap = cap;
	}
	size_t i = s->hlen++;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (s->heap[p].d <= d)
			break;
		s->heap[i] = s->heap[p];
		i = p;
	}
	s->heap[i] = (struct heap_item){d, node};
	return true;
}

static struct heap_item heap_pop(struct solver *s)
{
	struct heap_item top = s->heap[0], last = s->heap[--s->hlen];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= s->hlen)
			break;
		if (c + 1 < s->hlen && s->heap[c + 1].d < s->heap[c].d)
			c++;
		if (s->heap[c].d >= last.d)
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (s->hlen > 0)
		s->heap[i] = last;
	return top;
}

/* Lazy insertion: a node may sit in the heap several times; stale copies
 * are skipped when popped. */
static bool relax(struct solver *s, int32_t from, int32_t to, int64_t d, int64_t w_if_column)
{
	s->arcs++;
	if (s->done[to] == s->iter)
		return true;
	if (s->seen[to] == s->iter && d >= s->dist[to])
		return true;
	s->seen[to] = s->iter;
	s->dist[to] = d;
	s->pred[to] = from;
	s->pred_w[to] = w_if_column;
	return heap_push(s, d, to);
}

static void column_remove(struct solver *s, int32_t col, int32_t row)
{
	int32_t *rows = s->col_rows + s->col_start[col];
	int32_t slot = s->row_slot[row], last = rows[--s->col_len[col]];
	rows[slot] = last;
	s->row_slot[last] = slot;
}

static void column_add(struct solver *s, int32_t col, int32_t row)
{
	s->row_slot[row] = s->col_len[col];
	s->col_rows[s->col_start[col] + (size_t)s->col_len[col]++] = row;
}

/* One shortest augmenting path from row r, then the assignment moves along it. */
static int augment(struct solver *s, int32_t r)
{
	s->iter++;
	s->hlen = 0;
	s->nfinal = 0;
	s->seen[r] = s->iter;
	s->dist[r] = 0;
	s->pred[r] = -1;
	if (!heap_push(s, 0, r))
		return -1;
	int64_t dstar = -1;
	while (s->hlen > 0) {
		struct heap_item it = heap_pop(s);
		int32_t u = it.node;
		if (s->done[u] == s->iter || it.d > s->dist[u])
			continue;
		s->done[u] = s->iter;
		s->finalised[s->nfinal++] = u;
		int64_t d = it.d;
		if (u == s->sink) {
			dstar = d;
			break;
		}
		bool ok = true;
		if (u < s->n) {                          /* a row */
			ok = relax(s, u, s->noplace, d + s->pi[u] - s->pi[s->noplace], 0);
			for (size_t e = s->row_start[u]; ok && e < s->row_start[u + 1]; e++) {
				int32_t col = s->row_col[e];
				if (col == s->row_at[u])
					continue;
				int32_t v = s->n + col;
				ok = relax(s, u, v, d - s->row_w[e] + s->pi[u] - s->pi[v], s->row_w[e]);
			}
		} else if (u == s->noplace) {
			ok = relax(s, u, s->sink, d + s->pi[u] - s->pi[s->sink], 0);
		} else {                                 /* a column */
			int32_t col = u - s->n;
			if (s->col_len[col] < s->cap[col])
				ok = relax(s, u, s->sink, d + s->pi[u] - s->pi[s->sink], 0);
			const int32_t *rows = s->col_rows + s->col_start[col];
			for (int32_t k = 0; ok && k < s->col_len[col]; k++) {
				int32_t row = rows[k];
				ok = relax(s, u, row, d + s->row_at_w[row] + s->pi[u] - s->pi[row], 0);
			}
		}
		if (!ok)
			return -1;
	}
	if (dstar < 0)
		return -1; /* cannot happen: NOPLACE is always reachable */
	for (int32_t k = 0; k < s->nfinal; k++) {
		int32_t v = s->finalised[k];
		if (s->dist[v] < dstar)
			s->pi[v] += s->dist[v] - dstar;
	}
	/* Walk back from T: each column on the path takes the row before it. */
	int32_t col_node = s->pred[s->sink];
	for (;;) {
		int32_t row = s->pred[col_node];
		int32_t from = s->row_at[row];
		int32_t col = col_node == s->noplace ? s->m : col_node - s->n;
		if (from >= 0 && from < s->m)
			column_remove(s, from, row);
		s->row_at[row] = col;
		s->row_at_w[row] = s->pred_w[col_node];
		if (col < s->m)
			column_add(s, col, row);
		if (row == r)
			break;
		col_node = s->n + from; /* the row came out of this column */
	}
	return 0;
}

static void solver_free(struct solver *s)
{
	free(s->row_start);
	free(s->row_col);
	free(s->row_w);
	free(s->row_at);
	free(s->row_at_w);
	free(s->row_slot);
	free(s->cap);
	free(s->col_start);
	free(s->col_len);
	free(s->col_rows);
	free(s->pi);
	free(s->dist);
	free(s->pred_w);
	free(s->pred);
	free(s->seen);
	free(s->done);
	free(s->finalised);
	free(s->heap);
}

static int solver_init(struct solver *s, const struct plan_input *in)
{
	int32_t n = in->npersons, m = in->noffers;
	memset(s, 0, sizeof *s);
	s->n = n;
	s->m = m;
	s->noplace = n + m;
	s->sink = n + m + 1;
	s->nodes = n + m + 2;
	size_t N = (size_t)s->nodes;
	s->row_start = calloc((size_t)n + 1, sizeof *s->row_start);
	s->row_col = malloc((in->nedges + 1) * sizeof *s->row_col);
	s->row_w = malloc((in->nedges + 1) * sizeof *s->row_w);
	s->row_at = malloc(((size_t)n + 1) * sizeof *s->row_at);
	s->row_at_w = calloc((size_t)n + 1, sizeof *s->row_at_w);
	s->row_slot = calloc((size_t)n + 1, sizeof *s->row_slot);
	s->cap = malloc(((size_t)m + 1) * sizeof *s->cap);
	s->col_start = calloc((size_t)m + 1, sizeof *s->col_start);
	s->col_len = calloc((size_t)m + 1, sizeof *s->col_len);
	s->pi = calloc(N, sizeof *s->pi);
	s->dist = calloc(N, sizeof *s->dist);
	s->pred_w = calloc(N, sizeof *s->pred_w);
	s->pred = calloc(N, sizeof *s->pred);
	s->seen = calloc(N, sizeof *s->seen);
	s->done = calloc(N, sizeof *s->done);
	s->finalised = calloc(N, sizeof *s->finalised);
	if (!s->row_start || !s->row_col || !s->row_w || !s->row_at || !s->row_at_w || !s->row_slot ||
	    !s->cap || !s->col_start || !s->col_len || !s->pi || !s->dist || !s->pred_w || !s->pred ||
	    !s->seen || !s->done || !s->finalised)
		return -1;
	/* CSR by row */
	for (size_t e = 0; e < in->nedges; e++) {
		const struct plan_edge *pe = &in->edges[e];
		if (pe->person < 0 || pe->person >= n || pe->offer < 0 || pe->offer >= m || pe->weight < 0)
			return -1;
		s->row_start[pe->person + 1]++;
	}
	for (int32_t i = 0; i < n; i++)
		s->row_start[i + 1] += s->row_start[i];
	size_t *fill = malloc(((size_t)n + 1) * sizeof *fill);
	if (!fill)
		return -1;
	memcpy(fill, s->row_start, ((size_t)n + 1) * sizeof *fill);
	for (size_t e = 0; e < in->nedges; e++) {
		size_t at = fill[in->edges[e].person]++;
		s->row_col[at] = in->edges[e].offer;
		s->row_w[at] = in->edges[e].weight;
	}
	free(fill);
	/* columns: a place list of min(capacity, n) slots each */
	size_t slots = 0;
	for (int32_t j = 0; j < m; j++) {
		int32_t c = in->capacity[j] < 0 ? 0 : in->capacity[j] > n ? n : in->capacity[j];
		s->cap[j] = c;
		s->col_start[j] = slots;
		slots += (size_t)c;
	}
	s->col_rows = malloc((slots + 1) * sizeof *s->col_rows);
	if (!s->col_rows)
		return -1;
	for (int32_t i = 0; i < n; i++)
		s->row_at[i] = -1;
	/* pi(column) = -(best weight into it): every row -> column arc starts
	 * at a reduced cost >= 0; pi(T) below every column's. */
	int64_t lowest = 0;
	for (size_t e = 0; e < in->nedges; e++) {
		int32_t v = n + in->edges[e].offer;
		if (-in->edges[e].weight < s->pi[v])
			s->pi[v] = -in->edges[e].weight;
	}
	for (int32_t j = 0; j < m; j++)
		if (s->pi[n + j] < lowest)
			lowest = s->pi[n + j];
	s->pi[s->sink] = lowest;
	return 0;
}

int plan_solve(const struct plan_input *in, struct plan_result *out)
{
	memset(out, 0, sizeof *out);
	if (!in || in->npersons < 0 || in->noffers < 0 || (in->nedges && !in->edges) ||
	    (in->noffers && !in->capacity))
		return -1;
	struct solver s;
	int rc = solver_init(&s, in);
	for (int32_t i = 0; rc == 0 && i < in->npersons; i++)
		rc = augment(&s, i);
	if (rc == 0) {
		out->offer_of = malloc(((size_t)in->npersons + 1) * sizeof *out->offer_of);
		if (!out->offer_of)
			rc = -1;
	}
	if (rc == 0) {
		for (int32_t i = 0; i < in->npersons; i++) {
			bool placed = s.row_at[i] >= 0 && s.row_at[i] < in->noffers;
			out->offer_of[i] = placed ? s.row_at[i] : -1;
			if (placed)
				out->total += s.row_at_w[i];
		}
		out->augmentations = (size_t)in->npersons;
		out->arcs_scanned = s.arcs;
	}
	solver_free(&s);
	return rc;
}

void plan_result_free(struct plan_result *r)
{
	free(r->offer_of);
	r->offer_of = NULL;
}

int64_t plan_weight(int score, int priority, int32_t npersons, int max_priority)
{
	int64_t k = (int64_t)npersons * max_priority + 1;
	return (int64_t)score * k + priority;
}

int plan_weight_score(int64_t weight, int32_t npersons, int max_priority)
{
	int64_t k = (int64_t)npersons * max_priority + 1;
	return (int)(weight / k);
}

/*
 * The allocation planner (see include/siaod/plan.h).
 *
 * A transportation problem: rows send units, columns take them. The scarcer
 * side is the rows, so that free columns stay plentiful until the end and
 * the shortest paths stay short:
 *   people <= places: rows = people (1 unit each), columns = offers (their places)
 *   otherwise:        rows = offers (their places), columns = people (1 each)
 * Nodes: rows 0..n-1, columns n..n+m-1, NOPLACE (a column of unlimited
 * capacity and weight 0: a person without a place, or a place left empty)
 * and the sink T. Costs are negated weights; reduced costs
 * c(u,v) + pi(u) - pi(v) stay >= 0 on every residual arc:
 *   row -> column    cost -w   (the pair is not held)
 *   column -> row    cost +w   (the pair is held: the row lets it go)
 *   row -> NOPLACE   cost 0
 *   column -> T      cost 0    (the column has room; NOPLACE always)
 * Each unit of each row is added by one shortest path to T. Dijkstra stops
 * when T is popped; only the nodes it finalised get new potentials
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
	bool transposed;
	size_t *row_start;
	int32_t *row_col;
	int64_t *row_w;
	int32_t *edge_row;       /* edge -> its row */
	int32_t *edge_orig;      /* edge -> index in the input */
	uint8_t *held;
	int32_t *edge_slot;      /* held edge: index in its column's list */
	int32_t *supply;
	int32_t *cap;
	size_t *col_start;
	int32_t *col_len, *col_edges;
	int64_t *pi, *dist;
	int32_t *pred, *pred_edge;
	uint32_t *seen, *done, iter;
	int32_t *finalised;
	int32_t nfinal;
	struct heap_item *heap;
	size_t hlen, hcap;
	size_t arcs, augmentations;
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

static bool relax(struct solver *s, int32_t from, int32_t to, int64_t d, int32_t edge)
{
	s->arcs++;
	if (s->done[to] == s->iter)
		return true;
	if (s->seen[to] == s->iter && d >= s->dist[to])
		return true;
	s->seen[to] = s->iter;
	s->dist[to] = d;
	s->pred[to] = from;
	s->pred_edge[to] = edge;
	return heap_push(s, d, to);
}

static void column_remove(struct solver *s, int32_t col, int32_t e)
{
	int32_t *list = s->col_edges + s->col_start[col];
	int32_t slot = s->edge_slot[e], last = list[--s->col_len[col]];
	list[slot] = last;
	s->edge_slot[last] = slot;
	s->held[e] = 0;
}

static void column_add(struct solver *s, int32_t col, int32_t e)
{
	s->edge_slot[e] = s->col_len[col];
	s->col_edges[s->col_start[col] + (size_t)s->col_len[col]++] = e;
	s->held[e] = 1;
}

/* One unit from row r along a shortest path. Returns 1 if it went straight
 * to NOPLACE (then every further unit of r would too), 0 otherwise, -1 on error. */
static int augment(struct solver *s, int32_t r)
{
	s->iter++;
	s->hlen = 0;
	s->nfinal = 0;
	s->augmentations++;
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
		if (u < s->n) {
			ok = relax(s, u, s->noplace, d + s->pi[u] - s->pi[s->noplace], -1);
			for (size_t e = s->row_start[u]; ok && e < s->row_start[u + 1]; e++) {
				if (s->held[e])
					continue;
				int32_t v = s->n + s->row_col[e];
				ok = relax(s, u, v, d - s->row_w[e] + s->pi[u] - s->pi[v], (int32_t)e);
			}
		} else if (u == s->noplace) {
			ok = relax(s, u, s->sink, d + s->pi[u] - s->pi[s->sink], -1);
		} else {
			int32_t col = u - s->n;
			if (s->col_len[col] < s->cap[col])
				ok = relax(s, u, s->sink, d + s->pi[u] - s->pi[s->sink], -1);
			const int32_t *list = s->col_edges + s->col_start[col];
			for (int32_t k = 0; ok && k < s->col_len[col]; k++) {
				int32_t e = list[k], row = s->edge_row[e];
				ok = relax(s, u, row, d + s->row_w[e] + s->pi[u] - s->pi[row], e);
			}
		}
		if (!ok)
			return -1;
	}
	if (dstar < 0)
		return -1;
	for (int32_t k = 0; k < s->nfinal; k++) {
		int32_t v = s->finalised[k];
		if (s->dist[v] < dstar)
			s->pi[v] += s->dist[v] - dstar;
	}
	/* Walk back from T: each column on the path takes the pair by which it
	 * was reached; each row passed through lets go of the pair by which it
	 * was reached (a backward arc). */
	int32_t node = s->pred[s->sink];
	for (;;) {
		int32_t row;
		if (node == s->noplace) {
			row = s->pred[node];          /* this row sends a unit to no place */
			if (row == r)
				return 1;             /* and so would r's remaining units */
		} else {
			column_add(s, node - s->n, s->pred_edge[node]);
			row = s->pred[node];
			if (row == r)
				return 0;
		}
		int32_t e = s->pred_edge[row];
		int32_t from = s->row_col[e];
		column_remove(s, from, e);
		node = s->n + from;
	}
}

static void solver_free(struct solver *s)
{
	free(s->row_start);
	free(s->row_col);
	free(s->row_w);
	free(s->edge_row);
	free(s->edge_orig);
	free(s->held);
	free(s->edge_slot);
	free(s->supply);
	free(s->cap);
	free(s->col_start);
	free(s->col_len);
	free(s->col_edges);
	free(s->pi);
	free(s->dist);
	free(s->pred);
	free(s->pred_edge);
	free(s->seen);
	free(s->done);
	free(s->finalised);
	free(s->heap);
}

static int solver_init(struct solver *s, const struct plan_input *in)
{
	memset(s, 0, sizeof *s);
	int32_t np = in->npersons, no = in->noffers;
	for (size_t e = 0; e < in->nedges; e++) {
		const struct plan_edge *pe = &in->edges[e];
		if (pe->person < 0 || pe->person >= np || pe->offer < 0 || pe->offer >= no || pe->weight < 0)
			return -1;
	}
	int64_t places = 0;
	for (int32_t j = 0; j < no; j++) {
		int32_t c = in->capacity[j] < 0 ? 0 : in->capacity[j] > np ? np : in->capacity[j];
		places += c;
	}
	s->transposed = places < np;
	int32_t n = s->transposed ? no : np, m = s->transposed ? np : no;
	s->n = n;
	s->m = m;
	s->noplace = n + m;
	s->sink = n + m + 1;
	s->nodes = n + m + 2;
	size_t N = (size_t)s->nodes, E = in->nedges;
	s->row_start = calloc((size_t)n + 1, sizeof *s->row_start);
	s->row_col = malloc((E + 1) * sizeof *s->row_col);
	s->row_w = malloc((E + 1) * sizeof *s->row_w);
	s->edge_row = malloc((E + 1) * sizeof *s->edge_row);
	s->edge_orig = malloc((E + 1) * sizeof *s->edge_orig);
	s->held = calloc(E + 1, 1);
	s->edge_slot = calloc(E + 1, sizeof *s->edge_slot);
	s->supply = malloc(((size_t)n + 1) * sizeof *s->supply);
	s->cap = malloc(((size_t)m + 1) * sizeof *s->cap);
	s->col_start = calloc((size_t)m + 1, sizeof *s->col_start);
	s->col_len = calloc((size_t)m + 1, sizeof *s->col_len);
	s->pi = calloc(N, sizeof *s->pi);
	s->dist = calloc(N, sizeof *s->dist);
	s->pred = calloc(N, sizeof *s->pred);
	s->pred_edge = calloc(N, sizeof *s->pred_edge);
	s->seen = calloc(N, sizeof *s->seen);
	s->done = calloc(N, sizeof *s->done);
	s->finalised = calloc(N, sizeof *s->finalised);
	if (!s->row_start || !s->row_col || !s->row_w || !s->edge_row || !s->edge_orig || !s->held ||
	    !s->edge_slot || !s->supply || !s->cap || !s->col_start || !s->col_len || !s->pi ||
	    !s->dist || !s->pred || !s->pred_edge || !s->seen || !s->done || !s->finalised)
		return -1;
	for (int32_t j = 0; j < no; j++) {
		int32_t c = in->capacity[j] < 0 ? 0 : in->capacity[j] > np ? np : in->capacity[j];
		if (s->transposed)
			s->supply[j] = c;
		else
			s->cap[j] = c;
	}
	for (int32_t i = 0; i < np; i++) {
		if (s->transposed)
			s->cap[i] = 1;
		else
			s->supply[i] = 1;
	}
/* the row and column of an input pair, whichever side is the rows */
#define ROW(pe) (s->transposed ? (pe)->offer : (pe)->person)
#define COL(pe) (s->transposed ? (pe)->person : (pe)->offer)
	for (size_t e = 0; e < E; e++)
		s->row_start[ROW(&in->edges[e]) + 1]++;
	for (int32_t i = 0; i < n; i++)
		s->row_start[i + 1] += s->row_start[i];
	size_t *fill = malloc(((size_t)n + 1) * sizeof *fill);
	if (!fill)
		return -1;
	memcpy(fill, s->row_start, ((size_t)n + 1) * sizeof *fill);
	for (size_t e = 0; e < E; e++) {
		const struct plan_edge *pe = &in->edges[e];
		size_t at = fill[ROW(pe)]++;
		s->row_col[at] = COL(pe);
		s->row_w[at] = pe->weight;
		s->edge_row[at] = ROW(pe);
		s->edge_orig[at] = (int32_t)e;
	}
	free(fill);
#undef ROW
#undef COL
	size_t slots = 0;
	for (int32_t j = 0; j < m; j++) {
		s->col_start[j] = slots;
		slots += (size_t)s->cap[j];
	}
	s->col_edges = malloc((slots + 1) * sizeof *s->col_edges);
	if (!s->col_edges)
		return -1;
	int64_t lowest = 0;
	for (size_t e = 0; e < E; e++) {
		int32_t v = n + s->row_col[e];
		if (-s->row_w[e] < s->pi[v])
			s->pi[v] = -s->row_w[e];
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
	for (int32_t i = 0; rc == 0 && i < s.n; i++)
		for (int32_t k = 0; k < s.supply[i]; k++) {
			rc = augment(&s, i);
			if (rc != 0) {
				rc = rc > 0 ? 0 : -1;
				break;
			}
		}
	if (rc == 0) {
		out->offer_of = malloc(((size_t)in->npersons + 1) * sizeof *out->offer_of);
		if (!out->offer_of)
			rc = -1;
	}
	if (rc == 0) {
		for (int32_t i = 0; i < in->npersons; i++)
			out->offer_of[i] = -1;
		for (size_t e = 0; e < in->nedges; e++)
			if (s.held[e]) {
				const struct plan_edge *pe = &in->edges[s.edge_orig[e]];
				out->offer_of[pe->person] = pe->offer;
				out->total += pe->weight;
			}
		out->augmentations = s.augmentations;
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

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

/* The arcs out of row u, at distance d: to NOPLACE (when to_noplace), and
 * to the column of each pair it does not hold, among the first `below` of
 * the input (a search may leave the newest out). */
static bool relax_row(struct solver *s, int32_t u, int64_t d, bool to_noplace, size_t below)
{
	bool ok = !to_noplace || relax(s, u, s->noplace, d + s->pi[u] - s->pi[s->noplace], -1);
	for (size_t e = s->row_start[u]; ok && e < s->row_start[u + 1]; e++) {
		if (s->held[e] || (below != SIZE_MAX && (size_t)s->edge_orig[e] >= below))
			continue;
		int32_t v = s->n + s->row_col[e];
		ok = relax(s, u, v, d - s->row_w[e] + s->pi[u] - s->pi[v], (int32_t)e);
	}
	return ok;
}

/* The arcs out of column node u, at distance d: to T when it has room
 * (when to_sink), back to each row it holds. */
static bool relax_column(struct solver *s, int32_t u, int64_t d, bool to_sink)
{
	int32_t col = u - s->n;
	bool ok = !to_sink || s->col_len[col] >= s->cap[col] ||
		  relax(s, u, s->sink, d + s->pi[u] - s->pi[s->sink], -1);
	const int32_t *list = s->col_edges + s->col_start[col];
	for (int32_t k = 0; ok && k < s->col_len[col]; k++) {
		int32_t e = list[k], row = s->edge_row[e];
		ok = relax(s, u, row, d + s->row_w[e] + s->pi[u] - s->pi[row], e);
	}
	return ok;
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
		bool ok;
		if (u < s->n)
			ok = relax_row(s, u, d, true, SIZE_MAX);
		else if (u == s->noplace)
			ok = relax(s, u, s->sink, d + s->pi[u] - s->pi[s->sink], -1);
		else
			ok = relax_column(s, u, d, true);
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

/* Solves the flow of `in` (checked by the caller) into *s; the caller
 * frees *s whatever this returns. 0, or -1 when out of memory. */
static int solve_all(struct solver *s, const struct plan_input *in)
{
	int rc = solver_init(s, in);
	for (int32_t i = 0; rc == 0 && i < s->n; i++)
		for (int32_t k = 0; k < s->supply[i]; k++) {
			rc = augment(s, i);
			if (rc != 0) {
				rc = rc > 0 ? 0 : -1;
				break;
			}
		}
	return rc;
}

/*
 * A few pairs added to a solved flow without solving again. t is built on
 * part, whose first n_old pairs are s's; s's flow is carried over, and the
 * potentials Q of the check (s->dist, feasible on the whole residual graph,
 * T and NOPLACE at 0) become t's. Then each new pair (r, c) whose reduced
 * cost rc is negative may close a cycle of negative cost: a Dijkstra from
 * c looks for the way back to r over the residual graph as it is (T and
 * NOPLACE arcs included, the new pairs not yet taken in left out), never
 * farther than -rc; found, the flow goes round the cycle. Either way the
 * potentials are moved by the distances found (capped at where the search
 * stopped), which keeps every reduced cost non-negative, the new pair's
 * included: the flow is optimal again, as a solve from nothing would give
 * (with another choice among equal ones, maybe). -1 when out of memory.
 */
static int solve_insert(struct solver *t, const struct plan_input *part, struct solver *s, size_t n_old)
{
	if (solver_init(t, part) != 0)
		return -1;
	uint8_t *held = calloc(n_old + 1, 1);       /* by pair of part */
	int32_t *spare = calloc((size_t)t->n + 1, sizeof *spare);   /* units at NOPLACE */
	int32_t *where = malloc((part->nedges - n_old + 1) * sizeof *where);   /* new pair -> arc */
	int rc = -1;
	if (!held || !spare || !where)
		goto out;
	for (size_t k = n_old; k < part->nedges; k++)
		where[k - n_old] = -1;
	for (size_t p = 0; p < n_old; p++)
		if (s->held[p])
			held[s->edge_orig[p]] = 1;
	for (int32_t r = 0; r < t->n; r++) {
		spare[r] = t->supply[r];
		for (size_t p = t->row_start[r]; p < t->row_start[r + 1]; p++) {
			size_t k = (size_t)t->edge_orig[p];
			if (k < n_old && held[k]) {
				column_add(t, t->row_col[p], (int32_t)p);
				spare[r]--;
			} else if (k >= n_old) {
				where[k - n_old] = (int32_t)p;
			}
		}
	}
	memcpy(t->pi, s->dist, (size_t)(t->n + t->m) * sizeof *t->pi);
	t->pi[t->noplace] = 0;
	t->pi[t->sink] = 0;
	size_t at_noplace = 0;
	for (int32_t r = 0; r < t->n; r++)
		at_noplace += (size_t)spare[r];
	for (size_t k = n_old; k < part->nedges; k++) {
		int32_t pn = where[k - n_old];
		if (pn < 0)
			continue;     /* cannot happen: each new pair has its arc */
		int32_t r = t->edge_row[pn], c = t->n + t->row_col[pn];
		int64_t cost = -t->row_w[pn] + t->pi[r] - t->pi[c];
		if (cost >= 0)
			continue;
		/* the way back from c to r, shorter than -cost */
		int64_t bound = -cost, reach = bound;
		t->iter++;
		t->hlen = 0;
		t->nfinal = 0;
		t->seen[c] = t->iter;
		t->dist[c] = 0;
		t->pred[c] = -1;
		bool ok = heap_push(t, 0, c), found = false;
		while (ok && t->hlen > 0) {
			struct heap_item it = heap_pop(t);
			int32_t u = it.node;
			if (t->done[u] == t->iter || it.d > t->dist[u])
				continue;
			if (it.d >= bound)
				break;
			t->done[u] = t->iter;
			t->finalised[t->nfinal++] = u;
			int64_t d = it.d;
			if (u == r) {
				found = true;
				reach = d;
				break;
			}
			if (u < t->n) {
				ok = relax_row(t, u, d, true, k);     /* the pairs not in yet left out */
			} else if (u == t->sink) {
				for (int32_t j = 0; ok && j < t->m; j++)
					if (t->col_len[j] > 0)
						ok = relax(t, u, t->n + j, d + t->pi[u] - t->pi[t->n + j], -1);
				if (ok && at_noplace > 0)
					ok = relax(t, u, t->noplace, d + t->pi[u] - t->pi[t->noplace], -1);
			} else if (u == t->noplace) {
				ok = relax(t, u, t->sink, d + t->pi[u] - t->pi[t->sink], -1);
				for (int32_t x = 0; ok && x < t->n; x++)
					if (spare[x] > 0)
						ok = relax(t, u, x, d + t->pi[u] - t->pi[x], -1);
			} else {
				ok = relax_column(t, u, d, true);
			}
		}
		if (!ok)
			goto out;
		for (int32_t q = 0; q < t->nfinal; q++) {
			int32_t v = t->finalised[q];
			if (t->dist[v] < reach)
				t->pi[v] += t->dist[v] - reach;
		}
		if (!found)
			continue;
		/* round the cycle: back from r to c, then the new pair */
		for (int32_t v = r; v != c;) {
			int32_t u = t->pred[v], e = t->pred_edge[v];
			if (u >= t->n && u < t->n + t->m && v < t->n) {
				column_remove(t, u - t->n, e);      /* v lets go of u */
				spare[v]++;
			} else if (u < t->n && v >= t->n && v < t->n + t->m) {
				column_add(t, v - t->n, e);         /* u takes v */
				spare[u]--;
			}
			/* T and NOPLACE: their flows follow the columns' and rows' */
			v = u;
		}
		column_add(t, t->row_col[pn], pn);
		spare[r]--;
		at_noplace = 0;
		for (int32_t x = 0; x < t->n; x++)
			at_noplace += (size_t)spare[x];
	}
	rc = 0;
out:
	free(held);
	free(spare);
	free(where);
	return rc;
}

/* A kept pair of one young person: better = higher weight, then a hash of
 * the pair, then the earlier pair in the input. The hash spreads the
 * young people with many equal pairs (identical offers side by side) over
 * all of them: by input order alone they would all keep the same few and
 * take a round each for the next few. Nothing here depends on where a
 * young person's pairs are among the others'. */
struct kept {
	int64_t w;
	uint32_t tie;
	int32_t e;
};

/* Pair e of young person i, whichever form the input has. */
static struct plan_edge pair_at(const struct plan_input *in, int32_t i, size_t e)
{
	if (!in->pairs)
		return in->edges[e];
	const struct plan_pairs *c = in->pairs;
	uint32_t v = c->pairs[e];
	return (struct plan_edge){i, (int32_t)(v >> 7),
				  plan_weight((int)(v & 127), c->priority[i], in->npersons, c->max_priority)};
}

static uint32_t pair_hash(const struct plan_edge *pe)
{
	uint64_t x = ((uint64_t)(uint32_t)pe->person << 32 | (uint32_t)pe->offer) * 0x9E3779B97F4A7C15ull;
	return (uint32_t)(x >> 32) ^ (uint32_t)x;
}

static bool kept_worse(struct kept a, struct kept b)
{
	if (a.w != b.w)
		return a.w < b.w;
	if (a.tie != b.tie)
		return a.tie > b.tie;
	return a.e > b.e;
}

static void kept_sift_down(struct kept *h, int32_t len, int32_t i)
{
	struct kept x = h[i];
	for (;;) {
		int32_t c = 2 * i + 1;
		if (c >= len)
			break;
		if (c + 1 < len && kept_worse(h[c + 1], h[c]))
			c++;
		if (!kept_worse(h[c], x))
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = x;
}

/* How much a left-out pair is wanted: first (s NULL) its weight; then,
 * under the potentials Q of a solve (s->dist), minus its reduced cost, and
 * only when that cost is negative (the pair could improve the flow). */
static bool pair_wanted(const struct solver *s, const struct plan_edge *pe, int64_t *key)
{
	if (!s) {
		*key = pe->weight;
		return true;
	}
	int32_t row = s->transposed ? pe->offer : pe->person;
	int32_t col = s->n + (s->transposed ? pe->person : pe->offer);
	*key = pe->weight - s->dist[row] + s->dist[col];
	return *key > 0;
}

/* The pairs being solved: each young person's `keep` best to start with,
 * then, round after round, the `keep` most wanted (pair_wanted) of those
 * left out, so that a young person whose pairs were not enough gets the
 * next few, not all of them. A young person is looked at again only when
 * the best weight they have left out could pass the check. */
struct active_set {
	const struct plan_input *in;
	int32_t keep;
	uint8_t *active;           /* nedges flags */
	struct plan_edge *edges;   /* the active pairs, in the order they came */
	size_t n, cap;
	/* Young person i's pairs: the count[i] from start[i] on, of the input
	 * when each one's pairs come together (order NULL: whatever the order
	 * of the young people), else of `order`, the input's indices by young
	 * person. Either way each one's pairs in the input's order. */
	size_t *start;
	int32_t *count, *order;
	int64_t *left_max;         /* the best weight a young person left out */
	struct kept *heap;         /* keep entries: one young person at a time */
};

static void active_free(struct active_set *a)
{
	free(a->active);
	free(a->edges);
	free(a->start);
	free(a->count);
	free(a->order);
	free(a->left_max);
	free(a->heap);
}

static int active_init(struct active_set *a, const struct plan_input *in, int32_t keep)
{
	memset(a, 0, sizeof *a);
	a->in = in;
	a->keep = keep;
	int32_t np = in->npersons;
	a->active = calloc(in->nedges + 1, 1);
	a->start = calloc((size_t)np + 1, sizeof *a->start);
	a->count = calloc((size_t)np + 1, sizeof *a->count);
	a->left_max = malloc(((size_t)np + 1) * sizeof *a->left_max);
	if (!a->active || !a->start || !a->count || !a->left_max)
		return -1;
	if (in->pairs) {
		memcpy(a->start, in->pairs->start, (size_t)np * sizeof *a->start);
		memcpy(a->count, in->pairs->count, (size_t)np * sizeof *a->count);
	}
	bool together = true;
	int32_t prev = -1;
	for (size_t e = 0; !in->pairs && e < in->nedges; e++) {
		int32_t i = in->edges[e].person;
		if (i != prev) {
			if (a->count[i] > 0)
				together = false;    /* i's pairs come in two runs */
			else
				a->start[i] = e;
			prev = i;
		}
		a->count[i]++;
	}
	int32_t most = 0;
	for (int32_t i = 0; i < np; i++) {
		if (a->count[i] > most)
			most = a->count[i];
		a->left_max[i] = INT64_MAX;    /* not looked at yet */
	}
	a->heap = malloc(((size_t)(keep < most ? keep : most) + 1) * sizeof *a->heap);
	if (!a->heap)
		return -1;
	if (together)
		return 0;
	a->order = malloc((in->nedges + 1) * sizeof *a->order);
	int32_t *filled = calloc((size_t)np + 1, sizeof *filled);
	if (!a->order || !filled) {
		free(filled);
		return -1;
	}
	size_t at = 0;
	for (int32_t i = 0; i < np; i++) {
		a->start[i] = at;
		at += (size_t)a->count[i];
	}
	for (size_t e = 0; e < in->nedges; e++) {
		int32_t i = in->edges[e].person;
		a->order[a->start[i] + (size_t)filled[i]++] = (int32_t)e;
	}
	free(filled);
	return 0;
}

static bool active_grow(struct active_set *a, size_t more)
{
	if (a->n + more <= a->cap)
		return true;
	size_t cap = a->n + more > 2 * a->cap ? a->n + more : 2 * a->cap;
	struct plan_edge *edges = realloc(a->edges, (cap + 1) * sizeof *edges);
	if (!edges)
		return false;
	a->edges = edges;
	a->cap = cap;
	return true;
}

/* What the check can ask of young person i's left-out pairs at most: the
 * best weight left out, minus what i gains (all potentials of Q are <= 0
 * on columns and >= 0 on rows, so nothing of the offer's side can add). */
static int64_t left_bound(const struct active_set *a, const struct solver *s, int32_t i)
{
	if (!s || a->left_max[i] == INT64_MAX)
		return INT64_MAX;
	if (a->left_max[i] == INT64_MIN)
		return INT64_MIN;
	return a->left_max[i] - (s->transposed ? -s->dist[s->n + i] : s->dist[i]);
}

/* Young person i's `keep` most wanted left-out pairs join, best first. */
static bool active_add_person(struct active_set *a, const struct solver *s, int32_t i, size_t *added)
{
	const struct plan_input *in = a->in;
	int32_t len = 0;
	int64_t key;
	/* The first pairs of the compact form: a young person's weights go
	 * with the scores (one priority), so those below the keep-th best
	 * score are passed over without a weight or a heap: one histogram. */
	unsigned floor_score = 0;
	if (!s && in->pairs && a->count[i] > a->keep) {
		int32_t hist[128] = {0}, above = 0;
		for (size_t k = a->start[i]; k < a->start[i] + (size_t)a->count[i]; k++)
			hist[in->pairs->pairs[k] & 127]++;
		floor_score = 127;
		while (floor_score > 0 && above + hist[floor_score] < a->keep)
			above += hist[floor_score--];
	}
	for (size_t k = a->start[i]; k < a->start[i] + (size_t)a->count[i]; k++) {
		int32_t e = a->order ? a->order[k] : (int32_t)k;
		if (a->active[e] || (floor_score && (in->pairs->pairs[e] & 127) < floor_score))
			continue;
		struct plan_edge pe = pair_at(in, i, (size_t)e);
		if (!pair_wanted(s, &pe, &key))
			continue;
		/* most pairs lose to the worst kept on the weight alone: the
		 * hash only for the others */
		if (len == a->keep && key < a->heap[0].w)
			continue;
		struct kept c = {key, pair_hash(&pe), e};
		if (len < a->keep) {
			int32_t j = len++;
			while (j > 0 && kept_worse(c, a->heap[(j - 1) / 2])) {
				a->heap[j] = a->heap[(j - 1) / 2];
				j = (j - 1) / 2;
			}
			a->heap[j] = c;
		} else if (kept_worse(a->heap[0], c)) {
			a->heap[0] = c;
			kept_sift_down(a->heap, len, 0);
		}
	}
	if (!active_grow(a, (size_t)len))
		return false;
	*added += (size_t)len;
	/* best first, so that the order depends on the input alone */
	size_t base = a->n;
	a->n += (size_t)len;
	for (int32_t l = len; l > 0; l--) {
		struct kept top = a->heap[0];
		a->heap[0] = a->heap[l - 1];
		kept_sift_down(a->heap, l - 1, 0);
		a->active[top.e] = 1;
		a->edges[base + (size_t)l - 1] = pair_at(in, i, (size_t)top.e);
	}
	int64_t left = INT64_MIN;
	if (in->pairs) {
		int best = -1;     /* the weight goes with the score */
		for (size_t k = a->start[i]; k < a->start[i] + (size_t)a->count[i]; k++)
			if (!a->active[k] && (int)(in->pairs->pairs[k] & 127) > best)
				best = (int)(in->pairs->pairs[k] & 127);
		if (best >= 0)
			left = plan_weight(best, in->pairs->priority[i], in->npersons, in->pairs->max_priority);
	} else {
		for (size_t k = a->start[i]; k < a->start[i] + (size_t)a->count[i]; k++) {
			int32_t e = a->order ? a->order[k] : (int32_t)k;
			if (!a->active[e] && in->edges[e].weight > left)
				left = in->edges[e].weight;
		}
	}
	a->left_max[i] = left;
	return true;
}

/* One round's additions (s NULL: the first pairs). Returns how many, or -1
 * when out of memory. */
static long active_add(struct active_set *a, const struct solver *s)
{
	size_t added = 0;
	for (int32_t i = 0; i < a->in->npersons; i++)
		if (left_bound(a, s, i) > 0 && !active_add_person(a, s, i, &added))
			return -1;
	return (long)added;
}

/* Every pair left out joins, young person by young person. Returns how
 * many, or -1 when out of memory. */
static long active_add_all(struct active_set *a)
{
	const struct plan_input *in = a->in;
	size_t added = in->nedges - a->n;
	if (!active_grow(a, added))
		return -1;
	for (int32_t i = 0; i < in->npersons; i++)
		for (size_t k = a->start[i]; k < a->start[i] + (size_t)a->count[i]; k++) {
			int32_t e = a->order ? a->order[k] : (int32_t)k;
			if (!a->active[e]) {
				a->active[e] = 1;
				a->edges[a->n++] = pair_at(in, i, (size_t)e);
			}
		}
	return (long)added;
}

/*
 * Potentials that let the most left-out pairs pass the check: the offers'
 * lowest prices. Q(x) is the shortest distance to x from a source S with a
 * 0-cost arc to every column and to every row with a unit at NOPLACE, over
 * the residual arcs between rows and columns (row -> column, cost -w, a pair
 * not held; column -> row, cost +w, a pair held). As the flow is optimal,
 * Q is a feasible potential of the whole residual graph (Q = 0 on columns
 * with room and on rows at NOPLACE, with T and NOPLACE at 0), and, in the
 * dual's terms, -Q(column) is the lowest price an offer can have and Q(row)
 * the most a row can be said to gain. One Dijkstra over the solved pairs,
 * with the solver's potentials making every arc's cost non-negative (the
 * arcs out of S included: pi(S) = the largest pi of their heads).
 * Into s->dist; -1 when out of memory.
 */
static int potentials_from_sources(struct solver *s)
{
	s->iter++;
	s->hlen = 0;
	int32_t *at_noplace = calloc((size_t)s->n + 1, sizeof *at_noplace);
	if (!at_noplace)
		return -1;
	for (int32_t r = 0; r < s->n; r++) {
		int32_t sent = 0;
		for (size_t e = s->row_start[r]; e < s->row_start[r + 1]; e++)
			sent += s->held[e];
		at_noplace[r] = s->supply[r] - sent;
	}
	int64_t pis = INT64_MIN;
	for (int32_t j = 0; j < s->m; j++)
		if (s->pi[s->n + j] > pis)
			pis = s->pi[s->n + j];
	for (int32_t r = 0; r < s->n; r++)
		if (at_noplace[r] > 0 && s->pi[r] > pis)
			pis = s->pi[r];
	bool ok = true;
	for (int32_t x = 0; ok && x < s->n + s->m; x++)
		if (x >= s->n || at_noplace[x] > 0)
			ok = relax(s, -1, x, pis - s->pi[x], -1);
	free(at_noplace);
	while (ok && s->hlen > 0) {
		struct heap_item it = heap_pop(s);
		int32_t u = it.node;
		if (s->done[u] == s->iter || it.d > s->dist[u])
			continue;
		s->done[u] = s->iter;
		int64_t d = it.d;
		ok = u < s->n ? relax_row(s, u, d, false, SIZE_MAX) : relax_column(s, u, d, false);
	}
	if (!ok)
		return -1;
	/* every row and column is reached: S reaches every column, and every
	 * row's units are held by a column or at NOPLACE */
	for (int32_t x = 0; x < s->n + s->m; x++)
		s->dist[x] = s->dist[x] - pis + s->pi[x];
	return 0;
}

static bool input_valid(const struct plan_input *in)
{
	if (!in || in->npersons < 0 || in->noffers < 0 || (in->nedges && !in->edges && !in->pairs) ||
	    (in->noffers && !in->capacity) || in->nedges >= INT32_MAX)
		return false;
	if (in->pairs) {
		const struct plan_pairs *c = in->pairs;
		size_t total = 0;
		for (int32_t i = 0; i < in->npersons; i++) {
			if (c->count[i] < 0 || c->start[i] > in->nedges || (size_t)c->count[i] > in->nedges - c->start[i] ||
			    c->priority[i] < 0 || c->priority[i] > c->max_priority)
				return false;
			total += (size_t)c->count[i];
			for (size_t e = c->start[i]; e < c->start[i] + (size_t)c->count[i]; e++)
				if ((int64_t)(c->pairs[e] >> 7) >= in->noffers || (c->pairs[e] & 127) > 100)
					return false;
		}
		return total == in->nedges;
	}
	for (size_t e = 0; e < in->nedges; e++) {
		const struct plan_edge *pe = &in->edges[e];
		if (pe->person < 0 || pe->person >= in->npersons || pe->offer < 0 || pe->offer >= in->noffers ||
		    pe->weight < 0)
			return false;
	}
	return true;
}

/* Rounds beyond which every pair is solved at once (never needed so far) */
#define ROUNDS_MAX 12

int plan_solve(const struct plan_input *in, struct plan_result *out)
{
	memset(out, 0, sizeof *out);
	if (!input_valid(in))
		return -1;
	int32_t keep = in->keep > 0 ? in->keep : PLAN_KEEP;
	struct active_set a;
	struct solver s;
	memset(&s, 0, sizeof s);
	int rc = -1;
	if (active_init(&a, in, keep) != 0 || active_add(&a, NULL) < 0)
		goto out;
	struct plan_input part = *in;
	part.edges = a.edges;
	part.nedges = a.n;
	rc = solve_all(&s, &part);
	for (;;) {
		out->rounds++;
		out->pairs_solved = a.n;
		out->augmentations += s.augmentations;
		out->arcs_scanned += s.arcs;
		if (rc != 0)
			goto out;
		rc = -1;
		if (a.n == in->nedges)
			break;
		if (potentials_from_sources(&s) != 0)
			goto out;
		long added = out->rounds < ROUNDS_MAX ? active_add(&a, &s) : 0;
		if (out->rounds >= ROUNDS_MAX)
			added = active_add_all(&a);   /* a safety net only */
		if (added < 0)
			goto out;
		if (added == 0)
			break;
		/* a few pairs more (a search each): into the flow; more: solved again */
		size_t n_old = part.nedges;
		part.edges = a.edges;
		part.nedges = a.n;
		struct solver t;
		memset(&t, 0, sizeof t);
		if ((size_t)added * 16 <= (size_t)in->npersons + 64)
			rc = solve_insert(&t, &part, &s, n_old);
		else
			rc = solve_all(&t, &part);
		solver_free(&s);
		s = t;
	}
	out->offer_of = malloc(((size_t)in->npersons + 1) * sizeof *out->offer_of);
	if (!out->offer_of)
		goto out;
	for (int32_t i = 0; i < in->npersons; i++)
		out->offer_of[i] = -1;
	for (size_t e = 0; e < out->pairs_solved; e++)
		if (s.held[e]) {
			const struct plan_edge *pe = &a.edges[s.edge_orig[e]];
			out->offer_of[pe->person] = pe->offer;
			out->total += pe->weight;
		}
	rc = 0;
out:
	solver_free(&s);
	active_free(&a);
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

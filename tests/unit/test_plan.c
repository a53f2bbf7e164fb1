/*
 * The planner against brute force on hundreds of small random instances:
 * same optimum, capacities respected, only eligible pairs used — starting
 * from every pair, and from each young person's one or two best pairs
 * only (keep), which makes the check of the pairs left out and the rounds
 * after it do the work; on larger random instances, the optimum from a few
 * kept pairs against the one from every pair; and the folding of score and
 * priority into one weight.
 */
#include <stdlib.h>
#include <string.h>

#include "siaod/plan.h"
#include "unit.h"

#define MAXN 8
#define MAXM 5

struct inst {
	int n, m;
	int32_t cap[MAXM];
	int64_t w[MAXN][MAXM];      /* -1: not eligible */
	struct plan_edge edges[MAXN * MAXM];
	size_t nedges;
};

static int64_t best;

/* every person: one of its eligible offers with room, or none */
static void brute(const struct inst *in, int i, int32_t *left, int64_t total)
{
	if (i == in->n) {
		if (total > best)
			best = total;
		return;
	}
	brute(in, i + 1, left, total);
	for (int j = 0; j < in->m; j++)
		if (in->w[i][j] >= 0 && left[j] > 0) {
			left[j]--;
			brute(in, i + 1, left, total + in->w[i][j]);
			left[j]++;
		}
}

static void random_instance(struct inst *in, unsigned *seed, int wmax)
{
	memset(in, 0, sizeof *in);
	in->n = 1 + rand_r(seed) % MAXN;
	in->m = 1 + rand_r(seed) % MAXM;
	for (int j = 0; j < in->m; j++)
		in->cap[j] = rand_r(seed) % 4;          /* 0..3, 0 included */
	int density = 20 + rand_r(seed) % 80;
	for (int i = 0; i < in->n; i++)
		for (int j = 0; j < in->m; j++) {
			in->w[i][j] = -1;
			if (rand_r(seed) % 100 < density) {
				/* few distinct values: many ties */
				in->w[i][j] = rand_r(seed) % (wmax + 1);
				in->edges[in->nedges++] = (struct plan_edge){i, j, in->w[i][j]};
			}
		}
	/* shuffle the edges: the input order must not matter */
	for (size_t e = in->nedges; e > 1; e--) {
		size_t k = (size_t)rand_r(seed) % e;
		struct plan_edge t = in->edges[e - 1];
		in->edges[e - 1] = in->edges[k];
		in->edges[k] = t;
	}
}

static void check_instance(const struct inst *in, int32_t keep)
{
	struct plan_input pi = {in->n, in->m, in->cap, in->edges, in->nedges, keep, NULL};
	struct plan_result r;
	CHECK_INT(plan_solve(&pi, &r), 0);
	int32_t left[MAXM];
	memcpy(left, in->cap, sizeof left);
	best = -1;
	brute(in, 0, left, 0);
	CHECK_INT(r.total, best);
	int32_t used[MAXM] = {0};
	int64_t sum = 0;
	for (int i = 0; i < in->n; i++) {
		int j = r.offer_of[i];
		if (j < 0)
			continue;
		CHECK(j < in->m);
		CHECK(in->w[i][j] >= 0);               /* an eligible pair */
		used[j]++;
		sum += in->w[i][j];
	}
	for (int j = 0; j < in->m; j++)
		CHECK(used[j] <= in->cap[j]);
	CHECK_INT(sum, r.total);
	plan_result_free(&r);
}

static void test_against_brute_force(void)
{
	unsigned seed = 20261123;
	struct inst in;
	for (int k = 0; k < 400; k++) {
		random_instance(&in, &seed, k % 2 ? 3 : 100);
		check_instance(&in, 0);
		check_instance(&in, 1);
		check_instance(&in, 2);
	}
}

/* Larger instances, too large for brute force: the optimum solving a few
 * pairs a young person first equals the one solving every pair at once
 * (keep above any young person's count of pairs); on both sides of
 * "fewer places than people" (the rows are then the offers). */
static void test_kept_pairs_against_all(void)
{
	unsigned seed = 20261206;
	int more_rounds = 0;        /* solves where the check added pairs */
	for (int k = 0; k < 40; k++) {
		int32_t n = 50 + rand_r(&seed) % 250, m = 10 + rand_r(&seed) % 60;
		int32_t cap[70];
		int64_t places = 0;
		for (int32_t j = 0; j < m; j++)
			places += cap[j] = rand_r(&seed) % (k % 2 ? 3 : 12);
		struct plan_edge *e = malloc((size_t)n * (size_t)m * sizeof *e);
		size_t ne = 0;
		int density = 10 + rand_r(&seed) % 90;
		for (int32_t i = 0; i < n; i++)
			for (int32_t j = 0; j < m; j++)
				if (rand_r(&seed) % 100 < density)
					e[ne++] = (struct plan_edge){i, j, plan_weight(rand_r(&seed) % 101,
						rand_r(&seed) % 801, n, 800)};
		if (k % 3 == 0)     /* any order, not by young person */
			for (size_t x = ne; x > 1; x--) {
				size_t y = (size_t)rand_r(&seed) % x;
				struct plan_edge t = e[x - 1];
				e[x - 1] = e[y];
				e[y] = t;
			}
		struct plan_input all = {n, m, cap, e, ne, INT32_MAX, NULL}, few = all;
		if (k % 3 == 1) {
			/* the young people's runs of pairs in another order (the
			 * builder's threads finish their chunks in any order): the
			 * same plan, pair for pair */
			struct plan_edge *moved = malloc((ne + 1) * sizeof *moved);
			size_t at = 0;
			for (int32_t i = n - 1; i >= 0; i--)
				for (size_t x = 0; x < ne; x++)
					if (e[x].person == i)
						moved[at++] = e[x];
			struct plan_input in1 = all, in2 = all;
			in1.keep = in2.keep = 2;
			in2.edges = moved;
			struct plan_result r1, r2;
			CHECK_INT(plan_solve(&in1, &r1), 0);
			CHECK_INT(plan_solve(&in2, &r2), 0);
			CHECK(memcmp(r1.offer_of, r2.offer_of, (size_t)n * sizeof *r1.offer_of) == 0);
			plan_result_free(&r1);
			plan_result_free(&r2);
			free(moved);
		}
		struct plan_result ra, rf;
		CHECK_INT(plan_solve(&all, &ra), 0);
		CHECK_INT(ra.rounds, 1);
		for (int32_t keep = 1; keep <= 4; keep *= 2) {
			few.keep = keep;
			CHECK_INT(plan_solve(&few, &rf), 0);
			CHECK_INT(rf.total, ra.total);
			CHECK(rf.pairs_solved <= ne);
			more_rounds += rf.rounds > 1;
			int32_t used[70] = {0};
			int64_t sum = 0;
			for (int32_t i = 0; i < n; i++)
				if (rf.offer_of[i] >= 0) {
					used[rf.offer_of[i]]++;
					/* a pair that exists: its weight, found in the input */
					int64_t w = -1;
					for (size_t x = 0; x < ne; x++)
						if (e[x].person == i && e[x].offer == rf.offer_of[i])
							w = e[x].weight;
					CHECK(w >= 0);
					sum += w;
				}
			CHECK_INT(sum, rf.total);
			for (int32_t j = 0; j < m; j++)
				CHECK(used[j] <= cap[j]);
			plan_result_free(&rf);
		}
		(void)places;
		plan_result_free(&ra);
		free(e);
	}
	CHECK(more_rounds >= 40);   /* the check did the work, not the first pairs */
}

/* The builder's compact pairs (4 bytes a pair, the weight made by the
 * planner from score and priority) give the same plan as the same pairs as
 * edges; runs of young people in any order; bad ones refused. */
static void test_compact_pairs(void)
{
	unsigned seed = 20261207;
	for (int k = 0; k < 30; k++) {
		int32_t n = 20 + rand_r(&seed) % 200, m = 5 + rand_r(&seed) % 50;
		int32_t cap[60], prio[220], count[220];
		size_t start[220];
		for (int32_t j = 0; j < m; j++)
			cap[j] = rand_r(&seed) % (k % 2 ? 3 : 9);
		for (int32_t i = 0; i < n; i++)
			prio[i] = rand_r(&seed) % 801;
		uint32_t *pairs = malloc((size_t)n * (size_t)m * sizeof *pairs);
		struct plan_edge *e = malloc((size_t)n * (size_t)m * sizeof *e);
		size_t ne = 0;
		/* young people from the last to the first: runs not in order */
		for (int32_t i = n - 1; i >= 0; i--) {
			start[i] = ne;
			for (int32_t j = 0; j < m; j++)
				if (rand_r(&seed) % 100 < 40) {
					int score = rand_r(&seed) % 101;
					pairs[ne] = PLAN_PAIR(j, score);
					e[ne++] = (struct plan_edge){i, j, plan_weight(score, prio[i], n, 800)};
				}
			count[i] = (int32_t)(ne - start[i]);
		}
		struct plan_pairs c = {pairs, start, count, prio, 800};
		struct plan_input as_edges = {n, m, cap, e, ne, 3, NULL}, compact = {n, m, cap, NULL, ne, 3, &c};
		struct plan_result re, rc;
		CHECK_INT(plan_solve(&as_edges, &re), 0);
		CHECK_INT(plan_solve(&compact, &rc), 0);
		CHECK_INT(rc.total, re.total);
		CHECK(memcmp(rc.offer_of, re.offer_of, (size_t)n * sizeof *rc.offer_of) == 0);
		plan_result_free(&re);
		plan_result_free(&rc);
		if (k == 0) {
			prio[0] = 801;                  /* above max_priority */
			CHECK_INT(plan_solve(&compact, &rc), -1);
			prio[0] = 0;
			count[0] += 1;                  /* more pairs than there are */
			CHECK_INT(plan_solve(&compact, &rc), -1);
			count[0] -= 1;
		}
		free(pairs);
		free(e);
	}
}

static void test_priority_breaks_ties(void)
{
	/* two young people with the same score, one place: the higher priority wins */
	int32_t cap[1] = {1};
	struct plan_edge e[2] = {
		{0, 0, plan_weight(80, 100, 2, 800)},
		{1, 0, plan_weight(80, 700, 2, 800)},
	};
	struct plan_input in = {2, 1, cap, e, 2, 0, NULL};
	struct plan_result r;
	CHECK_INT(plan_solve(&in, &r), 0);
	CHECK_INT(r.offer_of[0], -1);
	CHECK_INT(r.offer_of[1], 0);
	CHECK_INT(plan_weight_score(r.total, 2, 800), 80);
	plan_result_free(&r);

	/* but one point of score outweighs every priority */
	struct plan_edge f[2] = {
		{0, 0, plan_weight(81, 0, 2, 800)},
		{1, 0, plan_weight(80, 800, 2, 800)},
	};
	in.edges = f;
	CHECK_INT(plan_solve(&in, &r), 0);
	CHECK_INT(r.offer_of[0], 0);
	CHECK_INT(r.offer_of[1], -1);
	plan_result_free(&r);
}

static void test_global_beats_greedy(void)
{
	/* greedy would give offer 0 to person 0 (score 90) and leave person 1
	 * (who only fits offer 0) without a place: 90 + 0 < 85 + 80 */
	int32_t cap[2] = {1, 1};
	struct plan_edge e[3] = {{0, 0, 90}, {0, 1, 85}, {1, 0, 80}};
	struct plan_input in = {2, 2, cap, e, 3, 0, NULL};
	struct plan_result r;
	CHECK_INT(plan_solve(&in, &r), 0);
	CHECK_INT(r.total, 165);
	CHECK_INT(r.offer_of[0], 1);
	CHECK_INT(r.offer_of[1], 0);
	plan_result_free(&r);
}

static void test_edges_cases(void)
{
	struct plan_result r;
	struct plan_input empty = {0, 0, NULL, NULL, 0, 0, NULL};
	CHECK_INT(plan_solve(&empty, &r), 0);
	CHECK_INT(r.total, 0);
	plan_result_free(&r);
	int32_t cap[1] = {0};
	struct plan_edge e[1] = {{0, 0, 50}};
	struct plan_input none = {1, 1, cap, e, 1, 0, NULL};
	CHECK_INT(plan_solve(&none, &r), 0);            /* capacity 0: nobody placed */
	CHECK_INT(r.offer_of[0], -1);
	plan_result_free(&r);
	struct plan_edge bad[1] = {{0, 3, 50}};
	struct plan_input wrong = {1, 1, cap, bad, 1, 0, NULL};
	CHECK_INT(plan_solve(&wrong, &r), -1);          /* an offer that does not exist */
}

int main(void)
{
	test_against_brute_force();
	test_kept_pairs_against_all();
	test_compact_pairs();
	test_priority_breaks_ties();
	test_global_beats_greedy();
	test_edges_cases();
	return unit_done("test_plan");
}

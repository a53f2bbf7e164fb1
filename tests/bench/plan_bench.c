/*
 * plan_bench: times siaod's planner on an assignment instance in the format
 * of ../shared/bench/gen_assignment_instance.py and prints the optimum.
 *
 *   plan_bench INSTANCE [REPEAT=3]
 *
 * Prints: total=<optimum> assigned=<n> best_ms=<fastest of REPEAT runs>
 * The weights are the instance's scores as they are (the reference optimum
 * is stated for them).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "siaod/plan.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: plan_bench INSTANCE [REPEAT]\n");
		return 2;
	}
	int repeat = argc > 2 ? atoi(argv[2]) : 3;
	FILE *f = fopen(argv[1], "r");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	int n, m;
	long ne;
	if (fscanf(f, "%d %d %ld", &n, &m, &ne) != 3) {
		fprintf(stderr, "bad header\n");
		return 1;
	}
	int32_t *cap = malloc(sizeof *cap * (size_t)m);
	struct plan_edge *edges = malloc(sizeof *edges * (size_t)ne);
	if (!cap || !edges)
		return 1;
	for (int j = 0; j < m; j++)
		if (fscanf(f, "%d", &cap[j]) != 1)
			return 1;
	for (long e = 0; e < ne; e++) {
		long long w;
		if (fscanf(f, "%d %d %lld", &edges[e].person, &edges[e].offer, &w) != 3)
			return 1;
		edges[e].weight = w;
	}
	fclose(f);
	struct plan_input in = {n, m, cap, edges, (size_t)ne, 0, NULL};
	double best = 1e18;
	struct plan_result r = {0};
	for (int k = 0; k < repeat; k++) {
		plan_result_free(&r);
		double t0 = now_ms();
		if (plan_solve(&in, &r) != 0) {
			fprintf(stderr, "plan_solve failed\n");
			return 1;
		}
		double t = now_ms() - t0;
		if (t < best)
			best = t;
	}
	int assigned = 0;
	for (int i = 0; i < n; i++)
		assigned += r.offer_of[i] >= 0;
	printf("total=%lld assigned=%d best_ms=%.1f rounds=%d pairs_solved=%zu arcs=%zu\n", (long long)r.total, assigned, best, r.rounds, r.pairs_solved,
	       r.arcs_scanned);
	plan_result_free(&r);
	free(cap);
	free(edges);
	return 0;
}

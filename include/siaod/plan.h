/*
 * The allocation planner: which waiting young person should get which free
 * place so that the total match score is as high as possible — each young
 * person at most one place, each offer at most its free places, and among
 * the plans with that total, the one that places the higher priorities.
 *
 * Exact, as a min-cost flow solved by successive shortest paths with node
 * potentials and a Dijkstra that stops as soon as it reaches the sink
 * (Jonker-Volgenant style): every young person is a row that must be
 * assigned, either to an offer or to "no place" (a column of unlimited
 * capacity and weight 0); rows are added one at a time and each augmenting
 * path only touches the part of the graph it needs, so most cost a few
 * dozen arcs.
 *
 * A young person's best few pairs nearly always hold their place in the
 * optimum, and a Dijkstra's cost is the arcs it scans: so the flow is first
 * solved on each young person's `keep` best pairs only, then checked
 * against every pair left out with the potentials it ends with (a pair whose
 * reduced cost is negative could improve it); those are added and it is
 * solved again, until none is left: the same optimum as on every pair.
 *
 * Pure C: plain arrays in, plain arrays out, no I/O.
 */
#ifndef SIAOD_PLAN_H
#define SIAOD_PLAN_H

#include <stddef.h>
#include <stdint.h>

/* An eligible (young person, offer) pair; weight = what assigning it is
 * worth, higher is better, >= 0 (siaod uses score * K + priority, see
 * plan_weight). */
struct plan_edge {
	int32_t person;    /* 0 .. npersons-1 */
	int32_t offer;     /* 0 .. noffers-1 */
	int64_t weight;
};

/* The pairs as a builder of many millions keeps them: 4 bytes a pair, the
 * weight made here (plan_weight), young person i's pairs at
 * pairs[start[i] .. start[i] + count[i]), each offer << 7 | score (score
 * 0..100). Positions 0..nedges-1 of pairs all belong to someone. */
struct plan_pairs {
	const uint32_t *pairs;
	const size_t *start;            /* npersons entries */
	const int32_t *count;           /* npersons entries */
	const int32_t *priority;        /* npersons entries, 0..max_priority */
	int max_priority;
};
#define PLAN_PAIR(offer, score) ((uint32_t)(offer) << 7 | (uint32_t)(score))

struct plan_input {
	int32_t npersons, noffers;
	const int32_t *capacity;        /* noffers entries, >= 0 */
	const struct plan_edge *edges;  /* any order; a pair at most once. The
					 * plan depends only on each young person's
					 * pairs in their order here, not on where
					 * they are among the others' */
	size_t nedges;
	int32_t keep;                   /* pairs a young person starts with; 0: PLAN_KEEP */
	const struct plan_pairs *pairs; /* instead of edges (then NULL), nedges of them */
};

/* dép. 59 of the benchmark (tests/bench/README.md): 163,098 pairs of 9.2 M
 * first, then 21,714, 51 and 4 more; fewer makes more rounds, more makes
 * each round slower. */
#define PLAN_KEEP 24

struct plan_result {
	int32_t *offer_of;   /* npersons entries: the offer, or -1 for no place */
	int64_t total;       /* sum of the weights of the chosen pairs */
	size_t augmentations, arcs_scanned;  /* work done, for benchmarks */
	int rounds;          /* solves: 1 when the kept pairs were enough */
	size_t pairs_solved; /* pairs of the last solve */
};

/* Folds a score (0-100) and a priority (0..max_priority) into one weight so
 * that one point of score outweighs any sum of priorities of npersons. */
int64_t plan_weight(int score, int priority, int32_t npersons, int max_priority);
/* The score part of a weight made by plan_weight. */
int plan_weight_score(int64_t weight, int32_t npersons, int max_priority);

/* Solves; fills out->offer_of (allocated here: free with plan_result_free).
 * Returns 0, or -1 on bad input or out of memory. */
int plan_solve(const struct plan_input *in, struct plan_result *out);
void plan_result_free(struct plan_result *r);

#endif

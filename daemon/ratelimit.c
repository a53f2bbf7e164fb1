/*
 * Token buckets per access token (see ratelimit.h), in an open-addressing
 * table keyed by token id. Tokens are few (people, not requests), so the
 * table only grows.
 */
#include "ratelimit.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>

struct bucket {
	int64_t token_id;      /* 0: empty slot */
	double level;          /* requests it may still make */
	double at;             /* when level was computed, seconds */
};

struct ratelimit {
	struct bucket *b;
	size_t cap, len;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct ratelimit *ratelimit_new(void)
{
	return calloc(1, sizeof(struct ratelimit));
}

void ratelimit_free(struct ratelimit *rl)
{
	if (rl)
		free(rl->b);
	free(rl);
}

static struct bucket *slot(struct ratelimit *rl, int64_t id)
{
	if ((rl->len + 1) * 2 > rl->cap) {
		struct ratelimit grown = {calloc(rl->cap ? rl->cap * 2 : 64, sizeof(struct bucket)),
					  rl->cap ? rl->cap * 2 : 64, 0};
		if (!grown.b)
			return NULL;
		for (size_t i = 0; i < rl->cap; i++)
			if (rl->b[i].token_id) {
				struct bucket *s = slot(&grown, rl->b[i].token_id);
				*s = rl->b[i];
			}
		free(rl->b);
		*rl = grown;
	}
	for (size_t i = (size_t)id * 2654435761u & (rl->cap - 1);; i = (i + 1) & (rl->cap - 1)) {
		if (rl->b[i].token_id == id)
			return &rl->b[i];
		if (rl->b[i].token_id == 0) {
			rl->b[i].token_id = id;
			rl->b[i].level = -1; /* new: filled below */
			rl->len++;
			return &rl->b[i];
		}
	}
}

bool ratelimit_take(struct ratelimit *rl, int64_t token_id, int per_second, int burst, int *retry_after)
{
	if (per_second <= 0 || !rl)
		return true;
	struct bucket *b = slot(rl, token_id);
	if (!b)
		return true; /* out of memory: do not refuse service over it */
	double t = now_s();
	if (b->level < 0)
		b->level = burst;
	else
		b->level = fmin(burst, b->level + (t - b->at) * per_second);
	b->at = t;
	if (b->level >= 1) {
		b->level -= 1;
		return true;
	}
	*retry_after = (int)ceil((1 - b->level) / per_second);
	if (*retry_after < 1)
		*retry_after = 1;
	return false;
}

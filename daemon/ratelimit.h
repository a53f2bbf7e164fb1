/*
 * ratelimit: a token bucket per access token, so one runaway client (or a
 * leaked token) cannot take the daemon from everyone else. Over the limit a
 * request is answered 429 with Retry-After.
 */
#ifndef SIAOD_RATELIMIT_H
#define SIAOD_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct ratelimit;

struct ratelimit *ratelimit_new(void);
void ratelimit_free(struct ratelimit *rl);
/* Takes one request from the token's bucket (per_second refill, burst
 * size); false when empty, with the seconds to wait in *retry_after.
 * per_second <= 0 disables the limit. */
bool ratelimit_take(struct ratelimit *rl, int64_t token_id, int per_second, int burst,
		    int *retry_after);

#endif

/*
 * proxies: the trusted_proxies list (CIDR blocks) and who the client is.
 * Behind a reverse proxy the peer is the proxy: X-Forwarded-For then names
 * the client, but only a peer in the list may say so — anyone else could
 * write any address there.
 */
#ifndef SIAOD_PROXIES_H
#define SIAOD_PROXIES_H

#include <stdbool.h>
#include <stddef.h>

struct proxies;

/* "10.0.0.0/8, ::1/128, 192.0.2.7" (empty: none). NULL with a message in
 * err when malformed (or out of memory). */
struct proxies *proxies_parse(const char *list, char *err, size_t errlen);
void proxies_free(struct proxies *p);
/* The client's address into out: peer, or, while the hop is trusted, the
 * next address from the right of X-Forwarded-For (xff may be NULL). */
void proxies_client(const struct proxies *p, const char *peer, const char *xff, char *out, size_t size);

#endif

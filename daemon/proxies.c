/*
 * Trusted proxies (see proxies.h).
 */
#include "proxies.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

struct block {
	int family;
	unsigned char addr[16];
	int bits;
};

struct proxies {
	int n;
	struct block b[];
};

/* Text into 16 bytes (IPv4 as IPv4-mapped IPv6, so both forms compare). */
static bool addr_parse(const char *s, unsigned char out[16])
{
	struct in_addr a4;
	if (inet_pton(AF_INET, s, &a4) == 1) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &a4, 4);
		return true;
	}
	return inet_pton(AF_INET6, s, out) == 1;
}

struct proxies *proxies_parse(const char *list, char *err, size_t errlen)
{
	/* Items are separated by commas or blanks: count both, or a list
	 * written with spaces overruns the array. */
	int max = 1;
	for (const char *c = list ? list : ""; *c; c++)
		max += *c == ',' || isspace((unsigned char)*c);
	struct proxies *p = calloc(1, sizeof *p + sizeof(struct block) * (size_t)max);
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	const char *s = list ? list : "";
	while (*s) {
		while (*s == ',' || isspace((unsigned char)*s))
			s++;
		if (!*s)
			break;
		char item[64];
		size_t n = strcspn(s, ", \t");
		if (n >= sizeof item)
			goto bad;
		memcpy(item, s, n);
		item[n] = '\0';
		s += n;
		char *slash = strchr(item, '/');
		int bits = -1;
		if (slash) {
			*slash = '\0';
			char *end;
			long v = strtol(slash + 1, &end, 10);
			if (*end || end == slash + 1 || v < 0)
				goto bad;
			bits = (int)v;
		}
		struct block *b = &p->b[p->n];
		bool v4 = strchr(item, ':') == NULL;
		if (!addr_parse(item, b->addr))
			goto bad;
		if (bits < 0)
			bits = v4 ? 32 : 128;
		if (bits > (v4 ? 32 : 128))
			goto bad;
		b->bits = v4 ? bits + 96 : bits;
		p->n++;
		continue;
bad:
		snprintf(err, errlen, "trusted_proxies: expected addresses or CIDR blocks separated by commas, "
			 "got \"%.40s\"", list);
		free(p);
		return NULL;
	}
	return p;
}

void proxies_free(struct proxies *p)
{
	free(p);
}

static bool trusted(const struct proxies *p, const char *addr)
{
	unsigned char a[16];
	if (!p || !addr_parse(addr, a))
		return false;
	for (int i = 0; i < p->n; i++) {
		const struct block *b = &p->b[i];
		int full = b->bits / 8, rest = b->bits % 8;
		if (memcmp(a, b->addr, (size_t)full) != 0)
			continue;
		if (rest && ((a[full] ^ b->addr[full]) & (0xff << (8 - rest))))
			continue;
		return true;
	}
	return false;
}

void proxies_client(const struct proxies *p, const char *peer, const char *xff, char *out, size_t size)
{
	snprintf(out, size, "%s", peer);
	if (!xff || !p || p->n == 0)
		return;
	/* from the right: each trusted hop vouches for the one before it */
	const char *end = xff + strlen(xff);
	while (trusted(p, out) && end > xff) {
		const char *start = end;
		while (start > xff && start[-1] != ',')
			start--;
		const char *a = start, *z = end;
		while (a < z && isspace((unsigned char)*a))
			a++;
		while (z > a && isspace((unsigned char)z[-1]))
			z--;
		char hop[64];
		unsigned char bin[16];
		if (z - a <= 0 || (size_t)(z - a) >= sizeof hop)
			return;
		memcpy(hop, a, (size_t)(z - a));
		hop[z - a] = '\0';
		if (!addr_parse(hop, bin))
			return;   /* not an address: keep the last one we could check */
		snprintf(out, size, "%s", hop);
		end = start > xff ? start - 1 : xff;
	}
}

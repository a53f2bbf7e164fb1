/*
 * Addresses a webhook may not target (see netaddr.h): loopback, private and
 * the special-purpose blocks of the IANA registries that are not ordinary
 * unicast destinations on the Internet, plus the IPv6 forms that carry an
 * IPv4 address inside (mapped, compatible, NAT64, 6to4, Teredo), which are
 * refused whatever IPv4 address they carry: a relay or a local translator
 * could deliver them anywhere, the loopback included.
 */
#include "netaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

/* One IPv4 block: the address (host order) and its prefix length. */
struct v4_block {
	uint32_t net;
	int len;
};

#define V4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

static const struct v4_block v4_refused[] = {
	{V4(0, 0, 0, 0), 8},          /* "this network", 0.0.0.0 included */
	{V4(10, 0, 0, 0), 8},         /* private */
	{V4(100, 64, 0, 0), 10},      /* shared address space (carrier-grade NAT) */
	{V4(127, 0, 0, 0), 8},        /* loopback */
	{V4(169, 254, 0, 0), 16},     /* link-local (cloud metadata) */
	{V4(172, 16, 0, 0), 12},      /* private */
	{V4(192, 0, 0, 0), 24},       /* IETF protocol assignments */
	{V4(192, 168, 0, 0), 16},     /* private */
	{V4(198, 18, 0, 0), 15},      /* benchmarking */
	{V4(224, 0, 0, 0), 4},        /* multicast */
	{V4(240, 0, 0, 0), 4},        /* reserved, 255.255.255.255 (broadcast) included */
};

static bool v4_private(uint32_t a)
{
	for (size_t i = 0; i < sizeof v4_refused / sizeof *v4_refused; i++) {
		uint32_t mask = v4_refused[i].len ? ~0u << (32 - v4_refused[i].len) : 0;
		if ((a & mask) == v4_refused[i].net)
			return true;
	}
	return false;
}

/* One IPv6 block: its first bytes and its prefix length (a multiple of 8
 * or not: the last partial byte is masked). */
struct v6_block {
	unsigned char net[16];
	int len;
};

static const struct v6_block v6_refused[] = {
	{{0}, 96},                                       /* ::/96: ::, ::1, IPv4-compatible */
	{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 96}, /* ::ffff:0:0/96 IPv4-mapped */
	{{0x00, 0x64, 0xff, 0x9b}, 96},                  /* 64:ff9b::/96 NAT64 */
	{{0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}, 48},      /* 64:ff9b:1::/48 local-use NAT64 */
	{{0x20, 0x01, 0x00, 0x00}, 32},                  /* 2001::/32 Teredo */
	{{0x20, 0x02}, 16},                              /* 2002::/16 6to4 */
	{{0xfc}, 7},                                     /* fc00::/7 unique local */
	{{0xfe, 0x80}, 10},                              /* fe80::/10 link-local */
	{{0xfe, 0xc0}, 10},                              /* fec0::/10 site-local (deprecated) */
	{{0xff}, 8},                                     /* ff00::/8 multicast */
};

static bool v6_in(const unsigned char *a, const struct v6_block *b)
{
	int full = b->len / 8, rest = b->len % 8;
	if (memcmp(a, b->net, (size_t)full) != 0)
		return false;
	if (!rest)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (a[full] & mask) == (b->net[full] & mask);
}

static bool v6_private(const struct in6_addr *a)
{
	for (size_t i = 0; i < sizeof v6_refused / sizeof *v6_refused; i++)
		if (v6_in(a->s6_addr, &v6_refused[i]))
			return true;
	return false;
}

bool netaddr_is_private(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return v4_private(ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr));
	if (sa->sa_family == AF_INET6)
		return v6_private(&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr);
	return true; /* anything else is no web address */
}

bool netaddr_host_is_private(const char *host)
{
	char buf[64];
	size_t n = strlen(host);
	/* URL hosts write IPv6 literals in brackets */
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof buf) {
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = '\0';
		host = buf;
	}
	struct in_addr a4;
	struct in6_addr a6;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return v4_private(ntohl(a4.s_addr));
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return v6_private(&a6);
	size_t len = strlen(host);
	if (strcasecmp(host, "localhost") == 0 || strcasecmp(host, "localhost.") == 0)
		return true;
	return len > 10 && strcasecmp(host + len - 10, ".localhost") == 0;
}

/*
 * Private and loopback addresses (see netaddr.h).
 */
#include "netaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

static bool v4_private(uint32_t a)
{
	return (a >> 24) == 10 || (a >> 24) == 127 || (a >> 24) == 0 ||
	       (a >> 20) == (172u << 4 | 1) ||           /* 172.16.0.0/12 */
	       (a >> 16) == (192u << 8 | 168) ||         /* 192.168.0.0/16 */
	       (a >> 16) == (169u << 8 | 254) ||         /* 169.254.0.0/16 */
	       (a >> 22) == (100u << 2 | 1);             /* 100.64.0.0/10 */
}

static bool v6_private(const struct in6_addr *a)
{
	const unsigned char *b = a->s6_addr;
	static const unsigned char zero[15] = {0};
	if (memcmp(b, zero, 15) == 0 && (b[15] == 1 || b[15] == 0))   /* ::1, :: */
		return true;
	if ((b[0] & 0xfe) == 0xfc)                                    /* fc00::/7 */
		return true;
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)                    /* fe80::/10 */
		return true;
	if (IN6_IS_ADDR_V4MAPPED(a)) {
		uint32_t v4;
		memcpy(&v4, b + 12, 4);
		return v4_private(ntohl(v4));
	}
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

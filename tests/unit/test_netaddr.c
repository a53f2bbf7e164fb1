/*
 * netaddr: which webhook targets count as private.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "netaddr.h"
#include "unit.h"

static bool v4(const char *s)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	inet_pton(AF_INET, s, &sa.sin_addr);
	return netaddr_is_private((struct sockaddr *)&sa);
}

static bool v6(const char *s)
{
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6};
	inet_pton(AF_INET6, s, &sa.sin6_addr);
	return netaddr_is_private((struct sockaddr *)&sa);
}

int main(void)
{
	CHECK(v4("127.0.0.1"));
	CHECK(v4("127.255.0.9"));
	CHECK(v4("10.1.2.3"));
	CHECK(v4("172.16.0.1"));
	CHECK(v4("172.31.255.255"));
	CHECK(!v4("172.32.0.1"));
	CHECK(!v4("172.15.255.255"));
	CHECK(v4("192.168.1.1"));
	CHECK(!v4("192.169.1.1"));
	CHECK(v4("169.254.169.254"));   /* cloud metadata */
	CHECK(v4("100.64.0.1"));
	CHECK(!v4("100.128.0.1"));
	CHECK(v4("0.0.0.0"));
	CHECK(!v4("8.8.8.8"));
	CHECK(!v4("193.51.24.1"));
	CHECK(v6("::1"));
	CHECK(v6("::"));
	CHECK(v6("fd00::1"));
	CHECK(v6("fe80::1"));
	CHECK(v6("::ffff:127.0.0.1"));
	CHECK(v6("::ffff:10.0.0.1"));
	CHECK(!v6("2001:db8::1"));
	/* Special-purpose blocks of the IANA registries (issue 11 item 11):
	 * each one's edges, and the first address past them. */
	CHECK(v4("192.0.0.0"));          /* 192.0.0.0/24 IETF protocol assignments */
	CHECK(v4("192.0.0.255"));
	CHECK(!v4("192.0.1.0"));
	CHECK(v4("198.18.0.0"));         /* 198.18.0.0/15 benchmarking */
	CHECK(v4("198.19.255.255"));
	CHECK(!v4("198.17.255.255"));
	CHECK(!v4("198.20.0.0"));
	CHECK(v4("100.64.0.0"));         /* 100.64.0.0/10 shared address space */
	CHECK(v4("100.127.255.255"));
	CHECK(!v4("100.63.255.255"));
	CHECK(v4("224.0.0.1"));          /* 224.0.0.0/4 multicast */
	CHECK(v4("239.255.255.255"));
	CHECK(!v4("223.255.255.255"));
	CHECK(v4("240.0.0.1"));          /* 240.0.0.0/4 reserved */
	CHECK(v4("254.1.2.3"));
	CHECK(v4("255.255.255.255"));    /* limited broadcast */
	CHECK(v4("0.1.2.3"));            /* 0.0.0.0/8 "this network" */
	CHECK(!v4("1.0.0.0"));
	CHECK(v6("::ffff:8.8.8.8"));      /* IPv4-mapped: refused whatever it carries */
	CHECK(v6("::ffff:0:0"));
	CHECK(v6("::8.8.8.8"));           /* IPv4-compatible ::/96 */
	CHECK(v6("::127.0.0.1"));
	CHECK(v6("64:ff9b::8.8.8.8"));    /* NAT64 64:ff9b::/96 */
	CHECK(v6("64:ff9b::7f00:1"));
	CHECK(!v6("64:ff9c::1"));
	CHECK(v6("64:ff9b:1::1"));        /* local-use NAT64 64:ff9b:1::/48 */
	CHECK(v6("2002::1"));             /* 6to4 2002::/16 */
	CHECK(v6("2002:7f00:1::1"));
	CHECK(v6("2002:ffff:ffff::1"));
	CHECK(!v6("2003::1"));
	CHECK(!v6("2001:db8::1"));        /* documentation: not listed, an ordinary prefix here */
	CHECK(v6("2001::1"));             /* Teredo 2001::/32 */
	CHECK(!v6("2001:1::1"));
	CHECK(v6("ff02::1"));             /* multicast ff00::/8 */
	CHECK(v6("ff0e::1"));
	CHECK(v6("fec0::1"));             /* site-local */
	CHECK(!v6("2a01:cb00::1"));       /* an ordinary global address */
	CHECK(!v6("1::"));
	CHECK(netaddr_host_is_private("[::ffff:8.8.8.8]"));
	CHECK(netaddr_host_is_private("[64:ff9b::808:808]"));
	CHECK(netaddr_host_is_private("[2002:c000:201::1]"));
	CHECK(netaddr_host_is_private("198.18.0.1"));
	CHECK(netaddr_host_is_private("255.255.255.255"));
	CHECK(netaddr_host_is_private("239.1.1.1"));
	CHECK(!netaddr_host_is_private("[2a01:cb00::1]"));
	CHECK(netaddr_host_is_private("localhost"));
	CHECK(netaddr_host_is_private("LOCALHOST"));
	CHECK(netaddr_host_is_private("api.localhost"));
	CHECK(netaddr_host_is_private("127.0.0.1"));
	CHECK(netaddr_host_is_private("[::1]"));
	CHECK(netaddr_host_is_private("192.168.0.10"));
	CHECK(!netaddr_host_is_private("example.org"));
	CHECK(!netaddr_host_is_private("mylocalhost.org"));
	CHECK(!netaddr_host_is_private("8.8.4.4"));
	return unit_done("test_netaddr");
}

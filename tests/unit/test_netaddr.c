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
	CHECK(!v6("::ffff:8.8.8.8"));
	CHECK(!v6("2001:db8::1"));
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

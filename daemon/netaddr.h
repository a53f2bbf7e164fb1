/*
 * netaddr: is an address loopback or private? Webhook targets there are
 * refused unless webhook_allow_private is set, both when a subscription is
 * made (literal addresses, "localhost") and when a delivery connects (the
 * resolved address, so DNS cannot smuggle one in).
 */
#ifndef SIAOD_NETADDR_H
#define SIAOD_NETADDR_H

#include <stdbool.h>
#include <sys/socket.h>

/* Loopback, private, link-local, carrier-grade NAT, unspecified, and the
 * other special-purpose blocks that are no ordinary unicast destination:
 * 192.0.0.0/24, 198.18.0.0/15, multicast, 240.0.0.0/4 (broadcast
 * included); in IPv6 also every form that carries an IPv4 address
 * (IPv4-mapped ::ffff:0:0/96, IPv4-compatible ::/96, NAT64 64:ff9b::/96 and
 * 64:ff9b:1::/48, Teredo 2001::/32, 6to4 2002::/16), site-local and
 * multicast. */
bool netaddr_is_private(const struct sockaddr *sa);
/* A host name as written in a URL: an IP literal that is private, or
 * "localhost" (and its subdomains). Other names are checked on connect. */
bool netaddr_host_is_private(const char *host);

#endif

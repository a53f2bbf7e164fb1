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

/* Loopback, private, link-local, carrier-grade NAT, unspecified, or an
 * IPv4-mapped IPv6 address of one of those. */
bool netaddr_is_private(const struct sockaddr *sa);
/* A host name as written in a URL: an IP literal that is private, or
 * "localhost" (and its subdomains). Other names are checked on connect. */
bool netaddr_host_is_private(const char *host);

#endif

/*
 * account: what the account routes (api_accounts.c) and the sign-in routes
 * (api_signin.c) share — e-mail checks and one-time links. A link's secret
 * is 256 random bits in the URL's fragment (public_url/ui/#invitation=...,
 * never sent to a server, so never in a log); PostgreSQL keeps its SHA-256,
 * uses it once and lets it expire.
 */
#ifndef SIAOD_ACCOUNT_H
#define SIAOD_ACCOUNT_H

#include <stdbool.h>
#include <stddef.h>

struct config;

bool account_email_ok(const char *email);
/* A new link: its URL (public_url + "/ui/#" + fragment + "=" + secret) and
 * the secret's hash as a bytea parameter; -1 if the RNG failed. */
int  account_link_new(const struct config *cfg, const char *fragment, char *url, size_t urlsize,
		      char hash_param[67]);
/* The hash parameter of a link secret the browser sent back. */
void account_link_hash(const char *token, char hash_param[67]);

#endif

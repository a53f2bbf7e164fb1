/*
 * curlloop: one libcurl multi handle driven by the app's libevent loop, as
 * curl's hiperfifo.c does it — curl says which sockets to watch and when to
 * wake it; curl_multi_socket_action runs from libevent callbacks only, never
 * from curl's. Shared by the webhooks, outgoing mail and the OpenID Connect
 * client, so that no one blocks the loop and no one copies this glue.
 *
 * Each finished transfer is handed to done(owner, easy, result) (the easy
 * handle's CURLOPT_PRIVATE is the owner's to use); after a round that
 * finished at least one, batch(owner) runs once (may be NULL). done removes
 * nothing itself: the owner calls curlloop_remove, then curl_easy_cleanup.
 */
#ifndef SIAOD_CURLLOOP_H
#define SIAOD_CURLLOOP_H

#include <curl/curl.h>

struct event_base;
struct curlloop;

typedef void (*curlloop_done_fn)(void *owner, CURL *easy, CURLcode result);
typedef void (*curlloop_batch_fn)(void *owner);

struct curlloop *curlloop_new(struct event_base *base, curlloop_done_fn done, curlloop_batch_fn batch,
			      void *owner);
/* Transfers still added are removed (not cleaned up: they are the owner's). */
/* Keeps up to n idle connections open for reuse (curl's default keeps 4 per
 * transfer running, so a lull closes them and the next burst opens them
 * again). */
void curlloop_keep_connections(struct curlloop *cl, long n);
void curlloop_free(struct curlloop *cl);
int  curlloop_add(struct curlloop *cl, CURL *easy);
void curlloop_remove(struct curlloop *cl, CURL *easy);

#endif

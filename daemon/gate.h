/*
 * gate: the way every request goes from the transport to a route's
 * handler — the application's http_handler_fn. In order: the target (a
 * clean path, a query string without %00), the route (404, 405 with Allow),
 * the token and its role (401, 403), the rate limit (429), the body (415,
 * 400), the Idempotency-Key (replay, 409, 422), then the handler.
 */
#ifndef SIAOD_GATE_H
#define SIAOD_GATE_H

#include <stddef.h>

struct app;
struct http_req;

/* Binds app's listener with the gate as handler; -1 with err on failure. */
int  gate_start(struct app *app, char *err, size_t errlen);
/* SIGTERM: stop accepting, answer what is in flight, then leave the loop. */
void gate_drain(struct app *app);
void gate_stop(struct app *app);

/* The handler itself (ctx: the app), for tests and fuzzers. */
void gate_handle(struct http_req *hr, void *ctx);

#endif

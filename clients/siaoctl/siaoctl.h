/*
 * siaoctl: the command-line client of siaod. What every command shares: the
 * exit codes, the context of one run, and the helpers that turn options into
 * requests and answers into output.
 */
#ifndef SIAOCTL_H
#define SIAOCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "args.h"
#include "http.h"

enum {
	SIAOCTL_EXIT_OK = 0,
	SIAOCTL_EXIT_API = 1,       /* the API answered an error (4xx, 5xx) or nonsense */
	SIAOCTL_EXIT_USAGE = 2,     /* the command line (or the config) is wrong */
	SIAOCTL_EXIT_CONNECT = 3,   /* no answer: refused, unreachable, timed out */
};

struct ctx {
	/* global options, accepted before and after the command word */
	const char *url_flag;
	const char *token_flag;
	bool json;
	/* the command being run */
	const char *help;           /* its help text */
	char what[64];              /* "offers add", for messages */
	int exit;                   /* what a helper that answered false wants returned */
	struct http *http;          /* opened by the first request */
	bool quiet;                 /* ctx_call prints no problem (lookups that may fail) */
	json_t *names;              /* names.c's cache: {"porteurs": {id: name}, "communes": {insee: name}} */
};

/* A subcommand: run(c, argc, argv) with argv[0] the word after the
 * subcommand's name. A name "" is the default, run with every word when the
 * first is no subcommand's name (place --youth ...). */
struct ctx_sub {
	const char *name;
	int (*run)(struct ctx *c, int argc, char **argv);
};

/* Runs the subcommand named by argv[0]; "--help" there prints help. */
int ctx_dispatch(struct ctx *c, const char *cmd, const char *help, const struct ctx_sub *subs,
		 size_t nsubs, int argc, char **argv);
/* Parses the options (and the global ones) of c->what; wants between
 * min_pos and max_pos words, named posname in messages ("YOUTH_ID").
 * false: return c->exit (0 after --help, else 2). */
bool ctx_args(struct ctx *c, int argc, char **argv, const struct args_opt *opts, size_t nopts,
	      struct args_pos *pos, int min_pos, int max_pos, const char *posname);
/* The global options (--url, --server, --token, --json), bound to c. */
#define CTX_NGLOBALS 4
size_t ctx_globals(struct ctx *c, struct args_opt g[CTX_NGLOBALS]);
/* false (and a usage error) when a required option is missing. */
bool ctx_require(struct ctx *c, const char *opt, const char *value);
/* false (and a usage error) when text is not a positive id. */
bool ctx_id(struct ctx *c, const char *what, const char *text, long long *id);
int ctx_help(const struct ctx *c);
void ctx_close(struct ctx *c);

/* One request expecting JSON. Returns an exit code: 0 with *out the parsed
 * answer (to json_decref), else the error already printed (the problem line,
 * a connection failure, a config gap). */
int ctx_call(struct ctx *c, const char *method, const char *path, const json_t *body, json_t **out);
/* One GET with Accept: accept; the answer's body as it came. */
int ctx_call_raw(struct ctx *c, const char *path, const char *accept, struct http_resp *resp);
/* Every page of a list (path may hold a query): follows next_cursor until
 * the end, or until limit items (limit <= 0: all). *out = {"items": [...],
 * "next_cursor": the cursor after the last item or null}. */
int ctx_list(struct ctx *c, const char *path, long long limit, json_t **out);
/* The answer as --json prints it; returns 0. */
int ctx_print_json(const json_t *v);

/* The commands: argv[0] is the command's name. */
int cmd_offers(struct ctx *c, int argc, char **argv);
int cmd_youth(struct ctx *c, int argc, char **argv);
int cmd_match(struct ctx *c, int argc, char **argv);
int cmd_place(struct ctx *c, int argc, char **argv);
int cmd_stays(struct ctx *c, int argc, char **argv);
int cmd_webhooks(struct ctx *c, int argc, char **argv);
int cmd_report(struct ctx *c, int argc, char **argv);

extern const char cmd_offers_help[];
extern const char cmd_youth_help[];
extern const char cmd_match_help[];
extern const char cmd_place_help[];
extern const char cmd_stays_help[];
extern const char cmd_webhooks_help[];
extern const char cmd_report_help[];

#endif

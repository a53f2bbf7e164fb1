/*
 * The context of one run: subcommand dispatch, option parsing with the
 * global options, and requests whose failures become one line and an exit
 * code.
 */
#include "siaoctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "output.h"
#include "problem.h"
#include "util.h"

/* A page of a list as large as the API allows. */
#define CTX_PAGE_MAX 200

size_t ctx_globals(struct ctx *c, struct args_opt g[CTX_NGLOBALS])
{
	g[0] = (struct args_opt){"url", ARGS_VALUE, &c->url_flag, NULL};
	g[1] = (struct args_opt){"server", ARGS_VALUE, &c->url_flag, NULL};
	g[2] = (struct args_opt){"token", ARGS_VALUE, &c->token_flag, NULL};
	g[3] = (struct args_opt){"json", ARGS_FLAG, NULL, &c->json};
	return CTX_NGLOBALS;
}

int ctx_help(const struct ctx *c)
{
	fputs(c->help, stdout);
	return SIAOCTL_EXIT_OK;
}

int ctx_dispatch(struct ctx *c, const char *cmd, const char *help, const struct ctx_sub *subs,
		 size_t nsubs, int argc, char **argv)
{
	c->help = help;
	snprintf(c->what, sizeof c->what, "%s", cmd);
	const struct ctx_sub *dflt = NULL;
	struct buf names = {0};
	for (size_t i = 0; i < nsubs; i++) {
		if (!*subs[i].name)
			dflt = &subs[i];
		else
			buf_printf(&names, "%s%s", names.len ? ", " : "", subs[i].name);
	}
	int rc = SIAOCTL_EXIT_USAGE;
	const char *word = argc > 1 ? argv[1] : NULL;
	if (word && (strcmp(word, "--help") == 0 || strcmp(word, "-h") == 0 || strcmp(word, "help") == 0)) {
		rc = ctx_help(c);
		goto out;
	}
	for (size_t i = 0; word && i < nsubs; i++) {
		if (*subs[i].name && strcmp(subs[i].name, word) == 0) {
			snprintf(c->what, sizeof c->what, "%s %s", cmd, word);
			rc = subs[i].run(c, argc - 2, argv + 2);
			goto out;
		}
	}
	if (word && word[0] != '-') {
		args_error(cmd, "unknown subcommand '%s' (%s)", word, buf_text(&names));
	} else if (dflt) {
		rc = dflt->run(c, argc - 1, argv + 1);
	} else if (!word) {
		args_error(cmd, "say which: %s", buf_text(&names));
	} else {
		args_error(cmd, "put options after the subcommand (%s), e.g. siaoctl %s %s %s",
			   buf_text(&names), cmd, subs[0].name, word);
	}
out:
	buf_free(&names);
	return rc;
}

bool ctx_args(struct ctx *c, int argc, char **argv, const struct args_opt *opts, size_t nopts,
	      struct args_pos *pos, int min_pos, int max_pos, const char *posname)
{
	struct args_opt g[CTX_NGLOBALS];
	struct args_spec spec = {opts, nopts, g, ctx_globals(c, g)};
	enum args_result r = args_parse(c->what, &spec, argc, argv, pos);
	if (r == ARGS_HELP) {
		c->exit = ctx_help(c);
		return false;
	}
	c->exit = SIAOCTL_EXIT_USAGE;
	if (r == ARGS_USAGE)
		return false;
	if (pos->n < min_pos) {
		args_error(c->what, "missing %s", posname ? posname : "argument");
		return false;
	}
	if (pos->n > max_pos) {
		args_error(c->what, "unexpected argument '%s'", pos->v[max_pos]);
		return false;
	}
	c->exit = SIAOCTL_EXIT_OK;
	return true;
}

bool ctx_require(struct ctx *c, const char *opt, const char *value)
{
	if (value)
		return true;
	args_error(c->what, "%s is required", opt);
	c->exit = SIAOCTL_EXIT_USAGE;
	return false;
}

bool ctx_id(struct ctx *c, const char *what, const char *text, long long *id)
{
	if (args_int(c->what, what, text, 1, 999999999999999999LL, id))
		return true;
	c->exit = SIAOCTL_EXIT_USAGE;
	return false;
}

void ctx_close(struct ctx *c)
{
	http_close(c->http);
	c->http = NULL;
	json_decref(c->names);
	c->names = NULL;
}

static int open_http(struct ctx *c)
{
	if (c->http)
		return SIAOCTL_EXIT_OK;
	struct config cfg = {0};
	int rc = config_resolve(c->url_flag, c->token_flag, &cfg);
	if (rc != 0)
		return rc;
	c->http = http_open(cfg.url, cfg.token);
	config_free(&cfg);
	return c->http ? SIAOCTL_EXIT_OK : SIAOCTL_EXIT_CONNECT;
}

int ctx_call_raw(struct ctx *c, const char *path, const char *accept, struct http_resp *resp)
{
	memset(resp, 0, sizeof *resp);
	int rc = open_http(c);
	if (rc != 0)
		return rc;
	if (http_send(c->http, "GET", path, NULL, accept, resp) != 0)
		return SIAOCTL_EXIT_CONNECT;
	if (resp->status < 200 || resp->status >= 300) {
		problem_print(resp);
		http_resp_free(resp);
		return SIAOCTL_EXIT_API;
	}
	return SIAOCTL_EXIT_OK;
}

int ctx_call(struct ctx *c, const char *method, const char *path, const json_t *body, json_t **out)
{
	*out = NULL;
	int rc = open_http(c);
	if (rc != 0)
		return rc;
	struct http_resp resp;
	if (http_send(c->http, method, path, body, NULL, &resp) != 0)
		return SIAOCTL_EXIT_CONNECT;
	if (resp.status < 200 || resp.status >= 300) {
		if (!c->quiet)
			problem_print(&resp);
		http_resp_free(&resp);
		return SIAOCTL_EXIT_API;
	}
	json_error_t err;
	*out = json_loadb(resp.body.s ? resp.body.s : "", resp.body.len, 0, &err);
	if (!*out) {
		fprintf(stderr, "siaoctl: %ld answer to %s %s is not JSON (%s)\n", resp.status, method, path,
			err.text);
		rc = SIAOCTL_EXIT_API;
	}
	http_resp_free(&resp);
	return rc;
}

int ctx_list(struct ctx *c, const char *path, long long limit, json_t **out)
{
	json_t *all = json_array();
	char *cursor = NULL;
	int rc = SIAOCTL_EXIT_OK;
	*out = NULL;
	for (;;) {
		long long want = limit > 0 ? limit - (long long)json_array_size(all) : CTX_PAGE_MAX;
		char num[24];
		snprintf(num, sizeof num, "%lld", want < CTX_PAGE_MAX ? want : CTX_PAGE_MAX);
		struct buf p = {0};
		buf_puts(&p, path);
		http_query_add(&p, "limit", num);
		http_query_add(&p, "cursor", cursor);
		json_t *page;
		rc = ctx_call(c, "GET", buf_text(&p), NULL, &page);
		buf_free(&p);
		if (rc != 0)
			break;
		json_t *items = json_object_get(page, "items");
		const char *next = json_string_value(json_object_get(page, "next_cursor"));
		if (!json_is_array(items)) {
			fprintf(stderr, "siaoctl: the answer to GET %s has no items list\n", path);
			json_decref(page);
			rc = SIAOCTL_EXIT_API;
			break;
		}
		json_array_extend(all, items);
		/* a page without items or a cursor going nowhere ends the walk */
		bool stuck = !next || json_array_size(items) == 0 || (cursor && strcmp(cursor, next) == 0);
		free(cursor);
		cursor = next ? xstrdup(next) : NULL;
		json_decref(page);
		if (stuck || (limit > 0 && (long long)json_array_size(all) >= limit))
			break;
	}
	if (rc == 0)
		*out = json_pack("{s:O, s:s?}", "items", all, "next_cursor", cursor);
	json_decref(all);
	free(cursor);
	return rc;
}

int ctx_print_json(const json_t *v)
{
	out_json(stdout, v);
	return SIAOCTL_EXIT_OK;
}

/*
 * siaoctl: the command-line client of siaod. Finds the command, hands it the
 * rest of the command line, returns its exit code: 0 done, 1 the API said
 * no, 2 a wrong command line, 3 no answer from the server.
 */
#include <stdio.h>
#include <string.h>
#include <curl/curl.h>

#include "siaoctl.h"

struct command {
	const char *name;
	int (*run)(struct ctx *c, int argc, char **argv);
	const char *help;
};

static const struct command commands[] = {
	{"offers", cmd_offers, cmd_offers_help},
	{"youth", cmd_youth, cmd_youth_help},
	{"match", cmd_match, cmd_match_help},
	{"place", cmd_place, cmd_place_help},
	{"stays", cmd_stays, cmd_stays_help},
	{"webhooks", cmd_webhooks, cmd_webhooks_help},
	{"report", cmd_report, cmd_report_help},
};
#define NCOMMANDS (sizeof commands / sizeof *commands)

static const char main_help[] =
	"usage: siaoctl [--url URL] [--token TOKEN] [--json] COMMAND [ARGS]\n"
	"\n"
	"The command-line client of siaod, the housing-placement matching daemon.\n"
	"\n"
	"commands:\n"
	"  offers ls|add|close     housing offers and their free places\n"
	"  youth add|show          young people's needs (pseudonymous)\n"
	"  match YOUTH_ID          the offers that fit a young person, best first\n"
	"  place ...               propose a placement; accept, refuse, enter, exit,\n"
	"                          extend, cancel, show\n"
	"  stays                   active stays and the days left\n"
	"  webhooks add|ls         event subscriptions\n"
	"  report                  indicators (JSON or CSV)\n"
	"  help COMMAND            a command's help (or: siaoctl COMMAND --help)\n"
	"\n"
	"options (before or after the command):\n"
	"  --url URL, --server URL   the server, e.g. http://127.0.0.1:8080\n"
	"  --token TOKEN             the bearer token\n"
	"  --json                    print the API's JSON (pretty-printed) instead of tables\n"
	"  --version                 print the version\n"
	"\n"
	"The server and the token come from the flags, else SIAOCTL_URL and\n"
	"SIAOCTL_TOKEN, else ~/.config/siaoctl/config (lines \"url = ...\", \"token = ...\").\n"
	"Other users of the machine can see a --token in ps: prefer SIAOCTL_TOKEN or the\n"
	"file (chmod 600).\n"
	"Exit status: 0 done, 1 the API answered an error, 2 wrong usage, 3 no answer.\n";

static const struct command *find(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* siaoctl help [COMMAND] */
static int help(int argc, char **argv)
{
	if (argc < 2) {
		fputs(main_help, stdout);
		return SIAOCTL_EXIT_OK;
	}
	const struct command *cmd = find(argv[1]);
	if (!cmd) {
		fprintf(stderr, "siaoctl: help: no command '%s' (see: siaoctl --help)\n", argv[1]);
		return SIAOCTL_EXIT_USAGE;
	}
	fputs(cmd->help, stdout);
	return SIAOCTL_EXIT_OK;
}

int main(int argc, char **argv)
{
	struct ctx c = {0};
	bool version = false;
	struct args_opt opts[CTX_NGLOBALS + 1];
	size_t n = ctx_globals(&c, opts);
	opts[n++] = (struct args_opt){"version", ARGS_FLAG, NULL, &version};
	struct args_spec spec = {opts, n, NULL, 0};
	int word;
	enum args_result r = args_parse_prefix(&spec, argc - 1, argv + 1, &word);
	word += 1;
	if (r == ARGS_USAGE)
		return SIAOCTL_EXIT_USAGE;
	if (version) {
		printf("siaoctl %s\n", SIAOD_VERSION);
		return SIAOCTL_EXIT_OK;
	}
	if (word >= argc) {
		fputs(main_help, r == ARGS_HELP ? stdout : stderr);
		return r == ARGS_HELP ? SIAOCTL_EXIT_OK : SIAOCTL_EXIT_USAGE;
	}
	if (strcmp(argv[word], "help") == 0)
		return help(argc - word, argv + word);
	const struct command *cmd = find(argv[word]);
	if (!cmd) {
		args_error("", "unknown command '%s'", argv[word]);
		return SIAOCTL_EXIT_USAGE;
	}
	if (r == ARGS_HELP) {
		fputs(cmd->help, stdout);
		return SIAOCTL_EXIT_OK;
	}
	c.help = cmd->help;
	snprintf(c.what, sizeof c.what, "%s", cmd->name);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fputs("siaoctl: cannot initialise libcurl\n", stderr);
		return SIAOCTL_EXIT_CONNECT;
	}
	int rc = cmd->run(&c, argc - word, argv + word);
	ctx_close(&c);
	curl_global_cleanup();
	return rc;
}

/*
 * config: where siaoctl finds its server and token. For each of the two,
 * the first that says it wins: the flag (--url, --token), the environment
 * (SIAOCTL_URL, SIAOCTL_TOKEN), the file $XDG_CONFIG_HOME/siaoctl/config or
 * else ~/.config/siaoctl/config ("key = value" lines: url, token; '#'
 * comments).
 */
#ifndef SIAOCTL_CONFIG_H
#define SIAOCTL_CONFIG_H

struct config {
	char *url;     /* without trailing slashes */
	char *token;
};

/* Fills cfg (strings to free with config_free). Returns 0, or prints a
 * one-line error and returns an exit code (2: nothing says where the server
 * is, or a malformed setting). */
int config_resolve(const char *url_flag, const char *token_flag, struct config *cfg);
void config_free(struct config *cfg);
/* The config file's path (to free), or NULL without HOME and XDG_CONFIG_HOME. */
char *config_path(void);

#endif

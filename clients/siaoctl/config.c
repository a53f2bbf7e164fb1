/*
 * Server URL and token: flag, then environment, then the config file.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "siaoctl.h"
#include "util.h"

char *config_path(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	if (xdg && *xdg)
		return xasprintf("%s/siaoctl/config", xdg);
	const char *home = getenv("HOME");
	if (home && *home)
		return xasprintf("%s/.config/siaoctl/config", home);
	return NULL;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
	/* a value may be quoted */
	if (n >= 2 && ((s[0] == '"' && s[n - 1] == '"') || (s[0] == '\'' && s[n - 1] == '\''))) {
		s[n - 1] = '\0';
		s++;
	}
	return s;
}

/* Reads url and token from the file, when there is one. -1 on a bad line. */
static int read_file(const char *path, char **url, char **token)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077))
		fprintf(stderr, "siaoctl: warning: %s is readable by others; it holds a token (chmod 600 it)\n",
			path);
	char line[4096];
	int lineno = 0, rc = 0;
	while (fgets(line, sizeof line, f)) {
		lineno++;
		char *s = trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			fprintf(stderr, "siaoctl: %s:%d: expected key = value\n", path, lineno);
			rc = -1;
			break;
		}
		*eq = '\0';
		char *key = trim(s), *value = trim(eq + 1);
		if (strcmp(key, "url") == 0) {
			free(*url);
			*url = xstrdup(value);
		} else if (strcmp(key, "token") == 0) {
			free(*token);
			*token = xstrdup(value);
		} else {
			fprintf(stderr, "siaoctl: %s:%d: warning: unknown key '%s' (url and token are known)\n",
				path, lineno, key);
		}
	}
	fclose(f);
	return rc;
}

static bool token_ok(const char *t)
{
	if (!*t)
		return false;
	for (const unsigned char *p = (const unsigned char *)t; *p; p++)
		if (*p <= 0x20 || *p >= 0x7F)
			return false;
	return true;
}

static const char *pick(const char *flag, const char *env_name, const char *from_file)
{
	if (flag)
		return flag;
	const char *env = getenv(env_name);
	if (env && *env)
		return env;
	return from_file;
}

int config_resolve(const char *url_flag, const char *token_flag, struct config *cfg)
{
	char *file_url = NULL, *file_token = NULL;
	char *path = config_path();
	int rc = 0;
	/* the file is read only when a flag or the environment leaves a gap */
	const char *env_url = getenv("SIAOCTL_URL"), *env_token = getenv("SIAOCTL_TOKEN");
	bool need_file = (!url_flag && !(env_url && *env_url)) ||
			 (!token_flag && !(env_token && *env_token));
	if (path && need_file && read_file(path, &file_url, &file_token) != 0)
		rc = SIAOCTL_EXIT_USAGE;
	const char *url = pick(url_flag, "SIAOCTL_URL", file_url);
	const char *token = pick(token_flag, "SIAOCTL_TOKEN", file_token);
	if (rc == 0 && (!url || !*url)) {
		fprintf(stderr, "siaoctl: no server: give --url URL, set SIAOCTL_URL or write url = URL in %s\n",
			path ? path : "~/.config/siaoctl/config");
		rc = SIAOCTL_EXIT_USAGE;
	} else if (rc == 0 && strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
		fprintf(stderr, "siaoctl: the server URL must start with http:// or https://\n");
		rc = SIAOCTL_EXIT_USAGE;
	} else if (rc == 0 && (!token || !*token)) {
		fprintf(stderr, "siaoctl: no token: give --token TOKEN, set SIAOCTL_TOKEN or write token = TOKEN in %s\n",
			path ? path : "~/.config/siaoctl/config");
		rc = SIAOCTL_EXIT_USAGE;
	} else if (rc == 0 && !token_ok(token)) {
		fprintf(stderr, "siaoctl: the token contains spaces or characters a token never has\n");
		rc = SIAOCTL_EXIT_USAGE;
	}
	if (rc == 0) {
		cfg->url = xstrdup(url);
		size_t n = strlen(cfg->url);
		while (n > 0 && cfg->url[n - 1] == '/')
			cfg->url[--n] = '\0';
		/* `scripts/dev up` prints the API base (http://127.0.0.1:8080/v1):
		 * siaoctl adds /v1 to its paths itself, so that base works too */
		if (n >= 3 && strcmp(cfg->url + n - 3, "/v1") == 0 && n - 3 > strlen("https://")) {
			cfg->url[n -= 3] = '\0';
			while (n > 0 && cfg->url[n - 1] == '/')
				cfg->url[--n] = '\0';
		}
		cfg->token = xstrdup(token);
	}
	if (file_token)
		memset(file_token, 0, strlen(file_token));
	free(file_url);
	free(file_token);
	free(path);
	return rc;
}

void config_free(struct config *cfg)
{
	free(cfg->url);
	if (cfg->token)
		memset(cfg->token, 0, strlen(cfg->token));
	free(cfg->token);
	cfg->url = cfg->token = NULL;
}

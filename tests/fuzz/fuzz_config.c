/*
 * fuzz_config: bytes as a config file. Read over the built-in defaults as
 * config_load() reads a file (config_parse_text), checked (config_validate),
 * then what the daemon does next with a good one: SIGHUP's
 * config_apply_reload into the running config, --check-config's
 * config_print, the transport's parse_listen (http.c); config_free at the
 * end. config_validate also parses trusted_proxies (proxies.c). The
 * environment is not read: SIAOD_* overrides take the same config_set path.
 *
 * The file includes daemon/http.c to reach parse_listen (static): it defines
 * http.c's every global symbol, so the linker never takes http.o out of
 * siaod_fuzz_core.
 */
#include "../../daemon/http.c"

#include <stdint.h>

#include "config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	devnull = fopen("/dev/null", "w");
	return devnull ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	char err[256];
	config_defaults(&cfg);
	err[0] = '\0';
	int rc = config_parse_text(&cfg, (const char *)data, size, "fuzz.conf", err, sizeof err);
	if (rc != 0 && !err[0])
		abort(); /* a refusal always says why */
	if (rc == 0) {
		err[0] = '\0';
		if (config_validate(&cfg, err, sizeof err) != 0) {
			if (!err[0])
				abort();
		} else {
			struct config running;
			char changed[512];
			struct sockaddr_storage ss;
			int sslen;
			config_defaults(&running);
			if (config_validate(&running, err, sizeof err) != 0)
				abort(); /* the defaults are valid */
			config_apply_reload(&running, &cfg, changed, sizeof changed);
			config_print(&cfg, devnull);
			config_print(&running, devnull);
			if (parse_listen(cfg.listen, &ss, &sslen) == 0 && ss.ss_family != AF_INET &&
			    ss.ss_family != AF_INET6)
				abort();
			config_free(&running);
		}
	}
	config_free(&cfg);
	return 0;
}

/*
 * The web UI's files, served at /ui/: those compiled into the binary
 * (clients/web, see assets.h), so that an installed siaod and one run from
 * its build tree serve the UI they were built with; or, when ui_dir is set,
 * the files of that folder (scripts/dev up points it at the checkout, so an
 * edit shows on reload). Only plain names are served: letters, digits, '-',
 * '_', '.', '/' (the transport refuses any other path), never a "..", never a
 * hidden file.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/http.h>

#include "api.h"
#include "app.h"
#include "assets.h"

static const char *content_type(const char *path)
{
	static const struct { const char *ext, *type; } types[] = {
		{".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
		{".css", "text/css; charset=utf-8"}, {".svg", "image/svg+xml"},
		{".png", "image/png"}, {".ico", "image/x-icon"}, {".json", "application/json"},
		{".webmanifest", "application/manifest+json"}, {".txt", "text/plain; charset=utf-8"},
	};
	const char *dot = strrchr(path, '.');
	for (size_t i = 0; dot && i < sizeof types / sizeof *types; i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}

static void ui_headers(struct req *r)
{
	/* the UI must always talk to the API version it ships with */
	req_add_header(r, "Cache-Control", "no-cache");
	req_add_header(r, "X-Content-Type-Options", "nosniff");
	req_add_header(r, "Content-Security-Policy",
		       "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
		       "connect-src 'self'; frame-ancestors 'none'");
}

void api_ui(struct req *r)
{
	const char *rel = r->path + 3; /* after "/ui" */
	if (*rel == '\0') {
		req_add_header(r, "Location", "/ui/");
		req_reply_raw(r, 301, "text/plain; charset=utf-8", "/ui/\n", 5);
		return;
	}
	if (*rel != '/') { /* "/uix": not ours */
		req_problem(r, 404, "not-found", "no such resource");
		return;
	}
	if (strcmp(rel, "/") == 0)
		rel = "/index.html";
	if (strstr(rel, "..") || strstr(rel, "/.")) {
		req_problem(r, 404, "not-found", "no such file");
		return;
	}
	if (!r->app->cfg.ui_dir[0]) {
		char name[512];
		const struct asset *a = NULL;
		if ((size_t)snprintf(name, sizeof name, "ui%s", rel) < sizeof name)
			a = asset_find(name);
		if (!a) {
			req_problem(r, 404, "not-found", "no such file");
			return;
		}
		ui_headers(r);
		req_reply_raw(r, 200, content_type(name), a->data, a->len);
		return;
	}
	char path[1024];
	snprintf(path, sizeof path, "%s%s", r->app->cfg.ui_dir, rel);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		req_problem(r, 404, "not-found", "no such file");
		return;
	}
	struct evbuffer *buf = evbuffer_new();
	if (!buf || evbuffer_add_file(buf, fd, 0, st.st_size) != 0) { /* takes the fd */
		if (buf)
			evbuffer_free(buf);
		req_problem(r, 503, "unavailable", "cannot read the file");
		return;
	}
	ui_headers(r);
	req_reply_buffer(r, 200, content_type(path), buf);
	evbuffer_free(buf);
}

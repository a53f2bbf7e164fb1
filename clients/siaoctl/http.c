/*
 * HTTP with libcurl's easy interface: a CLI makes one request at a time.
 */
#include "http.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

/* A body larger than this is not an answer of siaod's. */
#define HTTP_MAX_BODY (256u << 20)

struct http {
	CURL *curl;
	char *base;
	char *auth;    /* "Authorization: Bearer ..." */
	char error[CURL_ERROR_SIZE];
};

struct http *http_open(const char *base, const char *token)
{
	struct http *h = xcalloc(1, sizeof *h);
	h->curl = curl_easy_init();
	if (!h->curl) {
		fputs("siaoctl: cannot start libcurl\n", stderr);
		free(h);
		return NULL;
	}
	h->base = xstrdup(base);
	h->auth = xasprintf("Authorization: Bearer %s", token);
	return h;
}

void http_close(struct http *h)
{
	if (!h)
		return;
	curl_easy_cleanup(h->curl);
	free(h->base);
	memset(h->auth, 0, strlen(h->auth));
	free(h->auth);
	free(h);
}

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	if (b->len + n * size > HTTP_MAX_BODY)
		return 0; /* curl answers CURLE_WRITE_ERROR */
	buf_add(b, data, n * size);
	return n * size;
}

int http_send(struct http *h, const char *method, const char *path, const json_t *body,
	      const char *accept, struct http_resp *resp)
{
	memset(resp, 0, sizeof *resp);
	CURL *c = h->curl;
	/* a reset keeps the open connection for the next page */
	curl_easy_reset(c);
	char *url = xasprintf("%s%s", h->base, path);
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	char *accept_h = xasprintf("Accept: %s", accept ? accept : "application/json");
	struct curl_slist *headers = NULL, *more;
	const char *lines[] = {h->auth, accept_h, "User-Agent: siaoctl/" SIAOD_VERSION,
			       text ? "Content-Type: application/json" : NULL};
	for (size_t i = 0; i < sizeof lines / sizeof *lines && lines[i]; i++) {
		more = curl_slist_append(headers, lines[i]);
		if (!more) {
			curl_slist_free_all(headers);
			free(url);
			free(text);
			free(accept_h);
			fputs("siaoctl: out of memory\n", stderr);
			return -1;
		}
		headers = more;
	}
	h->error[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->error);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp->body);
	if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
		if (text) {
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
		}
	}
	CURLcode rc = curl_easy_perform(c);
	int ret = 0;
	if (rc != CURLE_OK) {
		fprintf(stderr, "siaoctl: cannot reach %s: %s\n", h->base,
			h->error[0] ? h->error : curl_easy_strerror(rc));
		ret = -1;
	} else {
		char *ct = NULL;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
		if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
			resp->content_type = xstrdup(ct);
#if LIBCURL_VERSION_NUM >= 0x074200
		curl_off_t ra = 0;
		if (curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
			resp->retry_after = (long)ra;
#endif
	}
	curl_slist_free_all(headers);
	free(url);
	free(text);
	free(accept_h);
	if (ret != 0)
		http_resp_free(resp);
	return ret;
}

void http_resp_free(struct http_resp *resp)
{
	free(resp->content_type);
	resp->content_type = NULL;
	buf_free(&resp->body);
}

static void encode(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			buf_add(b, (const char *)p, 1);
		} else {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			buf_add(b, e, 3);
		}
	}
}

void http_query_add(struct buf *path, const char *key, const char *value)
{
	if (!value)
		return;
	buf_puts(path, strchr(buf_text(path), '?') ? "&" : "?");
	encode(path, key);
	buf_puts(path, "=");
	encode(path, value);
}

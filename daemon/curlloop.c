/*
 * libcurl multi on the libevent loop (see curlloop.h).
 */
#include "curlloop.h"

#include <stdbool.h>
#include <stdlib.h>
#include <event2/event.h>

struct curlloop {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	curlloop_done_fn done;
	curlloop_batch_fn batch;
	void *owner;
};

struct sock {
	struct event *ev;
};

static void check_done(struct curlloop *cl)
{
	CURLMsg *msg;
	int left;
	bool finished = false;
	while ((msg = curl_multi_info_read(cl->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		CURL *easy = msg->easy_handle;
		CURLcode rc = msg->data.result;
		cl->done(cl->owner, easy, rc);
		finished = true;
	}
	if (finished && cl->batch)
		cl->batch(cl->owner);
}

static void sock_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct curlloop *cl = arg;
	int action = (what & EV_READ ? CURL_CSELECT_IN : 0) | (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
	int still;
	curl_multi_socket_action(cl->multi, fd, action, &still);
	check_done(cl);
}

static int sock_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *sockp)
{
	struct curlloop *cl = userp;
	struct sock *s = sockp;
	if (what == CURL_POLL_REMOVE) {
		/* may come for a socket we never saw (STYLE.md): s is NULL then */
		if (s) {
			event_free(s->ev);
			free(s);
			curl_multi_assign(cl->multi, fd, NULL);
		}
		return 0;
	}
	short kind = EV_PERSIST | (what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0);
	if (!s) {
		s = calloc(1, sizeof *s);
		if (!s)
			return -1;
		curl_multi_assign(cl->multi, fd, s);
	} else {
		event_free(s->ev);
	}
	s->ev = event_new(cl->base, fd, kind, sock_event_cb, cl);
	event_add(s->ev, NULL);
	return 0;
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct curlloop *cl = arg;
	int still;
	curl_multi_socket_action(cl->multi, CURL_SOCKET_TIMEOUT, 0, &still);
	check_done(cl);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct curlloop *cl = userp;
	if (timeout_ms < 0) {
		evtimer_del(cl->timer);
		return 0;
	}
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	evtimer_add(cl->timer, &tv);
	return 0;
}

struct curlloop *curlloop_new(struct event_base *base, curlloop_done_fn done, curlloop_batch_fn batch,
			      void *owner)
{
	struct curlloop *cl = calloc(1, sizeof *cl);
	if (!cl)
		return NULL;
	cl->base = base;
	cl->done = done;
	cl->batch = batch;
	cl->owner = owner;
	cl->multi = curl_multi_init();
	cl->timer = evtimer_new(base, timeout_cb, cl);
	if (!cl->multi || !cl->timer) {
		curlloop_free(cl);
		return NULL;
	}
	curl_multi_setopt(cl->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(cl->multi, CURLMOPT_SOCKETDATA, cl);
	curl_multi_setopt(cl->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(cl->multi, CURLMOPT_TIMERDATA, cl);
	return cl;
}

void curlloop_keep_connections(struct curlloop *cl, long n)
{
	curl_multi_setopt(cl->multi, CURLMOPT_MAXCONNECTS, n);
}

void curlloop_free(struct curlloop *cl)
{
	if (!cl)
		return;
	if (cl->multi)
		curl_multi_cleanup(cl->multi);
	if (cl->timer)
		event_free(cl->timer);
	free(cl);
}

int curlloop_add(struct curlloop *cl, CURL *easy)
{
	return curl_multi_add_handle(cl->multi, easy) == CURLM_OK ? 0 : -1;
}

void curlloop_remove(struct curlloop *cl, CURL *easy)
{
	curl_multi_remove_handle(cl->multi, easy);
}

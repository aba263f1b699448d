#include "http_client.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "crypto.h"
#include "log.h"
#include "util.h"

#define POOL_MAX 16

struct ecs_http_client {
	struct ecs_http_client_config cfg;
	char *user_agent;
	pthread_mutex_t lock;
	CURL *pool[POOL_MAX];
	size_t n_pool;
	long connections;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

int ecs_http_client_new(const struct ecs_http_client_config *cfg, struct ecs_http_client **ret)
{
	struct ecs_http_client *c;

	pthread_once(&curl_once, curl_init_once);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	if (cfg)
		c->cfg = *cfg;
	if (!c->cfg.connect_timeout_ms)
		c->cfg.connect_timeout_ms = 2000;
	if (!c->cfg.timeout_ms)
		c->cfg.timeout_ms = 30000;
	if (!c->cfg.backoff_ms)
		c->cfg.backoff_ms = 100;
	if (!c->cfg.backoff_max_ms)
		c->cfg.backoff_max_ms = 5000;
	if (!c->cfg.max_response)
		c->cfg.max_response = 64 * 1024 * 1024;
	c->user_agent = strdup(cfg && cfg->user_agent ? cfg->user_agent : "ecs/1.0");
	if (!c->user_agent) {
		free(c);
		return -ENOMEM;
	}
	c->cfg.user_agent = c->user_agent;
	pthread_mutex_init(&c->lock, NULL);
	*ret = c;
	return 0;
}

void ecs_http_client_free(struct ecs_http_client *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_pool; i++)
		curl_easy_cleanup(c->pool[i]);
	pthread_mutex_destroy(&c->lock);
	free(c->user_agent);
	free(c);
}

long ecs_http_client_connections(struct ecs_http_client *c)
{
	long n;

	pthread_mutex_lock(&c->lock);
	n = c->connections;
	pthread_mutex_unlock(&c->lock);
	return n;
}

static CURL *handle_get(struct ecs_http_client *c)
{
	CURL *h = NULL;

	pthread_mutex_lock(&c->lock);
	if (c->n_pool)
		h = c->pool[--c->n_pool];
	pthread_mutex_unlock(&c->lock);
	if (h)
		curl_easy_reset(h); /* keeps the handle's connection cache */
	else
		h = curl_easy_init();
	return h;
}

static void handle_put(struct ecs_http_client *c, CURL *h, long new_connections)
{
	pthread_mutex_lock(&c->lock);
	c->connections += new_connections;
	if (c->n_pool < POOL_MAX) {
		c->pool[c->n_pool++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	if (h)
		curl_easy_cleanup(h);
}

struct sink {
	struct ecs_http_reply *reply;
	struct ecs_buf body;
	size_t max;
	bool overflow;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct sink *s = userp;
	size_t n = size * nmemb;
	int r = ecs_buf_append(&s->body, data, n, s->max);

	if (r == -EFBIG)
		s->overflow = true;
	return r < 0 ? 0 : n; /* 0 makes curl fail with CURLE_WRITE_ERROR */
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
	struct sink *s = userp;
	size_t n = size * nmemb, klen, vstart;
	const char *colon = memchr(data, ':', n);
	char key[256];

	/* A new status line (after a redirect or 100-continue) starts a new header set. */
	if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		ecs_kvlist_clear(&s->reply->headers);
		return n;
	}
	if (!colon)
		return n;
	klen = (size_t)(colon - data);
	if (klen == 0 || klen >= sizeof(key))
		return n;
	for (size_t i = 0; i < klen; i++)
		key[i] = (char)tolower((unsigned char)data[i]);
	key[klen] = '\0';
	vstart = klen + 1;
	while (vstart < n && (data[vstart] == ' ' || data[vstart] == '\t'))
		vstart++;
	while (n > vstart && (data[n - 1] == '\r' || data[n - 1] == '\n' || data[n - 1] == ' '))
		n--;
	if (ecs_kvlist_addn(&s->reply->headers, key, klen, data + vstart, n - vstart) < 0)
		return 0;
	return size * nmemb;
}

static bool method_idempotent(const char *m)
{
	return streq(m, "GET") || streq(m, "HEAD") || streq(m, "PUT") || streq(m, "DELETE") || streq(m, "OPTIONS");
}

static bool status_retryable(long status)
{
	return status == 429 || status == 502 || status == 503 || status == 504;
}

static int curl_to_errno(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* One attempt. Returns 0 with reply filled, or a negative errno. */
static int attempt(struct ecs_http_client *c, const struct ecs_http_call *call, struct ecs_http_reply *reply)
{
	struct curl_slist *hdrs = NULL;
	struct sink sink = { .reply = reply, .max = c->cfg.max_response };
	CURL *h = handle_get(c);
	long new_conns = 0;
	CURLcode cc;
	int r = 0;

	if (!h)
		return -ENOMEM;
	curl_easy_setopt(h, CURLOPT_URL, call->url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->cfg.connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->cfg.timeout_ms);
	curl_easy_setopt(h, CURLOPT_USERAGENT, c->cfg.user_agent);
	curl_easy_setopt(h, CURLOPT_FORBID_REUSE, c->cfg.fresh_connections ? 1L : 0L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &sink);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (streq(call->method, "HEAD"))
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	else if (!streq(call->method, "GET"))
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, call->method);
	if (call->body || streq(call->method, "POST") || streq(call->method, "PUT")) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, call->body ? call->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body_len);
	}
	/* curl would send "Expect: 100-continue" for larger bodies and wait for it. */
	hdrs = curl_slist_append(hdrs, "Expect:");
	for (size_t i = 0; call->headers && i < call->headers->n; i++) {
		_cleanup_free_ char *line =
			ecs_strdup_printf("%s: %s", call->headers->items[i].key, call->headers->items[i].value);
		struct curl_slist *nh;

		if (!line || !(nh = curl_slist_append(hdrs, line))) {
			r = -ENOMEM;
			goto out;
		}
		hdrs = nh;
	}
	{
		const char *rid = ecs_log_get_request_id();
		_cleanup_free_ char *line = rid ? ecs_strdup_printf("X-Ecs-Request-Id: %s", rid) : NULL;

		if (line)
			hdrs = curl_slist_append(hdrs, line);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);

	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &new_conns);
	if (cc != CURLE_OK) {
		r = sink.overflow ? -EFBIG : curl_to_errno(cc);
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &reply->status);
	reply->body_len = sink.body.len;
	reply->body = ecs_buf_steal(&sink.body);
	if (!reply->body)
		r = -ENOMEM;
out:
	ecs_buf_free(&sink.body);
	curl_slist_free_all(hdrs);
	/* A handle whose transfer failed may hold a broken connection: do not pool it. */
	if (r < 0) {
		pthread_mutex_lock(&c->lock);
		c->connections += new_conns;
		pthread_mutex_unlock(&c->lock);
		curl_easy_cleanup(h);
	} else {
		handle_put(c, h, new_conns);
	}
	return r;
}

int ecs_http_client_do(struct ecs_http_client *c, const struct ecs_http_call *call, struct ecs_http_reply *reply)
{
	bool idem = call->idempotent < 0 ? method_idempotent(call->method) : call->idempotent > 0;
	unsigned max_attempts = idem ? 1 + c->cfg.retries : 1;
	long backoff = c->cfg.backoff_ms;
	int r = -EIO;

	memset(reply, 0, sizeof(*reply));
	for (unsigned i = 0; i < max_attempts; i++) {
		if (i) {
			uint32_t rnd = 0;

			/* Equal jitter: half the backoff plus a random part, so retries of many callers spread. */
			ecs_random_bytes(&rnd, sizeof(rnd));
			sleep_ms(backoff / 2 + (long)(rnd % (uint32_t)(backoff / 2 + 1)));
			backoff = backoff * 2 > c->cfg.backoff_max_ms ? c->cfg.backoff_max_ms : backoff * 2;
			ecs_http_reply_clear(reply);
		}
		reply->attempts = i + 1;
		r = attempt(c, call, reply);
		if (r == -EFBIG || r == -ENOMEM)
			break;
		if (r == 0 && !status_retryable(reply->status))
			break;
		if (i + 1 < max_attempts)
			log_debug("http call retry", "method=%s url=%s attempt=%u status=%ld error=%d", call->method,
				  call->url, i + 1, reply->status, r);
	}
	if (r < 0) {
		unsigned attempts = reply->attempts;

		ecs_http_reply_clear(reply);
		reply->attempts = attempts;
	}
	return r;
}

void ecs_http_reply_clear(struct ecs_http_reply *reply)
{
	if (!reply)
		return;
	free(reply->body);
	ecs_kvlist_clear(&reply->headers);
	memset(reply, 0, sizeof(*reply));
}

#include "storage_keys.h"

#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hostauth.h"
#include "http_client.h"
#include "log.h"
#include "timeutil.h"
#include "url.h"
#include "util.h"

#define NEGATIVE_TTL_MS 5000

struct slot {
	char ak[128];
	struct storage_key key;
	bool known;
	int64_t expires_ms;
};

struct storage_keys {
	char *url;
	char *host_key;
	unsigned ttl_s;
	struct ecs_http_client *http;
	pthread_mutex_t mu;
	struct slot *slots; /* direct-mapped by hash: bounded, O(1) */
};

static unsigned slot_of(const char *ak)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)ak; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h % STORAGE_KEYS_CACHE_MAX;
}

int storage_keys_new(const char *controller_url, const char *host_key, unsigned ttl_s, const char *user_agent,
		     struct storage_keys **ret)
{
	struct ecs_http_client_config cfg = { .connect_timeout_ms = 2000, .timeout_ms = 5000, .retries = 2,
					      .max_response = 64 * 1024, .user_agent = user_agent,
					      /* The controller may be calling this gateway from the pool
					       * thread that serves a kept connection (console, ImportImage):
					       * a key asked on it would wait until the timeout. */
					      .fresh_connections = true };
	struct storage_keys *k = calloc(1, sizeof(*k));
	int r;

	if (!k)
		return -ENOMEM;
	k->url = strdup(controller_url);
	k->host_key = strdup(host_key);
	k->slots = calloc(STORAGE_KEYS_CACHE_MAX, sizeof(*k->slots));
	k->ttl_s = ttl_s;
	pthread_mutex_init(&k->mu, NULL);
	if (!k->url || !k->host_key || !k->slots) {
		storage_keys_free(k);
		return -ENOMEM;
	}
	if ((r = ecs_http_client_new(&cfg, &k->http)) < 0) {
		storage_keys_free(k);
		return r;
	}
	*ret = k;
	return 0;
}

void storage_keys_free(struct storage_keys *k)
{
	if (!k)
		return;
	ecs_http_client_free(k->http);
	if (k->slots)
		explicit_bzero(k->slots, STORAGE_KEYS_CACHE_MAX * sizeof(*k->slots));
	free(k->slots);
	if (k->host_key)
		explicit_bzero(k->host_key, strlen(k->host_key));
	free(k->host_key);
	free(k->url);
	pthread_mutex_destroy(&k->mu);
	free(k);
}

static int ask(struct storage_keys *k, const char *ak, struct storage_key *ret)
{
	struct ecs_kvlist headers = ECS_KVLIST_INIT;
	struct ecs_http_reply reply = { 0 };
	_cleanup_free_ char *enc = ecs_percent_encode(ak), *path = NULL, *url = NULL;
	struct json_object *j = NULL, *v;
	int r;

	if (!enc || !(path = ecs_strdup_printf("/storage/v1/keys/%s", enc)) ||
	    !(url = ecs_strdup_printf("%s%s", k->url, path)))
		return -ENOMEM;
	if ((r = ecs_hostauth_add_headers(k->host_key, "", "GET", path, NULL, "", 0, &headers)) < 0)
		goto out;
	{
		struct ecs_http_call call = { .method = "GET", .url = url, .headers = &headers };

		r = ecs_http_client_do(k->http, &call, &reply);
	}
	if (r < 0) {
		log_error("cannot ask the controller for a key", "url=%s error=%s", k->url, strerror(-r));
		r = -EIO;
		goto out;
	}
	if (reply.status == 404) {
		r = -ENOENT;
		goto out;
	}
	j = reply.status == 200 ? json_tokener_parse(reply.body) : NULL;
	if (!j || !json_object_object_get_ex(j, "AccountId", &v) ||
	    ecs_strlcpy(ret->account_id, json_object_get_string(v), sizeof(ret->account_id)) < 0 ||
	    !json_object_object_get_ex(j, "AccessKeySecret", &v) ||
	    ecs_strlcpy(ret->secret, json_object_get_string(v), sizeof(ret->secret)) < 0) {
		log_error("the controller's key answer is not usable", "status=%ld", reply.status);
		r = -EIO;
		goto out;
	}
	r = 0;
out:
	json_object_put(j);
	if (reply.body)
		explicit_bzero(reply.body, reply.body_len);
	ecs_http_reply_clear(&reply);
	ecs_kvlist_clear(&headers);
	return r;
}

int storage_keys_get(struct storage_keys *k, const char *ak, struct storage_key *ret)
{
	struct slot *s = &k->slots[slot_of(ak)];
	int64_t now = ecs_now_mono_ms();
	struct storage_key got;
	int r;

	if (strlen(ak) >= sizeof(s->ak))
		return -ENOENT;
	pthread_mutex_lock(&k->mu);
	if (streq(s->ak, ak) && s->expires_ms > now) {
		bool known = s->known;

		if (known)
			*ret = s->key;
		pthread_mutex_unlock(&k->mu);
		return known ? 0 : -ENOENT;
	}
	pthread_mutex_unlock(&k->mu);
	r = ask(k, ak, &got);
	if (r < 0 && r != -ENOENT)
		return r;
	pthread_mutex_lock(&k->mu);
	snprintf(s->ak, sizeof(s->ak), "%s", ak);
	s->known = r == 0;
	s->key = r == 0 ? got : (struct storage_key){ 0 };
	s->expires_ms = now + (r == 0 ? (int64_t)k->ttl_s * 1000 : NEGATIVE_TTL_MS);
	pthread_mutex_unlock(&k->mu);
	if (r == 0)
		*ret = got;
	explicit_bzero(&got, sizeof(got));
	return r;
}

#include "hostauth.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "nonce.h"
#include "url.h"
#include "util.h"

static char *canonical_query(const struct ecs_kvlist *query)
{
	struct ecs_kvlist sorted = ECS_KVLIST_INIT;
	char *out = NULL;

	for (size_t i = 0; query && i < query->n; i++)
		if (ecs_kvlist_add(&sorted, query->items[i].key, query->items[i].value) < 0)
			goto done;
	if (ecs_kvlist_sort(&sorted) < 0)
		goto done;
	out = ecs_form_build(&sorted);
done:
	ecs_kvlist_clear(&sorted);
	return out;
}

/* A host name is one line of the string to sign: no control character may end it early. */
static bool host_ok(const char *host)
{
	if (strlen(host) > ECS_HOSTAUTH_HOST_MAX)
		return false;
	for (; *host; host++)
		if ((unsigned char)*host < 0x20 || *host == 0x7f)
			return false;
	return true;
}

int ecs_hostauth_sign(const char *key, const char *host, const char *method, const char *path,
		      const struct ecs_kvlist *query, time_t date, const char *nonce, const void *body, size_t body_len,
		      char out[65])
{
	_cleanup_free_ char *cq = NULL, *sts = NULL;
	uint8_t h[ECS_SHA256_LEN], mac[ECS_SHA256_LEN];
	char hh[2 * ECS_SHA256_LEN + 1];
	int r;

	if (!host_ok(host))
		return -EINVAL;
	cq = canonical_query(query);
	if (!cq)
		return -ENOMEM;
	r = ecs_sha256(body ? body : "", body ? body_len : 0, h);
	if (r < 0)
		return r;
	ecs_hex_encode(h, sizeof(h), hh);
	sts = ecs_strdup_printf("%s\n%s\n%s\n%s\n%s\n%lld\n%s\n%s", ECS_HOSTAUTH_SCHEME, host, method, path, cq,
				(long long)date, nonce, hh);
	if (!sts)
		return -ENOMEM;
	r = ecs_hmac_sha256(key, strlen(key), sts, strlen(sts), mac);
	if (r < 0)
		return r;
	ecs_hex_encode(mac, sizeof(mac), out);
	return 0;
}

int ecs_hostauth_add_headers(const char *key, const char *host, const char *method, const char *path,
			     const struct ecs_kvlist *query, const void *body, size_t body_len,
			     struct ecs_kvlist *headers)
{
	uint8_t rnd[16];
	char nonce[33], sig[65], date[24], auth[100];
	time_t now = time(NULL);
	int r;

	r = ecs_random_bytes(rnd, sizeof(rnd));
	if (r < 0)
		return r;
	ecs_hex_encode(rnd, sizeof(rnd), nonce);
	r = ecs_hostauth_sign(key, host, method, path, query, now, nonce, body, body_len, sig);
	if (r < 0)
		return r;
	snprintf(date, sizeof(date), "%lld", (long long)now);
	snprintf(auth, sizeof(auth), "%s %s", ECS_HOSTAUTH_SCHEME, sig);
	if (ecs_kvlist_add(headers, "X-Ecs-Date", date) < 0 || ecs_kvlist_add(headers, "X-Ecs-Nonce", nonce) < 0 ||
	    ecs_kvlist_add(headers, "Authorization", auth) < 0)
		return -ENOMEM;
	return 0;
}

/* The agent's nonce cache is a nonce set (lib/nonce.h) under the API's old names. */
int ecs_nonce_cache_new(size_t capacity, struct ecs_nonce_cache **ret)
{
	return ecs_nonce_set_new(capacity, (struct ecs_nonce_set **)ret);
}

void ecs_nonce_cache_free(struct ecs_nonce_cache *c)
{
	ecs_nonce_set_free((struct ecs_nonce_set *)c);
}

static bool nonce_well_formed(const char *n)
{
	size_t len = strlen(n);

	if (len < 16 || len > ECS_HOSTAUTH_NONCE_MAX)
		return false;
	for (; *n; n++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-", *n))
			return false;
	return true;
}

int ecs_hostauth_verify(const char *key, const char *host, struct ecs_nonce_cache *nonces, const char *method,
			const char *path, const struct ecs_kvlist *query, const struct ecs_kvlist *headers,
			const void *body, size_t body_len, time_t now, const char **ret_reason)
{
	const char *auth = ecs_kvlist_get_case(headers, "Authorization");
	const char *date_s = ecs_kvlist_get_case(headers, "X-Ecs-Date");
	const char *nonce = ecs_kvlist_get_case(headers, "X-Ecs-Nonce");
	size_t plen = strlen(ECS_HOSTAUTH_SCHEME);
	char want[65];
	long long date;
	int r;

	if (!auth || !date_s || !nonce) {
		*ret_reason = "missing signature (Authorization, X-Ecs-Date and X-Ecs-Nonce are required)";
		return -EACCES;
	}
	if (strncmp(auth, ECS_HOSTAUTH_SCHEME, plen) != 0 || auth[plen] != ' ') {
		*ret_reason = strncmp(auth, "ECS1-HMAC-SHA256 ", plen + 1) == 0
				      ? "unknown signature scheme (ECS1 names no host: upgrade the controller and the agents "
					"together)"
				      : "unknown signature scheme";
		return -EACCES;
	}
	if (ecs_parse_int64(date_s, 0, INT64_MAX / 2, &date) < 0) {
		*ret_reason = "malformed X-Ecs-Date";
		return -EACCES;
	}
	if (!nonce_well_formed(nonce)) {
		*ret_reason = "malformed X-Ecs-Nonce";
		return -EACCES;
	}
	if (date < (long long)now - ECS_HOSTAUTH_WINDOW_S || date > (long long)now + ECS_HOSTAUTH_WINDOW_S) {
		*ret_reason = "stale request (X-Ecs-Date outside the accepted window)";
		return -EACCES;
	}
	r = ecs_hostauth_sign(key, host, method, path, query, (time_t)date, nonce, body, body_len, want);
	if (r < 0) {
		*ret_reason = "internal error";
		return r;
	}
	if (!ecs_streq_ct(auth + plen + 1, want)) {
		*ret_reason = "signature does not match";
		return -EACCES;
	}
	/* Only a good signature may take a place in the cache. */
	r = ecs_nonce_set_add((struct ecs_nonce_set *)nonces, nonce, now, (time_t)date + ECS_HOSTAUTH_WINDOW_S + 1);
	if (r == -EEXIST) {
		*ret_reason = "replayed request (nonce already used)";
		return -EACCES;
	}
	if (r < 0) {
		*ret_reason = "too many requests in the window";
		return -EACCES;
	}
	return 0;
}

int ecs_hostauth_read_key(const char *path, char **ret)
{
	_cleanup_free_ char *key = NULL;
	size_t len;
	int r = ecs_read_file(path, ECS_HOSTAUTH_KEY_MAX, &key, &len);

	if (r < 0)
		return r;
	while (len && (key[len - 1] == '\n' || key[len - 1] == '\r' || key[len - 1] == ' '))
		key[--len] = '\0';
	if (len < ECS_HOSTAUTH_KEY_MIN)
		return -EINVAL;
	*ret = TAKE_PTR(key);
	return 0;
}

#include "sign.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "url.h"
#include "util.h"

char *ecs_rpc_string_to_sign(const char *method, const struct ecs_kvlist *params)
{
	struct ecs_kvlist sorted = ECS_KVLIST_INIT;
	_cleanup_free_ char *canon = NULL, *enc = NULL;
	char *sts = NULL;

	for (size_t i = 0; i < params->n; i++) {
		if (streq(params->items[i].key, "Signature"))
			continue;
		if (ecs_kvlist_add(&sorted, params->items[i].key, params->items[i].value) < 0)
			goto out;
	}
	if (ecs_kvlist_sort(&sorted) < 0)
		goto out;
	canon = ecs_form_build(&sorted);
	if (!canon)
		goto out;
	enc = ecs_percent_encode(canon);
	if (!enc)
		goto out;
	sts = ecs_strdup_printf("%s&%%2F&%s", method, enc);
out:
	ecs_kvlist_clear(&sorted);
	return sts;
}

static char *sign_sts(const char *sts, const char *secret)
{
	_cleanup_free_ char *key = ecs_strdup_printf("%s&", secret);
	uint8_t mac[ECS_SHA1_LEN];

	if (!key || ecs_hmac_sha1(key, strlen(key), sts, strlen(sts), mac) < 0)
		return NULL;
	return ecs_base64_encode(mac, sizeof(mac));
}

char *ecs_rpc_sign(const char *method, const struct ecs_kvlist *params, const char *secret)
{
	_cleanup_free_ char *sts = ecs_rpc_string_to_sign(method, params);

	return sts ? sign_sts(sts, secret) : NULL;
}

int ecs_rpc_verify(const char *method, const struct ecs_kvlist *params, const char *secret, char **ret_sts)
{
	const char *given = ecs_kvlist_get(params, "Signature");
	_cleanup_free_ char *sts = NULL, *want = NULL;

	if (!given)
		return -ENOENT;
	sts = ecs_rpc_string_to_sign(method, params);
	if (!sts)
		return -ENOMEM;
	want = sign_sts(sts, secret);
	if (!want)
		return -ENOMEM;
	if (ecs_streq_ct(given, want))
		return 0;
	if (ret_sts)
		*ret_sts = TAKE_PTR(sts);
	return -EBADMSG;
}

static const char *header_ci(const struct ecs_kvlist *h, const char *name)
{
	return h ? ecs_kvlist_get_case(h, name) : NULL;
}

char *ecs_acs3_canonical_request(const char *method, const char *path, const struct ecs_kvlist *query,
				 const struct ecs_kvlist *headers, const char *signed_headers,
				 const char *hashed_payload)
{
	struct ecs_kvlist sorted = ECS_KVLIST_INIT;
	_cleanup_free_ char *cq = NULL, *names = strdup(signed_headers);
	char *buf = NULL, *save = NULL;
	size_t size = 0;
	FILE *f = NULL;

	if (!names)
		return NULL;
	for (size_t i = 0; query && i < query->n; i++)
		if (ecs_kvlist_add(&sorted, query->items[i].key, query->items[i].value) < 0)
			goto fail;
	if (ecs_kvlist_sort(&sorted) < 0)
		goto fail;
	cq = ecs_form_build(&sorted);
	f = open_memstream(&buf, &size);
	if (!cq || !f)
		goto fail;
	fprintf(f, "%s\n%s\n%s\n", method, path, cq);
	/* SignedHeaders is given sorted by the client; the lines follow it. */
	for (char *n = strtok_r(names, ";", &save); n; n = strtok_r(NULL, ";", &save)) {
		const char *v = header_ci(headers, n);
		size_t len;

		if (!v)
			v = "";
		while (*v == ' ' || *v == '\t')
			v++;
		len = strlen(v);
		while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
			len--;
		for (const char *c = n; *c; c++)
			fputc(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c, f);
		fprintf(f, ":%.*s\n", (int)len, v);
	}
	fprintf(f, "\n%s\n%s", signed_headers, hashed_payload);
	if (fclose(f) != 0) {
		f = NULL;
		goto fail;
	}
	ecs_kvlist_clear(&sorted);
	return buf;
fail:
	if (f)
		fclose(f);
	free(buf);
	ecs_kvlist_clear(&sorted);
	return NULL;
}

int ecs_acs3_sign(const char *secret, const char *canonical, char out[65])
{
	uint8_t h[ECS_SHA256_LEN], mac[ECS_SHA256_LEN];
	char hh[2 * ECS_SHA256_LEN + 1];
	_cleanup_free_ char *sts = NULL;
	int r;

	r = ecs_sha256(canonical, strlen(canonical), h);
	if (r < 0)
		return r;
	ecs_hex_encode(h, sizeof(h), hh);
	sts = ecs_strdup_printf("%s\n%s", ECS_ACS3_SCHEME, hh);
	if (!sts)
		return -ENOMEM;
	r = ecs_hmac_sha256(secret, strlen(secret), sts, strlen(sts), mac);
	if (r < 0)
		return r;
	ecs_hex_encode(mac, sizeof(mac), out);
	return 0;
}

/* Copy the value of "Name=" up to ',' (or the end) from s into out. */
static int auth_field(const char *s, const char *name, char *out, size_t size)
{
	const char *p = strstr(s, name), *end;
	size_t len;

	if (!p)
		return -EINVAL;
	p += strlen(name);
	end = strchr(p, ',');
	len = end ? (size_t)(end - p) : strlen(p);
	while (len && p[len - 1] == ' ')
		len--;
	if (len == 0 || len >= size)
		return -EINVAL;
	memcpy(out, p, len);
	out[len] = '\0';
	return 0;
}

int ecs_acs3_parse(const char *authorization, struct ecs_acs3_auth *ret)
{
	size_t n = strlen(ECS_ACS3_SCHEME);

	if (!authorization || strncmp(authorization, ECS_ACS3_SCHEME, n) != 0 || authorization[n] != ' ')
		return -EINVAL;
	authorization += n + 1;
	if (auth_field(authorization, "Credential=", ret->access_key_id, sizeof(ret->access_key_id)) < 0 ||
	    auth_field(authorization, "SignedHeaders=", ret->signed_headers, sizeof(ret->signed_headers)) < 0 ||
	    auth_field(authorization, "Signature=", ret->signature, sizeof(ret->signature)) < 0)
		return -EINVAL;
	return 0;
}

int ecs_acs3_signed_headers_check(const char *signed_headers, const char *const *required,
				  const char **ret_missing)
{
	const char *p = signed_headers, *prev = NULL;
	size_t prev_len = 0;

	for (;;) {
		size_t len = strcspn(p, ";");

		if (len == 0)
			return -EINVAL;
		for (size_t i = 0; i < len; i++)
			if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '-'))
				return -EINVAL;
		/* Strictly ascending: sorted and no duplicate. */
		if (prev) {
			int c = strncmp(prev, p, prev_len < len ? prev_len : len);

			if (c > 0 || (c == 0 && prev_len >= len))
				return -EINVAL;
		}
		prev = p;
		prev_len = len;
		if (!p[len])
			break;
		p += len + 1;
	}
	for (size_t r = 0; required && required[r]; r++) {
		size_t n = strlen(required[r]);
		bool found = false;

		for (p = signed_headers; *p && !found; p += strcspn(p, ";") + (p[strcspn(p, ";")] ? 1 : 0))
			found = strncmp(p, required[r], n) == 0 && (p[n] == ';' || !p[n]);
		if (!found) {
			if (ret_missing)
				*ret_missing = required[r];
			return -ENOENT;
		}
	}
	return 0;
}

#include "sigv4.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "crypto.h"
#include "util.h"

#define CANONICAL_MAX (256 * 1024)
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* "ak/date/region/service/aws4_request" */
static int credential_parse(const char *s, size_t len, struct oss_v4_auth *a)
{
	const char *parts[5];
	size_t lens[5], n = 0;
	const char *p = s, *end = s + len;

	while (n < 5) {
		const char *slash = memchr(p, '/', (size_t)(end - p));

		parts[n] = p;
		lens[n] = slash ? (size_t)(slash - p) : (size_t)(end - p);
		n++;
		if (!slash)
			break;
		p = slash + 1;
	}
	if (n != 5 || p + lens[4] != end || !lens[0] || lens[0] >= sizeof(a->ak) || lens[1] != 8 ||
	    strspn(parts[1], "0123456789") < 8 || !lens[2] || lens[2] >= sizeof(a->region) || !lens[3] ||
	    lens[3] >= sizeof(a->service) || lens[4] != 12 || memcmp(parts[4], "aws4_request", 12) != 0)
		return -EINVAL;
	memcpy(a->ak, parts[0], lens[0]);
	a->ak[lens[0]] = '\0';
	memcpy(a->date, parts[1], 8);
	a->date[8] = '\0';
	memcpy(a->region, parts[2], lens[2]);
	a->region[lens[2]] = '\0';
	memcpy(a->service, parts[3], lens[3]);
	a->service[lens[3]] = '\0';
	return 0;
}

static bool signed_headers_valid(const char *s, size_t len)
{
	if (!len || len >= OSS_V4_SIGNED_HEADERS_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == ';' ||
		      s[i] == '_' || s[i] == '.'))
			return false;
	return true;
}

static bool hex64(const char *s, size_t len)
{
	if (len != 64)
		return false;
	for (size_t i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int oss_v4_header_parse(const char *value, struct oss_v4_auth *ret)
{
	struct oss_v4_auth a = { 0 };
	bool have_c = false, have_h = false, have_s = false;
	const char *p;

	if (!value || strncmp(value, "AWS4-HMAC-SHA256 ", 17) != 0)
		return -EINVAL;
	p = value + 17;
	while (*p) {
		size_t len;
		const char *eq;

		while (*p == ' ' || *p == ',')
			p++;
		if (!*p)
			break;
		len = strcspn(p, ",");
		eq = memchr(p, '=', len);
		if (!eq)
			return -EINVAL;
		{
			size_t kl = (size_t)(eq - p), vl = len - kl - 1;
			const char *v = eq + 1;

			while (vl && v[vl - 1] == ' ')
				vl--;
			if (kl == 10 && !memcmp(p, "Credential", 10) && !have_c) {
				if (credential_parse(v, vl, &a) < 0)
					return -EINVAL;
				have_c = true;
			} else if (kl == 13 && !memcmp(p, "SignedHeaders", 13) && !have_h) {
				if (!signed_headers_valid(v, vl))
					return -EINVAL;
				memcpy(a.signed_headers, v, vl);
				a.signed_headers[vl] = '\0';
				have_h = true;
			} else if (kl == 9 && !memcmp(p, "Signature", 9) && !have_s) {
				if (!hex64(v, vl))
					return -EINVAL;
				memcpy(a.signature, v, 64);
				a.signature[64] = '\0';
				have_s = true;
			} else {
				return -EINVAL;
			}
		}
		p += len;
	}
	if (!have_c || !have_h || !have_s)
		return -EINVAL;
	*ret = a;
	return 0;
}

int oss_v4_date_parse(const char *s, long long *ret)
{
	struct tm tm = { 0 };
	int y, mo, d, H, M, S, n = 0;

	if (!s || strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z' ||
	    sscanf(s, "%4d%2d%2dT%2d%2d%2dZ%n", &y, &mo, &d, &H, &M, &S, &n) != 6 || n != 16)
		return -EINVAL;
	for (int i = 0; i < 15; i++)
		if (i != 8 && (s[i] < '0' || s[i] > '9'))
			return -EINVAL;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || H > 23 || M > 59 || S > 60)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = H;
	tm.tm_min = M;
	tm.tm_sec = S;
	*ret = (long long)timegm(&tm);
	return 0;
}

int oss_v4_query_parse(const struct ecs_kvlist *q, struct oss_v4_auth *ret)
{
	struct oss_v4_auth a = { 0 };
	const char *alg = ecs_kvlist_get(q, "X-Amz-Algorithm"), *cred = ecs_kvlist_get(q, "X-Amz-Credential");
	const char *date = ecs_kvlist_get(q, "X-Amz-Date"), *exp = ecs_kvlist_get(q, "X-Amz-Expires");
	const char *sh = ecs_kvlist_get(q, "X-Amz-SignedHeaders"), *sig = ecs_kvlist_get(q, "X-Amz-Signature");
	long long t;

	if (!alg || strcmp(alg, "AWS4-HMAC-SHA256") != 0 || !cred || !date || !exp || !sh || !sig)
		return -EINVAL;
	if (credential_parse(cred, strlen(cred), &a) < 0 || !signed_headers_valid(sh, strlen(sh)) ||
	    !hex64(sig, strlen(sig)) || oss_v4_date_parse(date, &t) < 0 ||
	    ecs_parse_int64(exp, 1, OSS_V4_EXPIRES_MAX, &a.expires) < 0)
		return -EINVAL;
	snprintf(a.signed_headers, sizeof(a.signed_headers), "%s", sh);
	memcpy(a.signature, sig, 65);
	memcpy(a.amz_date, date, 17);
	*ret = a;
	return 0;
}

/* AWS's URI encoding: all but A-Za-z0-9-._~ as %XX (and '/' too unless keep_slash). */
static int enc(struct ecs_buf *b, const char *s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	int r = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p && !r; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		    *p == '.' || *p == '_' || *p == '~' || (keep_slash && *p == '/')) {
			r = ecs_buf_append(b, (const char *)p, 1, CANONICAL_MAX);
		} else {
			char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };

			r = ecs_buf_append(b, e, 3, CANONICAL_MAX);
		}
	}
	return r;
}

static int adds(struct ecs_buf *b, const char *s)
{
	return ecs_buf_append(b, s, strlen(s), CANONICAL_MAX);
}

struct qpair {
	char *k, *v;
};

static int qpair_cmp(const void *a, const void *b)
{
	const struct qpair *x = a, *y = b;
	int c = strcmp(x->k, y->k);

	return c ? c : strcmp(x->v, y->v);
}

static char *encoded(const char *s)
{
	struct ecs_buf b = { 0 };

	if (enc(&b, s, false) < 0 || ecs_buf_append(&b, "", 0, CANONICAL_MAX) < 0) {
		ecs_buf_free(&b);
		return NULL;
	}
	return b.data ? ecs_buf_steal(&b) : strdup("");
}

static int canonical_query(struct ecs_buf *b, const struct ecs_kvlist *q)
{
	size_t n = 0;
	struct qpair *v = calloc(q && q->n ? q->n : 1, sizeof(*v));
	int r = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; q && i < q->n; i++) {
		if (streq(q->items[i].key, "X-Amz-Signature"))
			continue;
		v[n].k = encoded(q->items[i].key);
		v[n].v = encoded(q->items[i].value);
		n++;
		if (!v[n - 1].k || !v[n - 1].v) {
			r = -ENOMEM;
			goto out;
		}
	}
	qsort(v, n, sizeof(*v), qpair_cmp);
	for (size_t i = 0; i < n && !r; i++) {
		if (i)
			r |= adds(b, "&");
		r |= adds(b, v[i].k);
		r |= adds(b, "=");
		r |= adds(b, v[i].v);
	}
out:
	for (size_t i = 0; i < n; i++) {
		free(v[i].k);
		free(v[i].v);
	}
	free(v);
	return r;
}

/* A header's value trimmed, runs of spaces as one. */
static int header_value(struct ecs_buf *b, const char *v)
{
	bool space = false;
	int r = 0;

	while (*v == ' ' || *v == '\t')
		v++;
	for (; *v && !r; v++) {
		if (*v == ' ' || *v == '\t') {
			space = true;
			continue;
		}
		if (space)
			r = adds(b, " ");
		space = false;
		r |= ecs_buf_append(b, v, 1, CANONICAL_MAX);
	}
	return r;
}

char *oss_v4_canonical_request(const struct oss_v4_request *rq)
{
	struct ecs_buf b = { 0 };
	const char *p = rq->signed_headers;
	int r = 0;

	r |= adds(&b, rq->method);
	r |= adds(&b, "\n");
	r |= enc(&b, rq->path, true);
	r |= adds(&b, "\n");
	r |= canonical_query(&b, rq->query);
	r |= adds(&b, "\n");
	while (*p && !r) {
		size_t len = strcspn(p, ";");
		char name[256];
		const char *v;

		if (!len || len >= sizeof(name)) {
			r = -EINVAL;
			break;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		v = ecs_kvlist_get_case(rq->headers, name);
		if (!v) {
			r = -ENOENT;
			break;
		}
		r |= adds(&b, name);
		r |= adds(&b, ":");
		r |= header_value(&b, v);
		r |= adds(&b, "\n");
		p += len;
		if (*p == ';')
			p++;
	}
	r |= adds(&b, "\n");
	r |= adds(&b, rq->signed_headers);
	r |= adds(&b, "\n");
	r |= adds(&b, rq->payload_hash);
	if (r) {
		ecs_buf_free(&b);
		return NULL;
	}
	return ecs_buf_steal(&b);
}

char *oss_v4_path_encode(const char *path)
{
	struct ecs_buf b = { 0 };

	if (enc(&b, path, true) < 0) {
		ecs_buf_free(&b);
		return NULL;
	}
	return ecs_buf_steal(&b);
}

void oss_v4_scope(const struct oss_v4_auth *a, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s/%s/aws4_request", a->date, a->region, a->service);
}

int oss_v4_signing_key(const char *secret, const struct oss_v4_auth *a, uint8_t key[32])
{
	char k0[160];
	uint8_t t[32];
	int r;

	if (snprintf(k0, sizeof(k0), "AWS4%s", secret) >= (int)sizeof(k0))
		return -EINVAL;
	r = ecs_hmac_sha256(k0, strlen(k0), a->date, strlen(a->date), t);
	r |= ecs_hmac_sha256(t, 32, a->region, strlen(a->region), t);
	r |= ecs_hmac_sha256(t, 32, a->service, strlen(a->service), t);
	r |= ecs_hmac_sha256(t, 32, "aws4_request", 12, key);
	explicit_bzero(k0, sizeof(k0));
	explicit_bzero(t, sizeof(t));
	return r ? -EIO : 0;
}

static int sign_sts(const uint8_t key[32], const char *sts, char out[65])
{
	uint8_t mac[32];

	if (ecs_hmac_sha256(key, 32, sts, strlen(sts), mac) < 0)
		return -EIO;
	ecs_hex_encode(mac, 32, out);
	return 0;
}

int oss_v4_sign(const uint8_t key[32], const char *amz_date, const char *scope, const char *canonical, char out[65])
{
	uint8_t h[32];
	char hh[65];
	_cleanup_free_ char *sts = NULL;

	if (ecs_sha256(canonical, strlen(canonical), h) < 0)
		return -EIO;
	ecs_hex_encode(h, 32, hh);
	sts = ecs_strdup_printf("AWS4-HMAC-SHA256\n%s\n%s\n%s", amz_date, scope, hh);
	if (!sts)
		return -ENOMEM;
	return sign_sts(key, sts, out);
}

int oss_v4_chunk_sign(const uint8_t key[32], const char *amz_date, const char *scope, const char *prev_sig,
		      const uint8_t data_sha256[32], char out[65])
{
	char hh[65];
	_cleanup_free_ char *sts = NULL;

	ecs_hex_encode(data_sha256, 32, hh);
	sts = ecs_strdup_printf("AWS4-HMAC-SHA256-PAYLOAD\n%s\n%s\n%s\n" EMPTY_SHA256 "\n%s", amz_date, scope, prev_sig, hh);
	if (!sts)
		return -ENOMEM;
	return sign_sts(key, sts, out);
}

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

/* "ak/date/region/service/aws4_request" (OSS: "…/aliyun_v4_request") */
static int credential_parse(const char *s, size_t len, struct oss_v4_auth *a)
{
	const char *term = a->oss ? "aliyun_v4_request" : "aws4_request";
	size_t tl = strlen(term);
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
	    lens[3] >= sizeof(a->service) || lens[4] != tl || memcmp(parts[4], term, tl) != 0)
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

static int header_parse(const char *value, bool oss, struct oss_v4_auth *ret)
{
	struct oss_v4_auth a = { .oss = oss };
	bool have_c = false, have_h = oss, have_s = false;
	const char *p, *hname = oss ? "AdditionalHeaders" : "SignedHeaders";

	if (!value || strncmp(value, oss ? "OSS4-HMAC-SHA256 " : "AWS4-HMAC-SHA256 ", 17) != 0)
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
			} else if (kl == strlen(hname) && !memcmp(p, hname, kl) && (oss ? !a.signed_headers[0] : !have_h)) {
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

int oss_v4_header_parse(const char *value, struct oss_v4_auth *ret)
{
	return header_parse(value, false, ret);
}

int oss_v4_header_parse_oss(const char *value, struct oss_v4_auth *ret)
{
	return header_parse(value, true, ret);
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

/* ali-oss sorts with JavaScript's localeCompare: letters before case. */
static int qpair_cmp_oss(const void *a, const void *b)
{
	const struct qpair *x = a, *y = b;
	int c = strcasecmp(x->k, y->k);

	return c ? c : -strcmp(x->k, y->k);
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

/* Every parameter but skip, encoded and sorted; oss: ali-oss's order, and an empty value
 * as the bare key unless empty_equals. */
static int canonical_query(struct ecs_buf *b, const struct ecs_kvlist *q, const char *skip, bool oss,
			   bool empty_equals)
{
	size_t n = 0;
	struct qpair *v = calloc(q && q->n ? q->n : 1, sizeof(*v));
	int r = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; q && i < q->n; i++) {
		if (streq(q->items[i].key, skip))
			continue;
		v[n].k = encoded(q->items[i].key);
		v[n].v = encoded(q->items[i].value);
		n++;
		if (!v[n - 1].k || !v[n - 1].v) {
			r = -ENOMEM;
			goto out;
		}
	}
	qsort(v, n, sizeof(*v), oss ? qpair_cmp_oss : qpair_cmp);
	for (size_t i = 0; i < n && !r; i++) {
		if (i)
			r |= adds(b, "&");
		r |= adds(b, v[i].k);
		if (!oss || empty_equals || *v[i].v) {
			r |= adds(b, "=");
			r |= adds(b, v[i].v);
		}
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
	r |= canonical_query(&b, rq->query, "X-Amz-Signature", false, false);
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
	snprintf(buf, size, "%s/%s/%s/%s", a->date, a->region, a->service, a->oss ? "aliyun_v4_request" : "aws4_request");
}

int oss_v4_signing_key(const char *secret, const struct oss_v4_auth *a, uint8_t key[32])
{
	const char *term = a->oss ? "aliyun_v4_request" : "aws4_request";
	char k0[160];
	uint8_t t[32];
	int r;

	if (snprintf(k0, sizeof(k0), "%s%s", a->oss ? "aliyun_v4" : "AWS4", secret) >= (int)sizeof(k0))
		return -EINVAL;
	r = ecs_hmac_sha256(k0, strlen(k0), a->date, strlen(a->date), t);
	r |= ecs_hmac_sha256(t, 32, a->region, strlen(a->region), t);
	r |= ecs_hmac_sha256(t, 32, a->service, strlen(a->service), t);
	r |= ecs_hmac_sha256(t, 32, term, strlen(term), key);
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

static int sign_alg(const char *alg, const uint8_t key[32], const char *amz_date, const char *scope,
		    const char *canonical, char out[65])
{
	uint8_t h[32];
	char hh[65];
	_cleanup_free_ char *sts = NULL;

	if (ecs_sha256(canonical, strlen(canonical), h) < 0)
		return -EIO;
	ecs_hex_encode(h, 32, hh);
	sts = ecs_strdup_printf("%s\n%s\n%s\n%s", alg, amz_date, scope, hh);
	if (!sts)
		return -ENOMEM;
	return sign_sts(key, sts, out);
}

int oss_v4_sign(const uint8_t key[32], const char *amz_date, const char *scope, const char *canonical, char out[65])
{
	return sign_alg("AWS4-HMAC-SHA256", key, amz_date, scope, canonical, out);
}

int oss_v4_sign_auth(const struct oss_v4_auth *a, const uint8_t key[32], const char *canonical, char out[65])
{
	char scope[160];

	oss_v4_scope(a, scope, sizeof(scope));
	return sign_alg(a->oss ? "OSS4-HMAC-SHA256" : "AWS4-HMAC-SHA256", key, a->amz_date, scope, canonical, out);
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

int oss_v4_query_parse_oss(const struct ecs_kvlist *q, struct oss_v4_auth *ret)
{
	struct oss_v4_auth a = { .oss = true };
	const char *ver = ecs_kvlist_get(q, "x-oss-signature-version"), *cred = ecs_kvlist_get(q, "x-oss-credential");
	const char *date = ecs_kvlist_get(q, "x-oss-date"), *exp = ecs_kvlist_get(q, "x-oss-expires");
	const char *ah = ecs_kvlist_get(q, "x-oss-additional-headers"), *sig = ecs_kvlist_get(q, "x-oss-signature");
	long long t;

	if (!ver || strcmp(ver, "OSS4-HMAC-SHA256") != 0 || !cred || !date || !exp || !sig)
		return -EINVAL;
	if (credential_parse(cred, strlen(cred), &a) < 0 || (ah && !signed_headers_valid(ah, strlen(ah))) ||
	    !hex64(sig, strlen(sig)) || oss_v4_date_parse(date, &t) < 0 ||
	    ecs_parse_int64(exp, 1, OSS_V4_EXPIRES_MAX, &a.expires) < 0)
		return -EINVAL;
	snprintf(a.signed_headers, sizeof(a.signed_headers), "%s", ah ? ah : "");
	memcpy(a.signature, sig, 65);
	memcpy(a.amz_date, date, 17);
	*ret = a;
	return 0;
}

/* Whether name (lower case) is among the ';'-separated list. */
static bool listed(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; *p;) {
		size_t len = strcspn(p, ";");

		if (len == n && !strncmp(p, name, n))
			return true;
		p += len;
		if (*p == ';')
			p++;
	}
	return false;
}

static int lower_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *oss_v4_canonical_request_oss(const struct oss_v4_oss_request *rq)
{
	struct ecs_buf b = { 0 };
	_cleanup_free_ char *uri = NULL;
	char **names = calloc(rq->headers->n + 1, sizeof(char *));
	const char *payload = ecs_kvlist_get_case(rq->headers, "x-oss-content-sha256");
	size_t n = 0;
	int r = 0;

	if (!names)
		return NULL;
	uri = *rq->bucket ? ecs_strdup_printf("/%s/%s", rq->bucket, rq->key) : strdup("/");
	r |= !uri ? -ENOMEM : 0;
	r |= adds(&b, rq->method);
	r |= adds(&b, "\n");
	if (uri)
		r |= enc(&b, uri, true);
	r |= adds(&b, "\n");
	r |= canonical_query(&b, rq->query, "x-oss-signature", true, rq->empty_equals);
	r |= adds(&b, "\n");
	/* The headers signed: content-type, content-md5, x-oss-*, and the additional ones. */
	for (size_t i = 0; i < rq->headers->n && !r; i++) {
		char *l = strdup(rq->headers->items[i].key);

		if (!l) {
			r = -ENOMEM;
			break;
		}
		for (char *c = l; *c; c++)
			*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
		if (streq(l, "content-type") || streq(l, "content-md5") || str_has_prefix(l, "x-oss-") ||
		    listed(rq->additional, l))
			names[n++] = l;
		else
			free(l);
	}
	if (n)
		qsort(names, n, sizeof(*names), lower_cmp);
	for (size_t i = 0; i < n && !r; i++) {
		const char *v = ecs_kvlist_get_case(rq->headers, names[i]);
		size_t vl;

		while (*v == ' ' || *v == '\t')
			v++;
		vl = strlen(v);
		while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
			vl--;
		r |= adds(&b, names[i]);
		r |= adds(&b, ":");
		r |= ecs_buf_append(&b, v, vl, CANONICAL_MAX);
		r |= adds(&b, "\n");
	}
	r |= adds(&b, "\n");
	r |= adds(&b, rq->additional);
	r |= adds(&b, "\n");
	r |= adds(&b, payload ? payload : "UNSIGNED-PAYLOAD");
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (r) {
		ecs_buf_free(&b);
		return NULL;
	}
	return ecs_buf_steal(&b);
}

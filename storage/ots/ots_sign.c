#include "ots_sign.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util.h"

static int cmp_kv(const void *a, const void *b)
{
	return strcmp(((const struct ecs_kv *)a)->key, ((const struct ecs_kv *)b)->key);
}

char *ots_sign_headers(const struct ecs_kvlist *headers)
{
	struct ecs_kvlist l = ECS_KVLIST_INIT;
	char *out = NULL, *p;
	size_t len = 1;

	for (size_t i = 0; i < headers->n; i++) {
		const char *k = headers->items[i].key, *v = headers->items[i].value;
		size_t vl;

		if (strncasecmp(k, "x-ots-", 6) != 0 || strcasecmp(k, "x-ots-signature") == 0)
			continue;
		while (*v == ' ' || *v == '\t')
			v++;
		vl = strlen(v);
		while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
			vl--;
		if (ecs_kvlist_addn(&l, k, strlen(k), v, vl) < 0)
			goto out;
		for (char *c = l.items[l.n - 1].key; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		len += strlen(k) + vl + 2;
	}
	if (l.n)
		qsort(l.items, l.n, sizeof(*l.items), cmp_kv);
	out = malloc(len);
	if (!out)
		goto out;
	p = out;
	*p = '\0';
	for (size_t i = 0; i < l.n; i++)
		p += sprintf(p, "%s%s:%s", i ? "\n" : "", l.items[i].key, l.items[i].value);
out:
	ecs_kvlist_clear(&l);
	return out;
}

char *ots_sign_request_string(const char *op, const struct ecs_kvlist *headers)
{
	_cleanup_free_ char *lines = ots_sign_headers(headers);

	return lines ? ecs_strdup_printf("/%s\nPOST\n\n%s\n", op, lines) : NULL;
}

int ots_sign_verify(const char *secret, const char *op, const struct ecs_kvlist *headers)
{
	const char *got = ecs_kvlist_get_case(headers, "x-ots-signature");
	_cleanup_free_ char *sts = NULL;
	char want[OTS_SIG_LEN + 1];
	int r;

	if (!got)
		return -ENOENT;
	if (!(sts = ots_sign_request_string(op, headers)))
		return -ENOMEM;
	if ((r = ecs_hmac_sha1_b64(secret, sts, want)) < 0)
		return r;
	return ecs_streq_ct(want, got) ? 0 : -EBADMSG;
}

char *ots_sign_response(const char *ak, const char *secret, const char *op, const struct ecs_kvlist *headers)
{
	_cleanup_free_ char *lines = ots_sign_headers(headers), *sts = NULL;
	char sig[OTS_SIG_LEN + 1];

	if (!lines || !(sts = ecs_strdup_printf("%s\n/%s", lines, op)) || ecs_hmac_sha1_b64(secret, sts, sig) < 0)
		return NULL;
	return ecs_strdup_printf("OTS %s:%s", ak, sig);
}

bool ots_instance_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n < 3 || n > 16 || name[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');

		if (!alpha && (i == 0 || ((c < '0' || c > '9') && c != '-')))
			return false;
	}
	return true;
}

void ots_sign_date(char buf[OTS_DATE_LEN])
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, 24, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, OTS_DATE_LEN - n, ".%03uZ", (unsigned)(ts.tv_nsec / 1000000) % 1000);
}

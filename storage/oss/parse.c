#include "parse.h"

#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "kv.h"
#include "utf8.h"
#include "util.h"

bool oss_bucket_name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n < OSS_BUCKET_MIN || n > OSS_BUCKET_MAX || name[0] == '-' || name[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') || name[i] == '-'))
			return false;
	return true;
}

int oss_key_check(const char *key)
{
	size_t n = key ? strlen(key) : 0;

	if (!n)
		return -EINVAL;
	if (n > OSS_KEY_MAX)
		return -ENAMETOOLONG;
	if (key[0] == '/' || key[0] == '\\')
		return -EINVAL;
	for (size_t i = 0; i < n;) {
		const unsigned char *s = (const unsigned char *)key + i;
		uint32_t cp;
		int l = ecs_utf8_next(s, &cp);

		if (l < 0 || (cp < 0x20 && cp != '\t') || cp == 0x7f)
			return -EINVAL;
		i += (size_t)l;
	}
	return 0;
}

static int parse_u64(const char *s, size_t len, uint64_t *ret)
{
	uint64_t v = 0;

	if (!len || len > 19)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*ret = v;
	return 0;
}

int oss_range_parse(const char *h, uint64_t size, uint64_t *ret_start, uint64_t *ret_len)
{
	const char *dash;
	uint64_t a, b;
	size_t n;

	if (!h || strncmp(h, "bytes=", 6) != 0)
		return 1;
	h += 6;
	n = strlen(h);
	dash = memchr(h, '-', n);
	if (!dash || strchr(h, ','))
		return 1;
	if (dash == h) { /* bytes=-N: the last N */
		if (parse_u64(dash + 1, n - 1, &b) < 0)
			return 1;
		if (!b || !size)
			return -ERANGE;
		if (b > size)
			b = size;
		*ret_start = size - b;
		*ret_len = b;
		return 0;
	}
	if (parse_u64(h, (size_t)(dash - h), &a) < 0)
		return 1;
	if (!dash[1]) {
		b = UINT64_MAX;
	} else {
		if (parse_u64(dash + 1, strlen(dash + 1), &b) < 0)
			return 1;
		if (b < a)
			return 1;
	}
	if (a >= size)
		return -ERANGE;
	if (b >= size)
		b = size - 1;
	*ret_start = a;
	*ret_len = b - a + 1;
	return 0;
}

static const char *const wdays[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
				      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

int oss_http_date_parse(const char *s, time_t *ret)
{
	char wd[4], mon[4], tail[8];
	int d, y, H, M, S, consumed = 0;
	struct tm tm = { 0 };
	int m = -1;

	if (!s || strlen(s) != 29)
		return -EINVAL;
	if (sscanf(s, "%3s, %2d %3s %4d %2d:%2d:%2d %3s%n", wd, &d, mon, &y, &H, &M, &S, tail, &consumed) != 8 ||
	    consumed != 29 || strcmp(tail, "GMT") != 0)
		return -EINVAL;
	for (int i = 0; i < 12; i++)
		if (streq(mon, months[i]))
			m = i;
	if (m < 0 || d < 1 || d > 31 || y < 1970 || y > 9999 || H > 23 || M > 59 || S > 60 || H < 0 || M < 0 || S < 0)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = m;
	tm.tm_mday = d;
	tm.tm_hour = H;
	tm.tm_min = M;
	tm.tm_sec = S;
	*ret = timegm(&tm);
	return 0;
}

void oss_http_date_format(time_t t, char buf[32])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, 32, "%s, %02d %s %04d %02d:%02d:%02d GMT", wdays[tm.tm_wday % 7], tm.tm_mday % 100,
		 months[tm.tm_mon % 12], (tm.tm_year + 1900) % 10000, tm.tm_hour % 100, tm.tm_min % 100, tm.tm_sec % 100);
}

void oss_iso_date_format(time_t t, char buf[32])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, 32, "%04d-%02d-%02dT%02d:%02d:%02d.000Z", (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100,
		 tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100, tm.tm_sec % 100);
}

char *oss_xml_escape(const char *s)
{
	struct ecs_buf b = { 0 };
	int r = 0;

	for (; *s && !r; s++) {
		switch (*s) {
		case '&': r = ecs_buf_append(&b, "&amp;", 5, SIZE_MAX); break;
		case '<': r = ecs_buf_append(&b, "&lt;", 4, SIZE_MAX); break;
		case '>': r = ecs_buf_append(&b, "&gt;", 4, SIZE_MAX); break;
		case '"': r = ecs_buf_append(&b, "&quot;", 6, SIZE_MAX); break;
		case '\'': r = ecs_buf_append(&b, "&apos;", 6, SIZE_MAX); break;
		default: r = ecs_buf_append(&b, s, 1, SIZE_MAX); break;
		}
	}
	if (r) {
		ecs_buf_free(&b);
		return NULL;
	}
	return ecs_buf_steal(&b);
}

static xmlDocPtr xml_read(const char *body, size_t len)
{
	if (!len || len > OSS_DELETE_MAX_BODY)
		return NULL;
	return xmlReadMemory(body, (int)len, NULL, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

static bool named(xmlNodePtr n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && streq((const char *)n->name, name);
}

/* A request body's root element when it is NAME (else NULL); *ret_doc the document to
 * free with xmlFreeDoc (NULL when the body is empty, too large or not XML). */
static xmlNodePtr xml_root(const char *body, size_t len, const char *name, xmlDocPtr *ret_doc)
{
	xmlNodePtr root;

	*ret_doc = xml_read(body, len);
	root = *ret_doc ? xmlDocGetRootElement(*ret_doc) : NULL;
	return root && named(root, name) ? root : NULL;
}

int oss_delete_body_parse(const char *body, size_t len, char ***ret_keys, size_t *ret_n, bool *ret_quiet)
{
	xmlDocPtr doc;
	xmlNodePtr root = xml_root(body, len, "Delete", &doc);
	char **keys = NULL;
	size_t n = 0;
	bool quiet = false;
	int r = -EINVAL;

	if (!root)
		goto out;
	keys = calloc(OSS_DELETE_MAX_KEYS, sizeof(*keys));
	if (!keys) {
		r = -ENOMEM;
		goto out;
	}
	for (xmlNodePtr c = root->children; c; c = c->next) {
		if (named(c, "Quiet")) {
			xmlChar *t = xmlNodeGetContent(c);

			quiet = t && streq((const char *)t, "true");
			xmlFree(t);
		} else if (named(c, "Object")) {
			xmlNodePtr k = c->children;
			xmlChar *t;

			while (k && !named(k, "Key"))
				k = k->next;
			if (!k || n >= OSS_DELETE_MAX_KEYS)
				goto out;
			t = xmlNodeGetContent(k);
			keys[n] = t ? strdup((const char *)t) : NULL;
			xmlFree(t);
			if (!keys[n++]) {
				r = -ENOMEM;
				goto out;
			}
		}
	}
	if (!n)
		goto out;
	*ret_keys = TAKE_PTR(keys);
	*ret_n = n;
	*ret_quiet = quiet;
	r = 0;
out:
	ecs_strv_free(keys, n);
	xmlFreeDoc(doc);
	return r;
}

const char *oss_acl_canonical(const char *s, bool allow_default)
{
	static const char *const acls[] = { "private", "public-read", "public-read-write" };

	for (size_t i = 0; s && i < ARRAY_SIZE(acls); i++)
		if (streq(s, acls[i]))
			return acls[i];
	if (allow_default && streq(s, "default"))
		return "default";
	return NULL;
}

static xmlNodePtr child(xmlNodePtr n, const char *name)
{
	for (n = n ? n->children : NULL; n && !named(n, name); n = n->next)
		;
	return n;
}

#define ALL_USERS "http://acs.amazonaws.com/groups/global/AllUsers"
#define GRANTEE_MAX 256

/* What S3 grants add up to, when a canned ACL makes them. */
struct grants {
	bool read, write;
};

/* One grant: the grantee by ID or by URI (the other NULL; both NULL for an e-mail) given
 * PERM. 0, or -EOPNOTSUPP when no canned ACL makes it. */
static int grant_add(struct grants *g, const char *owner, const char *id, const char *uri, const char *perm)
{
	if (id && !uri && streq(id, owner) && streq(perm, "FULL_CONTROL"))
		return 0;
	if (!uri || id || !streq(uri, ALL_USERS))
		return -EOPNOTSUPP;
	if (streq(perm, "READ"))
		g->read = true;
	else if (streq(perm, "WRITE"))
		g->write = true;
	else
		return -EOPNOTSUPP;
	return 0;
}

static int grants_canned(const struct grants *g, char ret[24])
{
	if (g->write && !g->read)
		return -EOPNOTSUPP;
	snprintf(ret, 24, "%s", g->write ? "public-read-write" : g->read ? "public-read" : "private");
	return 0;
}

/* S3's grants, each <Grant><Grantee>(<ID>|<URI>|<EmailAddress>)</Grantee><Permission>. */
static int s3_grants(xmlNodePtr list, const char *owner, char ret[24])
{
	struct grants g = { 0 };

	for (xmlNodePtr n = list->children; n; n = n->next) {
		xmlNodePtr who, perm;
		xmlChar *id = NULL, *uri = NULL, *p;
		int r;

		if (!named(n, "Grant"))
			continue;
		who = child(n, "Grantee");
		perm = child(n, "Permission");
		if (!who || !perm)
			return -EINVAL;
		if (child(who, "ID"))
			id = xmlNodeGetContent(child(who, "ID"));
		if (child(who, "URI"))
			uri = xmlNodeGetContent(child(who, "URI"));
		p = xmlNodeGetContent(perm);
		r = grant_add(&g, owner, (const char *)id, (const char *)uri, p ? (const char *)p : "");
		xmlFree(id);
		xmlFree(uri);
		xmlFree(p);
		if (r < 0)
			return r;
	}
	return grants_canned(&g, ret);
}

/* One header's list of grantees, `type="value"` (quotes optional) separated by commas, each
 * given PERM. */
static int grant_header(struct grants *g, const char *owner, const char *list, const char *perm)
{
	const char *p = list;
	bool any = false;

	for (;;) {
		char type[16], value[GRANTEE_MAX];
		size_t n;
		int r;

		p += strspn(p, " \t");
		if (!*p)
			return any ? 0 : -EINVAL;
		n = strcspn(p, "=");
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (!n || n >= sizeof(type) || !strchr(p, '='))
			return -EINVAL;
		memcpy(type, p, n);
		type[n] = '\0';
		p = strchr(p, '=') + 1;
		p += strspn(p, " \t");
		if (*p == '"') {
			n = strcspn(++p, "\"");
			if (p[n] != '"')
				return -EINVAL;
		} else {
			n = strcspn(p, ", \t");
		}
		if (!n || n >= sizeof(value))
			return -EINVAL;
		memcpy(value, p, n);
		value[n] = '\0';
		p += n + (p[n] == '"');
		p += strspn(p, " \t");
		if (*p && *p++ != ',')
			return -EINVAL;
		if (strcaseeq(type, "id"))
			r = grant_add(g, owner, value, NULL, perm);
		else if (strcaseeq(type, "uri"))
			r = grant_add(g, owner, NULL, value, perm);
		else if (strcaseeq(type, "emailAddress"))
			r = grant_add(g, owner, NULL, NULL, perm);
		else
			return -EINVAL;
		if (r < 0)
			return r;
		any = true;
	}
}

int oss_acl_grant_headers_parse(const struct ecs_kvlist *headers, const char *owner, char ret[24])
{
	static const struct {
		const char *header, *perm;
	} kinds[] = {
		{ "x-amz-grant-read", "READ" },		 { "x-amz-grant-write", "WRITE" },
		{ "x-amz-grant-read-acp", "READ_ACP" },	 { "x-amz-grant-write-acp", "WRITE_ACP" },
		{ "x-amz-grant-full-control", "FULL_CONTROL" },
	};
	struct grants g = { 0 };
	bool any = false;

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		const char *v = ecs_kvlist_get_case(headers, kinds[i].header);
		int r;

		if (!v)
			continue;
		any = true;
		if ((r = grant_header(&g, owner, v, kinds[i].perm)) < 0)
			return r;
	}
	return any ? grants_canned(&g, ret) : 1;
}

int oss_acl_body_parse(const char *body, size_t len, const char *owner, char ret[24])
{
	xmlDocPtr doc;
	xmlNodePtr root = xml_root(body, len, "AccessControlPolicy", &doc);
	xmlNodePtr list = child(root, "AccessControlList"), n = child(list, "Grant");
	int r = -EINVAL;

	if (n && (child(n, "Grantee") || child(n, "Permission"))) {
		r = s3_grants(list, owner, ret);
	} else if (n) {
		xmlChar *t = xmlNodeGetContent(n);
		const char *acl = t ? oss_acl_canonical((const char *)t, false) : NULL;

		if (acl) {
			snprintf(ret, 24, "%s", acl);
			r = 0;
		}
		xmlFree(t);
	}
	xmlFreeDoc(doc);
	return r;
}

static int part_parse(xmlNodePtr part, unsigned *ret_number, char ret_etag[33])
{
	bool have_n = false, have_e = false;

	for (xmlNodePtr c = part->children; c; c = c->next) {
		xmlChar *t;
		const char *v;
		size_t l;

		if (!named(c, "PartNumber") && !named(c, "ETag"))
			continue;
		t = xmlNodeGetContent(c);
		v = t ? (const char *)t : "";
		if (named(c, "PartNumber")) {
			long long n;

			have_n = ecs_parse_int64(v, 1, 10000, &n) == 0;
			*ret_number = (unsigned)n;
		} else {
			if (*v == '"')
				v++;
			l = strlen(v);
			if (l && v[l - 1] == '"')
				l--;
			have_e = l == 32 && strspn(v, "0123456789abcdefABCDEF") >= 32;
			for (size_t i = 0; have_e && i < 32; i++)
				ret_etag[i] = (char)((v[i] >= 'A' && v[i] <= 'F') ? v[i] + 32 : v[i]);
			ret_etag[32] = '\0';
		}
		xmlFree(t);
		if (!(named(c, "PartNumber") ? have_n : have_e))
			return -EINVAL;
	}
	return have_n && have_e ? 0 : -EINVAL;
}

int oss_complete_body_parse(const char *body, size_t len, size_t max, unsigned **ret_numbers, char (**ret_etags)[33],
			    size_t *ret_n)
{
	xmlDocPtr doc;
	xmlNodePtr root = xml_root(body, len, "CompleteMultipartUpload", &doc);
	unsigned *numbers = NULL;
	char (*etags)[33] = NULL;
	size_t n = 0;
	bool ordered = true;
	int r = -EINVAL;

	if (!root)
		goto out;
	if (!(numbers = calloc(max ? max : 1, sizeof(*numbers))) || !(etags = calloc(max ? max : 1, sizeof(*etags)))) {
		r = -ENOMEM;
		goto out;
	}
	for (xmlNodePtr c = root->children; c; c = c->next) {
		if (!named(c, "Part"))
			continue;
		if (n >= max || part_parse(c, &numbers[n], etags[n]) < 0)
			goto out;
		if (n && numbers[n] <= numbers[n - 1])
			ordered = false;
		n++;
	}
	if (!n)
		goto out;
	if (!ordered) {
		r = -EDOM;
		goto out;
	}
	*ret_numbers = TAKE_PTR(numbers);
	*ret_etags = TAKE_PTR(etags);
	*ret_n = n;
	r = 0;
out:
	free(numbers);
	free(etags);
	xmlFreeDoc(doc);
	return r;
}

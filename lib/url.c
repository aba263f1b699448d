#include "url.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static bool is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == '~';
}

static char *encode(const char *s, size_t len, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(len * 3 + 1), *p = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (is_unreserved(c) || (keep_slash && c == '/')) {
			*p++ = (char)c;
		} else {
			*p++ = '%';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
	*p = '\0';
	return out;
}

char *ecs_percent_encode_n(const char *s, size_t len)
{
	return encode(s, len, false);
}

char *ecs_percent_encode_path(const char *s)
{
	return encode(s, strlen(s), true);
}

char *ecs_percent_encode(const char *s)
{
	return ecs_percent_encode_n(s, strlen(s));
}

int ecs_percent_decode(const char *s, size_t len, bool plus_is_space, char **ret)
{
	_cleanup_free_ char *out = malloc(len + 1);
	char *p = out;

	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%') {
			int hi, lo;

			if (len - i < 3)
				return -EINVAL;
			hi = ecs_hex_digit(s[i + 1]);
			lo = ecs_hex_digit(s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -EINVAL;
			*p++ = (char)(hi << 4 | lo);
			i += 2;
		} else if (s[i] == '+' && plus_is_space) {
			*p++ = ' ';
		} else if (s[i] == '\0') {
			return -EINVAL;
		} else {
			*p++ = s[i];
		}
	}
	*p = '\0';
	*ret = TAKE_PTR(out);
	return 0;
}

int ecs_form_parse(const char *s, size_t len, size_t max_pairs, struct ecs_kvlist *l)
{
	size_t i = 0, pairs = 0;

	while (i < len) {
		size_t start = i, eq = (size_t)-1;
		_cleanup_free_ char *k = NULL, *v = NULL;
		int r;

		while (i < len && s[i] != '&') {
			if (s[i] == '=' && eq == (size_t)-1)
				eq = i;
			i++;
		}
		if (i > start) {
			size_t kend = eq == (size_t)-1 ? i : eq;

			if (++pairs > max_pairs)
				return -E2BIG;
			r = ecs_percent_decode(s + start, kend - start, true, &k);
			if (r < 0)
				return r;
			if (eq == (size_t)-1)
				r = ecs_percent_decode("", 0, true, &v);
			else
				r = ecs_percent_decode(s + eq + 1, i - eq - 1, true, &v);
			if (r < 0)
				return r;
			r = ecs_kvlist_add(l, k, v);
			if (r < 0)
				return r;
		}
		i++; /* skip '&' */
	}
	return 0;
}

char *ecs_form_build(const struct ecs_kvlist *l)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return NULL;
	for (size_t i = 0; i < l->n; i++) {
		_cleanup_free_ char *k = ecs_percent_encode(l->items[i].key);
		_cleanup_free_ char *v = ecs_percent_encode(l->items[i].value);

		if (!k || !v) {
			fclose(f);
			free(buf);
			return NULL;
		}
		fprintf(f, "%s%s=%s", i ? "&" : "", k, v);
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

#include "utf8.h"

#include <string.h>

int ecs_utf8_next(const unsigned char *s, uint32_t *ret_cp)
{
	static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	uint32_t cp;
	int n;

	if (s[0] < 0x80)
		n = 1, cp = s[0];
	else if ((s[0] & 0xe0) == 0xc0)
		n = 2, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, cp = s[0] & 0x07;
	else
		return -1;
	for (int i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*ret_cp = cp;
	return n;
}

bool ecs_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		unsigned char tail[5] = { 0 };
		const unsigned char *at = p + i;
		uint32_t cp;
		int n;

		if (!p[i]) {
			i++;
			continue;
		}
		if (len - i < 4) {
			memcpy(tail, p + i, len - i);
			at = tail;
		}
		n = ecs_utf8_next(at, &cp);
		if (n <= 0 || (size_t)n > len - i)
			return false;
		i += (size_t)n;
	}
	return true;
}

#include "id.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "util.h"

static const char *const prefixes[_ECS_ID_KIND_MAX] = {
	[ECS_ID_INSTANCE] = "i-",	 [ECS_ID_DISK] = "d-",		 [ECS_ID_SNAPSHOT] = "s-",
	[ECS_ID_IMAGE] = "m-",		 [ECS_ID_SECURITY_GROUP] = "sg-", [ECS_ID_LOAD_BALANCER] = "lb-",
	[ECS_ID_SNAPSHOT_POLICY] = "sp-", [ECS_ID_KEY_PAIR] = "kp-",
	[ECS_ID_DEPLOYMENT_SET] = "ds-",
};

/* RFC 4648 base32 alphabet, lower case: ids are case-sensitive and read well in shells. */
static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

const char *ecs_id_prefix(enum ecs_id_kind kind)
{
	return kind < _ECS_ID_KIND_MAX ? prefixes[kind] : NULL;
}

int ecs_id_new(enum ecs_id_kind kind, char buf[ECS_ID_MAX])
{
	const char *prefix = ecs_id_prefix(kind);
	uint8_t rnd[ECS_ID_RANDOM_LEN];
	size_t pl;
	int r;

	if (!prefix)
		return -EINVAL;
	r = ecs_random_bytes(rnd, sizeof(rnd));
	if (r < 0)
		return r;
	pl = strlen(prefix);
	memcpy(buf, prefix, pl);
	for (size_t i = 0; i < ECS_ID_RANDOM_LEN; i++)
		buf[pl + i] = b32[rnd[i] & 31];
	buf[pl + ECS_ID_RANDOM_LEN] = '\0';
	return 0;
}

bool ecs_id_valid(enum ecs_id_kind kind, const char *s)
{
	const char *prefix = ecs_id_prefix(kind);
	size_t pl;

	if (!prefix || !s || !str_has_prefix(s, prefix))
		return false;
	pl = strlen(prefix);
	if (strlen(s) != pl + ECS_ID_RANDOM_LEN)
		return false;
	for (size_t i = pl; s[i]; i++)
		if (!strchr(b32, s[i]))
			return false;
	return true;
}

int ecs_request_id_new(char buf[ECS_REQUEST_ID_LEN + 1])
{
	uint8_t b[16];
	int r = ecs_random_bytes(b, sizeof(b));

	if (r < 0)
		return r;
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	snprintf(buf, ECS_REQUEST_ID_LEN + 1,
		 "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X", b[0], b[1], b[2],
		 b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	return 0;
}

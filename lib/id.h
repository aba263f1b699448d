/* id.h: resource ids ("i-" + 20 base32 characters) and request ids (UUID v4, upper case,
 * as Alibaba Cloud's RequestId). Randomness comes from getrandom(). */
#ifndef ECS_ID_H
#define ECS_ID_H

#include <stdbool.h>
#include <stddef.h>

/* Resource kinds and their prefixes. */
enum ecs_id_kind {
	ECS_ID_INSTANCE,	/* i- */
	ECS_ID_DISK,		/* d- */
	ECS_ID_SNAPSHOT,	/* s- */
	ECS_ID_IMAGE,		/* m- */
	ECS_ID_SECURITY_GROUP,	/* sg- */
	ECS_ID_LOAD_BALANCER,	/* lb- */
	ECS_ID_SNAPSHOT_POLICY, /* sp- */
	ECS_ID_KEY_PAIR,	/* kp- */
	ECS_ID_DEPLOYMENT_SET,	/* ds- */
	_ECS_ID_KIND_MAX,
};

#define ECS_ID_RANDOM_LEN 20
/* Longest prefix (3) + random part + NUL. */
#define ECS_ID_MAX (3 + ECS_ID_RANDOM_LEN + 1)
#define ECS_REQUEST_ID_LEN 36

const char *ecs_id_prefix(enum ecs_id_kind kind);

/* Write a new id of kind into buf[ECS_ID_MAX]. */
int ecs_id_new(enum ecs_id_kind kind, char buf[ECS_ID_MAX]);

/* True when s is a well-formed id of kind (prefix, length, alphabet). */
bool ecs_id_valid(enum ecs_id_kind kind, const char *s);

/* Write a new request id "XXXXXXXX-XXXX-4XXX-YXXX-XXXXXXXXXXXX" into buf[37]. */
int ecs_request_id_new(char buf[ECS_REQUEST_ID_LEN + 1]);

#endif

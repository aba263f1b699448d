/* sign.h: the Alibaba Cloud RPC signature, version 1.0 (HMAC-SHA1).
 *
 *   C   = the parameters but Signature, sorted by key, each side percent-encoded, "k=v&..."
 *   STS = METHOD "&" enc("/") "&" enc(C)
 *   Signature = base64(HMAC-SHA1(secret + "&", STS))
 */
#ifndef ECS_SIGN_H
#define ECS_SIGN_H

#include "kv.h"

/* The string to sign for method (GET/POST) over params; "Signature" is left out. */
char *ecs_rpc_string_to_sign(const char *method, const struct ecs_kvlist *params);

/* Signature over params with secret; returns a new base64 string, NULL on failure. */
char *ecs_rpc_sign(const char *method, const struct ecs_kvlist *params, const char *secret);

/* 0 when params carry a "Signature" that matches; -EBADMSG when it does not; -ENOENT when
 * absent. On mismatch *ret_sts (if given) receives the server's string to sign. */
int ecs_rpc_verify(const char *method, const struct ecs_kvlist *params, const char *secret, char **ret_sts);

#endif

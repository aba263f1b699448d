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

/* ACS3-HMAC-SHA256 (the V3 signature current SDKs send in the Authorization header):
 *
 *   canonical = METHOD \n PATH \n CANONICAL_QUERY \n
 *               (name:value\n for each signed header, names lower case, sorted) \n
 *               signed;header;names \n HASHED_PAYLOAD (x-acs-content-sha256)
 *   string to sign = "ACS3-HMAC-SHA256\n" hex(sha256(canonical))
 *   Signature = hex(HMAC-SHA256(secret, string to sign))
 *   Authorization: ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=a;b,Signature=HEX
 *
 * headers are looked up case-insensitively; values are trimmed. */
#define ECS_ACS3_SCHEME "ACS3-HMAC-SHA256"

char *ecs_acs3_canonical_request(const char *method, const char *path, const struct ecs_kvlist *query,
				 const struct ecs_kvlist *headers, const char *signed_headers,
				 const char *hashed_payload);
/* hex signature (65 bytes with NUL) of a canonical request. */
int ecs_acs3_sign(const char *secret, const char *canonical, char out[65]);

struct ecs_acs3_auth {
	char access_key_id[128];
	char signed_headers[1024];
	char signature[65];
};
/* Parse an Authorization header value; -EINVAL when it is not a well-formed ACS3 one. */
int ecs_acs3_parse(const char *authorization, struct ecs_acs3_auth *ret);

/* Check a SignedHeaders list exactly: ';'-separated names of [a-z0-9-], sorted, no empty
 * item, no duplicate (-EINVAL otherwise), naming each of required (NULL-terminated;
 * -ENOENT when one is missing, *ret_missing (if given) pointing at it). */
int ecs_acs3_signed_headers_check(const char *signed_headers, const char *const *required,
				  const char **ret_missing);

#endif

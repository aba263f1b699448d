/* ots_sign.h: Tablestore's request and response signatures (HMAC-SHA1, base64).
 *
 *   request:  x-ots-signature = sign(secret, "/" OP "\nPOST\n\n" + LINES "\n")
 *   response: Authorization: OTS AK:sign(secret, LINES "\n/" OP)
 *
 * LINES are the x-ots-* headers but x-ots-signature, as "name:value" with the name in lower
 * case and the value trimmed, sorted by name and joined by "\n". */
#ifndef OTS_SIGN_H
#define OTS_SIGN_H

#include <stdbool.h>

#include "crypto.h"
#include "kv.h"

#define OTS_SIG_LEN ECS_HMAC_SHA1_B64_LEN

/* The canonical x-ots-* lines of headers (caller frees); NULL when out of memory. */
char *ots_sign_headers(const struct ecs_kvlist *headers);
/* The request's string to sign for operation op (caller frees). */
char *ots_sign_request_string(const char *op, const struct ecs_kvlist *headers);
/* 0 when headers carry an x-ots-signature that matches; -EBADMSG when it does not;
 * -ENOENT when there is none. */
int ots_sign_verify(const char *secret, const char *op, const struct ecs_kvlist *headers);
/* The response's Authorization value "OTS ak:sig" over its x-ots-* headers (caller frees). */
char *ots_sign_response(const char *ak, const char *secret, const char *op, const struct ecs_kvlist *headers);

/* Whether name is an instance name ([A-Za-z][A-Za-z0-9-]{2,15}, not ending in '-'): it is
 * part of the catalogue's object names and goes into the x-ots-instancename header. */
bool ots_instance_name_valid(const char *name);
/* Now as x-ots-date carries it: 2006-01-02T15:04:05.000Z. */
#define OTS_DATE_LEN 32
void ots_sign_date(char buf[OTS_DATE_LEN]);

#endif

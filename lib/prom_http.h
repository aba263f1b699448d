/* prom_http.h: serving /metrics (prom.h) over lib/http_server: the bearer-token guard and
 * the answer. */
#ifndef ECS_PROM_HTTP_H
#define ECS_PROM_HTTP_H

#include <stdbool.h>

#include "http_server.h"
#include "prom.h"

/* true when req carries "Authorization: Bearer <token>"; otherwise answers 401 (with
 * WWW-Authenticate) and returns false. */
bool ecs_prom_authorized(const struct ecs_http_request *req, struct ecs_http_response *resp, const char *token);
/* Answer 200 with text (malloc'd, taken), or 500 with why when text is NULL. */
void ecs_prom_reply(struct ecs_http_response *resp, char *text, const char *why);

#endif

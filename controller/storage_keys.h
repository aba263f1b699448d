/* storage_keys.h: the storage gateways' call for an account's AccessKey (GET
 * /storage/v1/keys/<AccessKeyId>, signed with the host key for host ""), so the pair an
 * account uses for ECS also works for OSS. Answers {"AccountId","AccessKeyId",
 * "AccessKeySecret"}; 404 for an unknown key, 401 for a bad signature. */
#ifndef CTL_STORAGE_KEYS_H
#define CTL_STORAGE_KEYS_H

#include "http_server.h"

void ctl_storage_keys_handle(const struct ecs_http_request *req, struct ecs_http_response *resp);

#endif

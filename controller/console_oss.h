/* console_oss.h: the web console's object storage pages, served by proxy (docs/console.md).
 *
 * The browser never holds a secret: the controller presigns each call to ecs-ossd ([oss]
 * endpoint) with the session's own AccessKey (image.h: ctl_oss_presign) and makes it
 * itself, so ecs-ossd checks that account's rights as for any client. Paths, after the
 * console's session, origin and CSRF checks (console.h), all POST:
 *
 *   oss/call      form Op = ListBuckets | PutBucket | DeleteBucket | ListObjects |
 *                 DeleteObject | GetObject, with Bucket, Key, Prefix, Delimiter, Marker:
 *                 ecs-ossd's answer (status, XML or the object's bytes) passed through
 *   oss/upload    ?Bucket=&Key= with the object's bytes as the body (at most
 *                 CTL_CONSOLE_OSS_UPLOAD_MAX, the API's body limit): PutObject
 *   oss/presign   form Bucket, Key: {"Url"} a GET link valid 15 minutes
 *
 * Without an [oss] endpoint every path answers 403 OperationDenied.OSSUnavailable. */
#ifndef CTL_CONSOLE_OSS_H
#define CTL_CONSOLE_OSS_H

#include "ctl.h"
#include "http_server.h"
#include "rpc.h"

#define CTL_CONSOLE_OSS_UPLOAD_MAX CTL_MAX_BODY
#define CTL_CONSOLE_OSS_DOWNLOAD_MAX (64u << 20)

/* path is what follows "oss/"; call->account is the session's. 0, or the call failed
 * (call->status set; the caller answers the failure). */
int ctl_console_oss(struct ctl_call *call, const char *path, const struct ecs_http_request *req,
		    struct ecs_http_response *resp);

#endif

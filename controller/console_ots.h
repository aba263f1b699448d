/* console_ots.h: the web console's tables pages, served by proxy (docs/console.md).
 *
 * As for object storage (console_oss.h), the browser never holds a secret: the controller
 * signs each call to ecs-otsd ([ots] endpoint) with the session's own AccessKey and makes
 * it, so ecs-otsd decides what that account sees (another account's tables do not exist
 * for it). One path, after the console's session, origin and CSRF checks (console.h), POST:
 *
 *   ots/call   form Op = ListTable | DescribeTable | GetRange, Instance (default
 *              "default"), Table, Next (GetRange: the Next of the page before):
 *              ListTable      {"TableNames": [...]}
 *              DescribeTable  {"TableName", "PrimaryKey": [{Name, Type}],
 *                              "DefinedColumns": [{Name, Type}], "TimeToLive",
 *                              "MaxVersions", "Indexes": [...]}
 *              GetRange       {"Rows": [{"PrimaryKey": [{Name, Value}],
 *                              "Columns": [{Name, Value, Timestamp}]}], "Next"}: a page of
 *                              at most CTL_CONSOLE_OTS_PAGE rows forward, the newest
 *                              version of each column; Next (absent at the end) is
 *                              ecs-otsd's next_start_primary_key, base64
 *
 * ecs-otsd's errors keep their HTTP status with its Code and Message as JSON. Without an
 * [ots] endpoint: 403 OperationDenied.OTSUnavailable. */
#ifndef CTL_CONSOLE_OTS_H
#define CTL_CONSOLE_OTS_H

#include "ctl.h"
#include "http_server.h"
#include "rpc.h"

#define CTL_CONSOLE_OTS_PAGE 20

/* path is what follows "ots/"; call->account is the session's. 0, or the call failed
 * (call->status set; the caller answers the failure). */
int ctl_console_ots(struct ctl_call *call, const char *path, const struct ecs_http_request *req,
		    struct ecs_http_response *resp);

#endif

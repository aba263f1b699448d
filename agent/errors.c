#include "errors.h"

#include <stdarg.h>
#include <stdio.h>

int agent_fail(struct agent_err *err, int rc, int status, const char *code, const char *fmt, ...)
{
	va_list ap;

	if (!err || err->status)
		return rc;
	err->status = status;
	snprintf(err->code, sizeof(err->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return rc;
}

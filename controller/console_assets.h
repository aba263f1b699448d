/* console_assets.h: the web console's files (console/), built into the controller by
 * scripts/embed_console.py, so no request path ever names a file on the host. */
#ifndef CTL_CONSOLE_ASSETS_H
#define CTL_CONSOLE_ASSETS_H

#include <stddef.h>

struct ctl_console_asset {
	const char *name; /* e.g. "app.js" */
	const char *type; /* Content-Type */
	const char *etag; /* quoted: a hash of the content */
	const unsigned char *data;
	size_t len;
};

extern const struct ctl_console_asset ctl_console_assets[];
extern const size_t ctl_console_n_assets;

#endif

/* run.c: one command line, from the words to the exit status (see run.h). */
#include "run.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "client.h"
#include "ecsctl.h"
#include "verbs.h"

int ecsctl_main(struct ecsctl *ctx, int argc, char **argv)
{
	struct ecsctl_args a;
	int r;

	r = ecsctl_args_parse(ctx, argc, argv, &a);
	if (r < 0)
		return ecsctl_exit_status(r);
	if (!ctx->output_set)
		ctx->output = ctx->out_tty ? ECSCTL_OUTPUT_TABLE : ECSCTL_OUTPUT_TEXT;

	if (a.version) {
		fprintf(ctx->out, "ecsctl %s (ECS API %s)\n", ECSCTL_VERSION, ECSCTL_API_VERSION);
		r = 0;
	} else if (a.help) {
		if (a.verb)
			ecsctl_help_verb(ctx->out, a.verb);
		else if (a.group)
			ecsctl_help_group(ctx->out, a.group);
		else
			ecsctl_help_overview(ctx->out);
		r = 0;
	} else if (!a.verb) {
		if (a.group) {
			fprintf(ctx->err, "ecsctl: '%s' needs a command\n\n", a.group);
			ecsctl_help_group(ctx->err, a.group);
		} else {
			ecsctl_help_overview(ctx->err);
		}
		r = -EINVAL;
	} else {
		r = ecsctl_verb_run(ctx, a.verb, &a);
	}
	ecsctl_args_clear(&a);
	/* Output lost (a full disk, a closed pipe) must not pass for success in a script. */
	if ((fflush(ctx->out) != 0 || ferror(ctx->out)) && r >= 0)
		r = ecsctl_fail(ctx, -EIO, "cannot write the output: %s", strerror(errno));
	fflush(ctx->err);
	if (r >= 0 && ctx->exit_status)
		return ctx->exit_status;
	return ecsctl_exit_status(r);
}

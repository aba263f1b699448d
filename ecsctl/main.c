/* ecsctl: the command line for the ECS API of ecs-controller. See docs/ecsctl.md. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ecsctl.h"
#include "run.h"
#include "verbs.h"

int main(int argc, char **argv)
{
	struct ecsctl ctx;
	int status;

	ecsctl_init(&ctx, stdout, stderr);
	ctx.out_tty = isatty(STDOUT_FILENO);
	ctx.err_tty = isatty(STDERR_FILENO);
	ctx.in_tty = isatty(STDIN_FILENO);
	if (argc > 1 && strcmp(argv[1], "__complete") == 0) {
		/* For ecsctl.bash: the candidates for the words typed so far. */
		ecsctl_complete(&ctx, stdout, argc - 2, argv + 2);
		return 0;
	}
	status = ecsctl_main(&ctx, argc, argv);
	ecsctl_done(&ctx);
	return status;
}

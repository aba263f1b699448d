/* run.h: one command line, the top of ecsctl: parse the words (args.h), run the verb
 * (verbs.h) or print help or the version, check that the output was written, and map the
 * result to the process exit status (ecsctl.h says which). */
#ifndef ECSCTL_RUN_H
#define ECSCTL_RUN_H

struct ecsctl;

/* Run the command line argv[1..argc-1]; returns the exit status. */
int ecsctl_main(struct ecsctl *ctx, int argc, char **argv);

#endif

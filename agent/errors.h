/* errors.h: an operation's failure as the agent API reports it: HTTP status, a code and a
 * sentence. Operations return a negative errno and fill one of these. */
#ifndef AGENT_ERRORS_H
#define AGENT_ERRORS_H

struct agent_err {
	int status;
	char code[64];
	char message[256];
};

/* Fill err (when not already filled) and return rc. */
int agent_fail(struct agent_err *err, int rc, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

#endif

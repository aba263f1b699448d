/* wait.h: waiting for resources to reach a status (--wait, `ecsctl wait`).
 *
 * A watch describes how to look at one kind of resource: the Describe action, the
 * parameter that selects ids, where the list and the status are. ecsctl_wait_for() asks
 * at once, then every poll interval (1 s growing to 5 s), until every id has the target
 * status (compared without case), or none is listed any more when the target is NULL
 * (deletion). A status in the watch's failed list ends the wait with an error (1); the
 * time running out ends it with -ETIME (exit 3). While it waits, a terminal's stderr shows
 * one progress line, rewritten in place; a pipe shows nothing. Read-only calls, so a
 * dropped connection is retried (client.h). */
#ifndef ECSCTL_WAIT_H
#define ECSCTL_WAIT_H

#include <stdbool.h>
#include <stddef.h>

struct ecsctl;

#define ECSCTL_WAIT_TIMEOUT_S 600

struct ecsctl_watch {
	const char *kind;	 /* "instance", for messages */
	const char *action;	 /* "DescribeInstances" */
	const char *ids_param;	 /* "InstanceIds" */
	bool ids_comma;		 /* the ids go as "a,b" (DescribeImages ImageId), not '["a","b"]' */
	const char *outer, *inner; /* "Instances", "Instance" */
	const char *id_key;	 /* "InstanceId" */
	const char *status_key;	 /* "Status" */
	const char *extra_param, *extra_value; /* one more parameter (DescribeImages: every Status) */
	const char *const *failed; /* statuses that end the wait in error; NULL-terminated or NULL */
};

extern const struct ecsctl_watch ecsctl_watch_instance;
extern const struct ecsctl_watch ecsctl_watch_disk;
extern const struct ecsctl_watch ecsctl_watch_snapshot;
extern const struct ecsctl_watch ecsctl_watch_image;

/* Wait until the n ids (at most 100) reach status (NULL: are gone), for timeout_s. */
int ecsctl_wait_for(struct ecsctl *ctx, const struct ecsctl_watch *w, const char *const *ids, size_t n,
		    const char *status, long timeout_s);

#endif

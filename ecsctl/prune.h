/* prune.h: which snapshots `ecsctl snapshot prune --disk D --keep N` deletes.
 *
 * Only the accomplished snapshots of disk D count. They are ordered newest first by
 * CreationTime, then by SnapshotId (so equal times order the same way every run); the
 * first N stay and the rest are deleted, except those an image was made from (Usage
 * "image" or "image_disk": ECS refuses to delete them), which stay and are reported.
 * Never touched: progressing and failed snapshots, snapshots of another disk (a server
 * that ignored the DiskId filter must not cost other disks their snapshots), and
 * snapshots whose CreationTime cannot be read. A snapshot listed twice (pages read while
 * snapshots come and go) counts once. The strings point into the snapshots'
 * JSON, which must outlive the result. */
#ifndef ECSCTL_PRUNE_H
#define ECSCTL_PRUNE_H

#include <json-c/json.h>
#include <stddef.h>

struct ecsctl_prune {
	const char **keep;	/* newest first */
	size_t n_keep;
	const char **remove;	/* newest first */
	size_t n_remove;
	const char **in_use;	/* would be removed, but an image uses them */
	size_t n_in_use;
};

int ecsctl_prune_select(struct json_object *snapshots, const char *disk_id, size_t keep, struct ecsctl_prune *ret);
void ecsctl_prune_clear(struct ecsctl_prune *p);

#endif

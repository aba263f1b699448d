/* rbd_import.h: an image file written into an RBD image by the agent itself, through
 * librbd on the agent's own cluster connection: the file's data extents (qemu-img map) read
 * straight from the file and written with several asynchronous writes in flight, holes and
 * all-zero blocks skipped (a new RBD image reads as zeros). No qemu-img convert process with
 * a cluster connection of its own. Files whose data cannot be read in place (compressed or
 * encrypted clusters, a backing file) are refused with -ENOTSUP: the caller converts those. */
#ifndef AGENT_RBD_IMPORT_H
#define AGENT_RBD_IMPORT_H

#include <rbd/librbd.h>
#include <stddef.h>
#include <stdint.h>

struct agent_disk_extent {
	uint64_t start;	 /* in the virtual disk */
	uint64_t length;
	uint64_t offset; /* in the file */
};

struct agent_disk_map {
	uint64_t vsize; /* the virtual disk's size */
	struct agent_disk_extent *data; /* the extents holding data, in order */
	size_t n;
};

void agent_disk_map_clear(struct agent_disk_map *m);
/* `qemu-img map --output=json` output to a map; -ENOTSUP when a data extent has no offset in
 * the file itself (compressed, encrypted, or in a backing file), -EIO when it is malformed. */
int agent_disk_map_parse(const char *json, size_t len, struct agent_disk_map *m);
/* The map of FILE (one qemu-img map). */
int agent_disk_map_file(const char *file, struct agent_disk_map *m);
/* The virtual size in FILE's qcow2 header (no process: read while qemu-img maps it);
 * -ENOTSUP when FILE is not qcow2. */
int agent_disk_qcow2_size(const char *file, uint64_t *ret);
/* The map's data from FILE into IMG (at least m->vsize large, zeros where nothing is
 * written), flushed. */
int agent_rbd_write_map(rbd_image_t img, const char *file, const struct agent_disk_map *m);

#endif

/* disk.h: qcow2 files for instance disks, through qemu-img (lib/cmd.h). Every file is
 * made under a temporary name and renamed into place, so a crash leaves either no disk or
 * a whole one (the temporary is collected as an orphan). */
#ifndef AGENT_DISK_H
#define AGENT_DISK_H

#include <stdbool.h>

#define AGENT_GIB (1024ULL * 1024 * 1024)

/* An overlay on backing (absolute path, qcow2) of size bytes. */
int agent_disk_create_overlay(const char *path, const char *backing, unsigned long long size);
/* An empty qcow2 of size bytes. */
int agent_disk_create_empty(const char *path, unsigned long long size);
/* A disk with the content of src (a snapshot); with base, an overlay holding only what
 * differs from base (so the disk stays small and independent of src); grown to size. */
int agent_disk_create_from(const char *path, const char *src, const char *base, unsigned long long size);
/* A standalone copy (no backing file) of src. */
int agent_disk_flatten(const char *src, const char *dst);
/* Grow (never shrink) a disk that no running guest holds. */
int agent_disk_grow(const char *path, unsigned long long size);
/* Virtual size in bytes (works while a guest holds the image). */
int agent_disk_virtual_size(const char *path, unsigned long long *ret);

#endif

/* storage_rados.h: a gateway's connection to the cluster: its ceph.conf, its cephx user and
 * keyring (empty: keys/ceph.USER.keyring beside ceph.conf, as scripts/ceph.sh writes them),
 * and one pool. */
#ifndef STORAGE_RADOS_H
#define STORAGE_RADOS_H

#include <rados/librados.h>
#include <stdbool.h>

/* 0 with *ret_cluster and *ret_io; a negative errno, logged, otherwise (nothing left open). */
int storage_rados_open(const char *conf, const char *user, const char *keyring, const char *pool,
		       rados_t *ret_cluster, rados_ioctx_t *ret_io);
/* Runs op on oid: its result, or the failure prval (the op's one step's, given to op) reports. */
int storage_read_op(rados_ioctx_t io, rados_read_op_t op, const char *oid, const int *prval);
/* Creates oid, empty: -EEXIST when it exists and exclusive is set, else 0 or a negative errno. */
int storage_create_object(rados_ioctx_t io, const char *oid, bool exclusive);
/* Accepts a NULL cluster. */
void storage_rados_close(rados_t cluster, rados_ioctx_t io);

#endif

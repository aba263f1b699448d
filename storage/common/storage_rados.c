#include "storage_rados.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

int storage_rados_open(const char *conf, const char *user, const char *keyring, const char *pool,
		       rados_t *ret_cluster, rados_ioctx_t *ret_io)
{
	_cleanup_free_ char *dir = strdup(conf), *kr = NULL;
	rados_t cluster = NULL;
	rados_ioctx_t io = NULL;
	char *slash;
	int r;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	kr = *keyring ? strdup(keyring) : ecs_strdup_printf("%s/keys/ceph.%s.keyring", slash ? dir : ".", user);
	if (!kr)
		return -ENOMEM;
	if ((r = rados_create2(&cluster, "ceph", user, 0)) < 0) {
		log_error("cannot make a cluster handle", "user=%s error=%s", user, strerror(-r));
		return r;
	}
	if ((r = rados_conf_read_file(cluster, conf)) < 0 || (r = rados_conf_set(cluster, "keyring", kr)) < 0 ||
	    (r = rados_connect(cluster)) < 0) {
		log_error("cannot connect to the cluster", "conf=%s user=%s error=%s", conf, user, strerror(-r));
		goto fail;
	}
	if ((r = rados_ioctx_create(cluster, pool, &io)) < 0) {
		log_error("cannot open the pool", "pool=%s error=%s", pool, strerror(-r));
		goto fail;
	}
	*ret_cluster = cluster;
	*ret_io = io;
	return 0;
fail:
	rados_shutdown(cluster);
	return r;
}

void storage_rados_close(rados_t cluster, rados_ioctx_t io)
{
	if (io)
		rados_ioctx_destroy(io);
	if (cluster)
		rados_shutdown(cluster);
}

int storage_read_op(rados_ioctx_t io, rados_read_op_t op, const char *oid, const int *prval)
{
	int r = rados_read_op_operate(op, io, oid, 0);

	return r >= 0 && *prval < 0 ? *prval : r;
}

int storage_create_object(rados_ioctx_t io, const char *oid, bool exclusive)
{
	rados_write_op_t op = rados_create_write_op();
	int r;

	if (!op)
		return -ENOMEM;
	rados_write_op_create(op, exclusive ? LIBRADOS_CREATE_EXCLUSIVE : LIBRADOS_CREATE_IDEMPOTENT, NULL);
	r = rados_write_op_operate(op, io, oid, NULL, 0);
	rados_release_write_op(op);
	return r;
}

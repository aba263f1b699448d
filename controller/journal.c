#include "journal.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

#define BATCH_ENTRIES 1024
#define BATCH_BYTES (4u << 20)

enum { PENDING, READY, CANCELLED };

struct jentry {
	uint64_t seq;
	char *data; /* header + changeset */
	size_t len;
	int state;
	struct jentry *next;
};

struct ctl_journal {
	rados_ioctx_t io;
	char *oid;
	/* the writer */
	pthread_mutex_t lock;
	pthread_cond_t work, done;
	pthread_t thread;
	bool running, stopping;
	uint64_t epoch, next_seq, durable;
	int schema;
	int failed;
	struct jentry *head, *tail;
	void (*on_failure)(void *arg, int err);
	void *on_failure_arg;
};

static void epoch_text(uint64_t epoch, char out[24])
{
	snprintf(out, 24, "%020" PRIu64, epoch);
}

static void seq_key(uint64_t seq, char out[24])
{
	snprintf(out, 24, "%020" PRIu64, seq);
}

int ctl_journal_open(rados_t cluster, const char *pool, const char *oid, struct ctl_journal **ret)
{
	struct ctl_journal *j = calloc(1, sizeof(*j));
	int r;

	if (!j)
		return -ENOMEM;
	j->oid = strdup(oid);
	r = j->oid ? rados_ioctx_create(cluster, pool, &j->io) : -ENOMEM;
	if (r < 0) {
		free(j->oid);
		free(j);
		return r;
	}
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->work, NULL);
	pthread_cond_init(&j->done, NULL);
	*ret = j;
	return 0;
}

void ctl_journal_close(struct ctl_journal *j)
{
	if (!j)
		return;
	ctl_journal_writer_stop(j);
	rados_ioctx_destroy(j->io);
	pthread_cond_destroy(&j->work);
	pthread_cond_destroy(&j->done);
	pthread_mutex_destroy(&j->lock);
	free(j->oid);
	free(j);
}

rados_ioctx_t ctl_journal_ioctx(struct ctl_journal *j)
{
	return j->io;
}

/* ---- the head (xattrs) ---- */

static void copy_attr(const char *val, size_t len, char *out, size_t size)
{
	snprintf(out, size, "%.*s", (int)len, val);
}

int ctl_journal_head(struct ctl_journal *j, struct ctl_journal_head *h)
{
	rados_read_op_t op = rados_create_read_op();
	rados_xattrs_iter_t it = NULL;
	int rval = 0, r;

	memset(h, 0, sizeof(*h));
	rados_read_op_getxattrs(op, &it, &rval);
	r = rados_read_op_operate(op, j->io, j->oid, 0);
	rados_release_read_op(op);
	if (r < 0)
		return r;
	for (;;) {
		const char *name = NULL, *val = NULL;
		char num[32];
		size_t len = 0;

		if (rados_getxattrs_next(it, &name, &val, &len) < 0 || !name)
			break;
		copy_attr(val, len, num, sizeof(num));
		if (streq(name, "id"))
			copy_attr(val, len, h->id, sizeof(h->id));
		else if (streq(name, "owner"))
			copy_attr(val, len, h->owner, sizeof(h->owner));
		else if (streq(name, "endpoint"))
			copy_attr(val, len, h->endpoint, sizeof(h->endpoint));
		else if (streq(name, "epoch"))
			h->epoch = strtoull(num, NULL, 10);
		else if (streq(name, "beat"))
			h->beat = strtoull(num, NULL, 10);
		else if (streq(name, "snap"))
			h->snap_seq = strtoull(num, NULL, 10);
	}
	rados_getxattrs_end(it);
	return h->epoch ? 0 : -EBADMSG;
}

static void set_num(rados_write_op_t op, const char *name, uint64_t v)
{
	char t[24];

	epoch_text(v, t);
	rados_write_op_setxattr(op, name, t, strlen(t));
}

int ctl_journal_create(struct ctl_journal *j, const struct ctl_journal_head *h)
{
	rados_write_op_t op = rados_create_write_op();
	int r;

	rados_write_op_create(op, LIBRADOS_CREATE_EXCLUSIVE, NULL);
	rados_write_op_setxattr(op, "id", h->id, strlen(h->id));
	set_num(op, "epoch", 1);
	set_num(op, "beat", 0);
	set_num(op, "snap", h->snap_seq);
	rados_write_op_setxattr(op, "owner", h->owner, strlen(h->owner));
	rados_write_op_setxattr(op, "endpoint", h->endpoint, strlen(h->endpoint));
	r = rados_write_op_operate(op, j->io, j->oid, NULL, 0);
	rados_release_write_op(op);
	return r;
}

/* A write operation guarded by the epoch: nothing of it happens unless the object's epoch
 * is `epoch` (-ECANCELED otherwise). */
static rados_write_op_t guarded_op(uint64_t epoch)
{
	rados_write_op_t op = rados_create_write_op();
	char t[24];

	epoch_text(epoch, t);
	rados_write_op_cmpxattr(op, "epoch", LIBRADOS_CMPXATTR_OP_EQ, t, strlen(t));
	return op;
}

int ctl_journal_takeover(struct ctl_journal *j, uint64_t old_epoch, const char *owner, const char *endpoint)
{
	rados_write_op_t op = guarded_op(old_epoch);
	int r;

	set_num(op, "epoch", old_epoch + 1);
	set_num(op, "beat", 0);
	rados_write_op_setxattr(op, "owner", owner, strlen(owner));
	rados_write_op_setxattr(op, "endpoint", endpoint, strlen(endpoint));
	r = rados_write_op_operate(op, j->io, j->oid, NULL, 0);
	rados_release_write_op(op);
	return r;
}

int ctl_journal_renew(struct ctl_journal *j, uint64_t epoch, uint64_t beat, uint64_t snap_seq)
{
	rados_write_op_t op = guarded_op(epoch);
	int r;

	set_num(op, "beat", beat);
	if (snap_seq)
		set_num(op, "snap", snap_seq);
	r = rados_write_op_operate(op, j->io, j->oid, NULL, 0);
	rados_release_write_op(op);
	return r;
}

int ctl_journal_trim(struct ctl_journal *j, uint64_t epoch, uint64_t upto)
{
	rados_write_op_t op = guarded_op(epoch);
	char end[24];
	int r;

	seq_key(upto + 1, end); /* the range is [begin, end) */
	rados_write_op_omap_rm_range2(op, "", 0, end, strlen(end));
	r = rados_write_op_operate(op, j->io, j->oid, NULL, 0);
	rados_release_write_op(op);
	return r;
}

int ctl_journal_read(struct ctl_journal *j, uint64_t after, unsigned max, ctl_journal_entry_cb cb, void *arg)
{
	rados_read_op_t op = rados_create_read_op();
	rados_omap_iter_t it = NULL;
	unsigned char more = 0;
	char start[24];
	int rval = 0, r, n = 0;

	seq_key(after, start);
	rados_read_op_omap_get_vals2(op, start, "", max, &it, &more, &rval);
	r = rados_read_op_operate(op, j->io, j->oid, 0);
	rados_release_read_op(op);
	if (r < 0)
		return r;
	if (rval < 0) {
		rados_omap_get_end(it);
		return rval;
	}
	for (;;) {
		char *key = NULL, *val = NULL;
		size_t len = 0;

		if (rados_omap_get_next(it, &key, &val, &len) < 0 || !key)
			break;
		r = cb(arg, strtoull(key, NULL, 10), val, len);
		if (r < 0) {
			rados_omap_get_end(it);
			return r;
		}
		n++;
	}
	rados_omap_get_end(it);
	return n;
}

/* ---- group commit ---- */

static void fail_locked(struct ctl_journal *j, int err)
{
	if (!j->failed)
		j->failed = err < 0 ? err : -EIO;
	pthread_cond_broadcast(&j->done);
}

static int write_batch(struct ctl_journal *j, struct jentry *first, size_t n)
{
	char (*keys)[24] = calloc(n, sizeof(*keys));
	const char **kp = calloc(n, sizeof(*kp)), **vp = calloc(n, sizeof(*vp));
	size_t *lens = calloc(n, sizeof(*lens));
	rados_write_op_t op;
	struct jentry *e = first;
	int r = -ENOMEM;

	if (keys && kp && vp && lens) {
		op = guarded_op(j->epoch);
		for (size_t i = 0; i < n; i++, e = e->next) {
			seq_key(e->seq, keys[i]);
			kp[i] = keys[i];
			vp[i] = e->data;
			lens[i] = e->len;
		}
		rados_write_op_omap_set(op, kp, vp, lens, n);
		r = rados_write_op_operate(op, j->io, j->oid, NULL, 0);
		rados_release_write_op(op);
	}
	free(keys);
	free(kp);
	free(vp);
	free(lens);
	return r;
}

static void *writer_main(void *arg)
{
	struct ctl_journal *j = arg;

	pthread_mutex_lock(&j->lock);
	while (!j->stopping && !j->failed) {
		struct jentry *first = j->head, *last = NULL, *e;
		size_t n = 0, bytes = 0;
		int r;

		for (e = first; e && e->state != PENDING && n < BATCH_ENTRIES && bytes < BATCH_BYTES; e = e->next) {
			last = e;
			n++;
			bytes += e->len;
		}
		if (!n) {
			pthread_cond_wait(&j->work, &j->lock);
			continue;
		}
		pthread_mutex_unlock(&j->lock);
		r = write_batch(j, first, n);
		pthread_mutex_lock(&j->lock);
		if (r < 0) {
			log_error("controller journal: append failed: stepping down", "epoch=%" PRIu64 " seq=%" PRIu64
				  " error=\"%s\"", j->epoch, first->seq, strerror(-r));
			fail_locked(j, r);
			break;
		}
		__atomic_store_n(&j->durable, last->seq, __ATOMIC_RELEASE);
		j->head = last->next;
		if (!j->head)
			j->tail = NULL;
		last->next = NULL;
		for (e = first; e;) {
			struct jentry *next = e->next;

			free(e->data);
			free(e);
			e = next;
		}
		pthread_cond_broadcast(&j->done);
	}
	pthread_mutex_unlock(&j->lock);
	if (j->failed && j->on_failure)
		j->on_failure(j->on_failure_arg, j->failed);
	return NULL;
}

int ctl_journal_writer_start(struct ctl_journal *j, uint64_t epoch, uint64_t next_seq, int schema)
{
	int r;

	pthread_mutex_lock(&j->lock);
	j->epoch = epoch;
	j->next_seq = next_seq;
	j->durable = next_seq - 1;
	j->schema = schema;
	j->failed = 0;
	j->stopping = false;
	pthread_mutex_unlock(&j->lock);
	r = -pthread_create(&j->thread, NULL, writer_main, j);
	if (r == 0)
		j->running = true;
	return r;
}

void ctl_journal_writer_stop(struct ctl_journal *j)
{
	if (!j->running)
		return;
	pthread_mutex_lock(&j->lock);
	j->stopping = true;
	pthread_cond_signal(&j->work);
	pthread_mutex_unlock(&j->lock);
	pthread_join(j->thread, NULL);
	j->running = false;
	pthread_mutex_lock(&j->lock);
	fail_locked(j, -ESHUTDOWN);
	while (j->head) {
		struct jentry *e = j->head;

		j->head = e->next;
		free(e->data);
		free(e);
	}
	j->tail = NULL;
	pthread_mutex_unlock(&j->lock);
}

int64_t ctl_journal_submit(struct ctl_journal *j, const void *changeset, size_t len)
{
	struct jentry *e = calloc(1, sizeof(*e));
	int64_t seq;

	if (!e || !(e->data = malloc(CTL_JOURNAL_HDR + len))) {
		free(e);
		return -ENOMEM;
	}
	e->len = CTL_JOURNAL_HDR + len;
	if (len)
		memcpy(e->data + CTL_JOURNAL_HDR, changeset, len);
	pthread_mutex_lock(&j->lock);
	if (j->failed || !j->running) {
		int r = j->failed ? j->failed : -ESHUTDOWN;

		pthread_mutex_unlock(&j->lock);
		free(e->data);
		free(e);
		return r;
	}
	for (int i = 0; i < 8; i++)
		e->data[i] = (char)(j->epoch >> (8 * i));
	for (int i = 0; i < 4; i++)
		e->data[8 + i] = (char)((unsigned)j->schema >> (8 * i));
	memset(e->data + 12, 0, 4);
	e->seq = j->next_seq++;
	e->state = PENDING;
	if (j->tail)
		j->tail->next = e;
	else
		j->head = e;
	j->tail = e;
	seq = (int64_t)e->seq;
	pthread_mutex_unlock(&j->lock);
	return seq;
}

void ctl_journal_ready(struct ctl_journal *j, uint64_t seq, int cancelled)
{
	pthread_mutex_lock(&j->lock);
	for (struct jentry *e = j->head; e; e = e->next) {
		if (e->seq != seq)
			continue;
		e->state = cancelled ? CANCELLED : READY;
		if (cancelled)
			e->len = CTL_JOURNAL_HDR; /* written empty: seqs have no holes */
		pthread_cond_signal(&j->work);
		break;
	}
	pthread_mutex_unlock(&j->lock);
}

int ctl_journal_wait(struct ctl_journal *j, uint64_t seq)
{
	int r;

	pthread_mutex_lock(&j->lock);
	while (j->durable < seq && !j->failed)
		pthread_cond_wait(&j->done, &j->lock);
	r = j->durable >= seq ? 0 : j->failed;
	pthread_mutex_unlock(&j->lock);
	return r;
}

void ctl_journal_on_failure(struct ctl_journal *j, void (*fn)(void *arg, int err), void *arg)
{
	j->on_failure = fn;
	j->on_failure_arg = arg;
}

uint64_t ctl_journal_durable(struct ctl_journal *j)
{
	return __atomic_load_n(&j->durable, __ATOMIC_ACQUIRE); /* stored under the lock */
}

uint64_t ctl_journal_epoch(struct ctl_journal *j)
{
	return j->epoch; /* set before the writer starts, never changed while it runs */
}

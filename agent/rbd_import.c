#include "rbd_import.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "json.h"
#include "log.h"
#include "util.h"

#define MAP_TIMEOUT_MS (5 * 60 * 1000)
#define CHUNK (4u << 20) /* one RBD object (order 22) */
#define IN_FLIGHT 8
#define MIN(a, b) ((a) < (b) ? (a) : (b))

void agent_disk_map_clear(struct agent_disk_map *m)
{
	free(m->data);
	*m = (struct agent_disk_map){ 0 };
}

static bool field_u64(struct json_object *o, const char *key, uint64_t *ret)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0)
		return false;
	*ret = (uint64_t)json_object_get_int64(v);
	return true;
}

static bool field_true(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

int agent_disk_map_parse(const char *json, size_t len, struct agent_disk_map *m)
{
	struct json_object *arr = NULL;
	const char *err;
	size_t n;
	int r = 0;

	*m = (struct agent_disk_map){ 0 };
	if (ecs_json_parse(json, len, &arr, &err) < 0)
		return -EIO;
	if (!json_object_is_type(arr, json_type_array)) {
		json_object_put(arr);
		return -EIO;
	}
	n = json_object_array_length(arr);
	m->data = calloc(n ? n : 1, sizeof(*m->data));
	if (!m->data) {
		json_object_put(arr);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		struct json_object *e = json_object_array_get_idx(arr, i);
		uint64_t start, length, depth = 0, offset;

		if (!field_u64(e, "start", &start) || !field_u64(e, "length", &length) || start != m->vsize ||
		    start + length < start) {
			r = -EIO;
			break;
		}
		m->vsize = start + length;
		/* Zeros and holes are left out: the RBD image reads zeros there. */
		if (!field_true(e, "data") || field_true(e, "zero") || length == 0)
			continue;
		field_u64(e, "depth", &depth);
		if (depth != 0 || field_true(e, "compressed") || !field_u64(e, "offset", &offset) ||
		    offset + length < offset) {
			r = -ENOTSUP;
			break;
		}
		if (m->n && m->data[m->n - 1].start + m->data[m->n - 1].length == start &&
		    m->data[m->n - 1].offset + m->data[m->n - 1].length == offset)
			m->data[m->n - 1].length += length; /* contiguous in both: one extent */
		else
			m->data[m->n++] = (struct agent_disk_extent){ start, length, offset };
	}
	json_object_put(arr);
	if (r < 0)
		agent_disk_map_clear(m);
	return r;
}

int agent_disk_map_file(const char *file, struct agent_disk_map *m)
{
	const char *argv[] = { "qemu-img", "map", "-U", "--output=json", file, NULL };
	struct ecs_cmd_result res;
	int r;

	r = ecs_cmd_run_ok(argv, &(struct ecs_cmd_opts){ .timeout_ms = MAP_TIMEOUT_MS, .max_output = 64u << 20 },
			   &res);
	if (r < 0)
		return r;
	r = agent_disk_map_parse(res.out, res.out_len, m);
	ecs_cmd_result_clear(&res);
	return r;
}

static int read_full(int fd, char *buf, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pread(fd, buf, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO; /* the file is shorter than its map */
		buf += n, len -= (size_t)n, off += (uint64_t)n;
	}
	return 0;
}

int agent_disk_qcow2_size(const char *file, uint64_t *ret)
{
	unsigned char h[32];
	int fd = open(file, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	/* The header: magic "QFI\xfb", version, backing offset and length, cluster bits, then
	 * the virtual size (big-endian, at 24). */
	if (read_full(fd, (char *)h, sizeof(h), 0) < 0 || memcmp(h, "QFI\xfb", 4) != 0)
		r = -ENOTSUP;
	close(fd);
	if (r < 0)
		return r;
	*ret = 0;
	for (int i = 24; i < 32; i++)
		*ret = *ret << 8 | h[i];
	return 0;
}

struct slot {
	rbd_completion_t c;
	char *buf;
};

/* Wait for the slot's write, if any; its result. */
static int settle(struct slot *s)
{
	int r;

	if (!s->c)
		return 0;
	rbd_aio_wait_for_complete(s->c);
	r = (int)rbd_aio_get_return_value(s->c);
	rbd_aio_release(s->c);
	s->c = NULL;
	return r < 0 ? r : 0;
}

static bool all_zero(const char *buf, size_t len)
{
	return len == 0 || (buf[0] == 0 && memcmp(buf, buf + 1, len - 1) == 0);
}

int agent_rbd_write_map(rbd_image_t img, const char *file, const struct agent_disk_map *m)
{
	struct slot slots[IN_FLIGHT] = { 0 };
	size_t next = 0;
	int fd = open(file, O_RDONLY | O_CLOEXEC), r = 0, r2;

	if (fd < 0)
		return -errno;
	for (size_t i = 0; i < m->n && r == 0; i++) {
		const struct agent_disk_extent *x = &m->data[i];

		for (uint64_t done = 0; done < x->length && r == 0;) {
			uint64_t at = x->start + done;
			/* Up to the next object boundary: one write per RBD object. */
			size_t len = (size_t)MIN((uint64_t)CHUNK - at % CHUNK, x->length - done);
			struct slot *s = &slots[next];

			next = (next + 1) % IN_FLIGHT;
			r = settle(s);
			if (r == 0 && !s->buf && !(s->buf = malloc(CHUNK)))
				r = -ENOMEM;
			if (r == 0)
				r = read_full(fd, s->buf, len, x->offset + done);
			if (r == 0 && !all_zero(s->buf, len)) {
				r = rbd_aio_create_completion(NULL, NULL, &s->c);
				if (r == 0) {
					r = rbd_aio_write(img, at, len, s->buf, s->c);
					if (r < 0) {
						rbd_aio_release(s->c);
						s->c = NULL;
					}
				}
			}
			done += len;
		}
	}
	for (size_t i = 0; i < IN_FLIGHT; i++) {
		r2 = settle(&slots[i]);
		if (r == 0)
			r = r2;
		free(slots[i].buf);
	}
	close(fd);
	if (r == 0)
		r = rbd_flush(img);
	if (r < 0)
		log_error("rbd: writing an image failed", "file=%s error=%s", file, strerror(-r));
	return r;
}

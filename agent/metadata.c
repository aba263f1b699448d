#include "metadata.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "buf.h"
#include "cmd.h"
#include "http_server.h"
#include "log.h"
#include "util.h"

#define METADATA_MAX_PATH 256
#define METADATA_MAX_BODY 1024 /* GET only: nothing to read */
#define METADATA_MAX_ANSWER (64 * 1024)
#define GUARD_MAX_PREFIX 23	/* iptables chain names hold 28 characters; "-META" takes 5 */
#define GUARD_MAX_TAP 15	/* IFNAMSIZ - 1 */
#define GUARD_CMD_TIMEOUT_MS 30000

struct agent_metadata {
	struct ecs_http_server *srv;
	agent_metadata_lookup_fn lookup;
	void *userdata;
};

void agent_metadata_instance_clear(struct agent_metadata_instance *mi)
{
	if (!mi)
		return;
	free(mi->instance_id);
	free(mi->hostname);
	free(mi->private_ip);
	free(mi->mac);
	free(mi->region_id);
	free(mi->zone_id);
	free(mi->key_pair_name);
	free(mi->public_key);
	free(mi->user_data);
	memset(mi, 0, sizeof(*mi));
}

/* ---- the HTTP service ------------------------------------------------------ */

/* The items of meta-data/, in the order of its listing (ECS's: alphabetical); a name with
 * a trailing '/' is a directory. An item whose value is NULL is neither listed nor served. */
static const struct {
	const char *name;
	size_t offset;
} meta_items[] = {
	{ "hostname", offsetof(struct agent_metadata_instance, hostname) },
	{ "instance-id", offsetof(struct agent_metadata_instance, instance_id) },
	{ "mac", offsetof(struct agent_metadata_instance, mac) },
	{ "private-ipv4", offsetof(struct agent_metadata_instance, private_ip) },
	{ "public-keys/", offsetof(struct agent_metadata_instance, public_key) },
	{ "region-id", offsetof(struct agent_metadata_instance, region_id) },
	{ "zone-id", offsetof(struct agent_metadata_instance, zone_id) },
};

static const char *meta_item_value(const struct agent_metadata_instance *mi, size_t i)
{
	return *(char *const *)((const char *)mi + meta_items[i].offset);
}

static const char *status_text(int status)
{
	switch (status) {
	case 404:
		return "Not Found\n";
	case 405:
		return "Method Not Allowed\n";
	case 413:
		return "Request Entity Too Large\n";
	default:
		return "Internal Server Error\n";
	}
}

static void reply_status(struct ecs_http_response *resp, int status)
{
	const char *text = status_text(status);

	ecs_http_reply(resp, status, "text/plain", text, strlen(text));
	if (status == 405)
		ecs_http_add_header(resp, "Allow", "GET");
}

/* Errors the server raises itself (no route, wrong method, body too large) in the same
 * plain text as ours: guests read them with curl and wget. */
static void metadata_error(const struct ecs_http_request *req, struct ecs_http_response *resp,
			   enum ecs_http_error err, int status, const char *message)
{
	(void)req;
	(void)err;
	(void)message;
	reply_status(resp, status);
}

/* Copy path into buf without repeated or trailing slashes ("/" stays "/"). */
static int path_normalize(const char *path, char *buf, size_t size)
{
	size_t n = 0;

	if (!path || path[0] != '/')
		return -EINVAL;
	for (const char *p = path; *p; p++) {
		if (*p == '/' && n > 0 && buf[n - 1] == '/')
			continue;
		if (n + 1 >= size)
			return -ENAMETOOLONG;
		buf[n++] = *p;
	}
	if (n > 1 && buf[n - 1] == '/')
		n--;
	buf[n] = '\0';
	return 0;
}

/* The IPv4 address a request came from ("::ffff:a.b.c.d" when the socket is IPv6), or NULL. */
static const char *source_ipv4(const char *remote_addr)
{
	if (str_has_prefix(remote_addr, "::ffff:"))
		remote_addr += strlen("::ffff:");
	if (!ecs_ipv4_valid(remote_addr))
		return NULL;
	return remote_addr;
}

static int answer_list(struct ecs_buf *b, const char *item)
{
	int r;

	if (b->len > 0) {
		r = ecs_buf_append(b, "\n", 1, METADATA_MAX_ANSWER);
		if (r < 0)
			return r;
	}
	return ecs_buf_append(b, item, strlen(item), METADATA_MAX_ANSWER);
}

static int answer_text(struct ecs_buf *b, const char *text, size_t len)
{
	return ecs_buf_append(b, text, len, SIZE_MAX);
}

/* Fill b with the answer for a normalised path under one version ("" is the version's own
 * listing); -ENOENT when there is none for this instance. Listings hold one item a line
 * with no final newline, directories marked by a trailing '/' (as ECS and EC2 answer). */
static int metadata_answer(const struct agent_metadata_instance *mi, const char *rest, struct ecs_buf *b)
{
	int r = 0;

	if (streq(rest, ""))
		return answer_text(b, "meta-data\nuser-data", strlen("meta-data\nuser-data"));
	if (streq(rest, "/user-data")) {
		if (!mi->user_data)
			return -ENOENT;
		return answer_text(b, mi->user_data, mi->user_data_len);
	}
	if (!str_has_prefix(rest, "/meta-data"))
		return -ENOENT;
	rest += strlen("/meta-data");

	if (streq(rest, "")) {
		for (size_t i = 0; i < ARRAY_SIZE(meta_items) && r == 0; i++)
			if (meta_item_value(mi, i))
				r = answer_list(b, meta_items[i].name);
		return r;
	}
	for (size_t i = 0; i < ARRAY_SIZE(meta_items); i++) {
		const char *v = meta_item_value(mi, i);

		if (rest[0] == '/' && streq(rest + 1, meta_items[i].name))
			return v ? answer_text(b, v, strlen(v)) : -ENOENT;
	}
	/* ECS lists key ids as directories ("0/"), each holding "openssh-key". */
	if (!mi->public_key)
		return -ENOENT;
	if (streq(rest, "/public-keys"))
		return answer_text(b, "0/", 2);
	if (streq(rest, "/public-keys/0"))
		return answer_text(b, "openssh-key", strlen("openssh-key"));
	if (streq(rest, "/public-keys/0/openssh-key"))
		return answer_text(b, mi->public_key, strlen(mi->public_key));
	return -ENOENT;
}

/* Route the path: "/" lists the versions; "2016-01-01" (what cloud-init asks for) and
 * "latest" are the same tree. */
static int metadata_route(const struct agent_metadata_instance *mi, const char *path, struct ecs_buf *b)
{
	static const char *const versions[] = { "/2016-01-01", "/latest" };

	if (streq(path, "/"))
		return answer_text(b, "2016-01-01\nlatest", strlen("2016-01-01\nlatest"));
	for (size_t i = 0; i < ARRAY_SIZE(versions); i++) {
		size_t n = strlen(versions[i]);

		if (strncmp(path, versions[i], n) == 0 && (path[n] == '\0' || path[n] == '/'))
			return metadata_answer(mi, path + n, b);
	}
	return -ENOENT;
}

static void metadata_handle(const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	struct agent_metadata *md = req->userdata;
	struct agent_metadata_instance mi = { 0 };
	struct ecs_buf b = { 0 };
	char path[METADATA_MAX_PATH + 1], qpath[128];
	const char *ip = source_ipv4(req->remote_addr);
	int r;

	/* Nothing is said to an address that is no instance, whatever it asks for. */
	if (!ip || path_normalize(req->path, path, sizeof(path)) < 0) {
		reply_status(resp, 404);
		return;
	}
	r = md->lookup(ip, &mi, md->userdata);
	if (r == -ENOENT) {
		reply_status(resp, 404);
		goto out;
	}
	if (r < 0) {
		log_error("metadata lookup failed", "src=%s error=%s", ip, strerror(-r));
		reply_status(resp, 500);
		goto out;
	}
	/* A lookup that answers with another instance must not leak it. */
	if (!streq(mi.private_ip, ip)) {
		log_error("metadata lookup answered with another instance", "src=%s instance=%s", ip,
			  strempty(mi.instance_id));
		reply_status(resp, 404);
		goto out;
	}

	r = metadata_route(&mi, path, &b);
	if (r == -ENOENT) {
		reply_status(resp, 404);
	} else if (r < 0) {
		log_error("metadata answer failed", "src=%s instance=%s path=%s error=%s", ip, strempty(mi.instance_id),
			  ecs_log_quote(path, qpath, sizeof(qpath)), strerror(-r));
		reply_status(resp, 500);
	} else {
		size_t len = b.len;

		ecs_http_reply_take(resp, 200, "text/plain", ecs_buf_steal(&b), len);
	}
	log_debug("metadata request", "src=%s instance=%s path=%s status=%d", ip, strempty(mi.instance_id),
		  ecs_log_quote(path, qpath, sizeof(qpath)), resp->status);
out:
	ecs_buf_free(&b);
	agent_metadata_instance_clear(&mi);
}

static const struct ecs_http_route metadata_routes[] = {
	{ "GET", "/", true, metadata_handle },
};

int agent_metadata_start(const char *address, uint16_t port, agent_metadata_lookup_fn lookup, void *userdata,
			 struct agent_metadata **ret)
{
	struct ecs_http_server_config cfg = {
		.name = "metadata",
		.address = address,
		.port = port,
		.threads = 2,
		.max_body = METADATA_MAX_BODY,
		.timeout_s = 10,
		.max_connections = 256,
		/* Guests drive this server; one line a request at debug level is enough. */
		.access_log = false,
		.error_fn = metadata_error,
	};
	struct agent_metadata *md;
	int r;

	if (!lookup)
		return -EINVAL;
	md = calloc(1, sizeof(*md));
	if (!md)
		return -ENOMEM;
	md->lookup = lookup;
	md->userdata = userdata;
	cfg.userdata = md;
	r = ecs_http_server_start(&cfg, metadata_routes, ARRAY_SIZE(metadata_routes), &md->srv);
	if (r < 0) {
		free(md);
		return r; /* logged by the server */
	}
	*ret = md;
	return 0;
}

uint16_t agent_metadata_port(const struct agent_metadata *md)
{
	return ecs_http_server_port(md->srv);
}

void agent_metadata_stop(struct agent_metadata *md)
{
	if (!md)
		return;
	ecs_http_server_stop(md->srv);
	free(md);
}

/* ---- the guard rules ------------------------------------------------------- */

/* apply and remove read INPUT, then write it: one at a time. */
static pthread_mutex_t guard_lock = PTHREAD_MUTEX_INITIALIZER;
/* The rules last applied (under guard_lock), to log only a change. */
static char *guard_last;

/* A chain name iptables reads as one: no option-like leading '-'. */
static bool prefix_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > GUARD_MAX_PREFIX || s[0] == '-')
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

static bool tap_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > GUARD_MAX_TAP || streq(s, ".") || streq(s, ".."))
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

static int guard_validate_chain(const char *prefix, const char *metadata_ip)
{
	char q1[64], q2[64];

	if (prefix_valid(prefix) && ecs_ipv4_valid(metadata_ip))
		return 0;
	log_error("metadata guard: bad prefix or address", "prefix=%s metadata_ip=%s",
		  ecs_log_quote(strempty(prefix), q1, sizeof(q1)),
		  ecs_log_quote(strempty(metadata_ip), q2, sizeof(q2)));
	return -EINVAL;
}

static int nic_compare(const void *a, const void *b)
{
	const struct agent_metadata_nic *x = *(const struct agent_metadata_nic *const *)a;
	const struct agent_metadata_nic *y = *(const struct agent_metadata_nic *const *)b;
	int c = strcmp(x->tap, y->tap);

	if (c == 0)
		c = strcmp(x->ip, y->ip);
	if (c == 0)
		c = strcasecmp(x->mac, y->mac);
	return c;
}

/* Check every input and return the NICs sorted by tap (then IP, MAC). An address may
 * belong to one tap only: two taps sending from one address could each read the other's
 * metadata. Bad input is logged here, once. */
static int guard_validate(const char *prefix, const char *metadata_ip, const struct agent_metadata_nic *nics,
			  size_t n_nics, const struct agent_metadata_nic ***ret_sorted)
{
	_cleanup_free_ const struct agent_metadata_nic **sorted = NULL;
	char q1[64], q2[64], q3[64];
	int r;

	r = guard_validate_chain(prefix, metadata_ip);
	if (r < 0)
		return r;
	if (n_nics > 0 && !nics) {
		log_error("metadata guard: no nics", "n_nics=%zu", n_nics);
		return -EINVAL;
	}
	sorted = calloc(n_nics ? n_nics : 1, sizeof(*sorted));
	if (!sorted)
		return -ENOMEM;
	for (size_t i = 0; i < n_nics; i++) {
		const struct agent_metadata_nic *nic = &nics[i];

		if (!tap_valid(nic->tap) || !ecs_ipv4_valid(nic->ip) || !ecs_mac_valid(nic->mac)) {
			log_error("metadata guard: bad nic", "tap=%s ip=%s mac=%s",
				  ecs_log_quote(strempty(nic->tap), q1, sizeof(q1)),
				  ecs_log_quote(strempty(nic->ip), q2, sizeof(q2)),
				  ecs_log_quote(strempty(nic->mac), q3, sizeof(q3)));
			return -EINVAL;
		}
		sorted[i] = nic;
	}
	qsort(sorted, n_nics, sizeof(*sorted), nic_compare);
	for (size_t i = 0; i < n_nics; i++) {
		for (size_t j = i + 1; j < n_nics; j++) {
			if (streq(sorted[i]->ip, sorted[j]->ip) && !streq(sorted[i]->tap, sorted[j]->tap)) {
				log_error("metadata guard: one address on two taps", "ip=%s tap=%s tap2=%s",
					  sorted[i]->ip, sorted[i]->tap, sorted[j]->tap);
				return -EINVAL;
			}
		}
	}
	*ret_sorted = TAKE_PTR(sorted);
	return 0;
}

static void mac_lower(const char *mac, char out[18])
{
	for (size_t i = 0; i < 17; i++)
		out[i] = (char)((mac[i] >= 'A' && mac[i] <= 'F') ? mac[i] - 'A' + 'a' : mac[i]);
	out[17] = '\0';
}

static int guard_render_sorted(const char *prefix, const char *metadata_ip,
			       const struct agent_metadata_nic *const *sorted, size_t n_nics, int input_jumps,
			       char **ret)
{
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);

	if (!f)
		return -ENOMEM;
	fprintf(f, "*filter\n:%s-META - [0:0]\n", prefix);
	for (size_t i = 0; i < n_nics; i++) {
		const struct agent_metadata_nic *nic = sorted[i];
		char mac[18];

		/* Options in the order iptables -S prints them, so what is read back compares;
		 * the same NIC given twice counts once. */
		mac_lower(nic->mac, mac);
		if (i == 0 || nic_compare(&sorted[i - 1], &sorted[i]) != 0)
			fprintf(f, "-A %s-META -s %s/32 -m physdev --physdev-in %s -m mac --mac-source %s -j RETURN\n",
				prefix, nic->ip, nic->tap, mac);
		if (i + 1 == n_nics || !streq(sorted[i + 1]->tap, nic->tap))
			fprintf(f, "-A %s-META -m physdev --physdev-in %s -j DROP\n", prefix, nic->tap);
	}
	/* A bridge port that is no known tap reaches the metadata address not at all. */
	fprintf(f, "-A %s-META -m physdev --physdev-is-in -j DROP\n", prefix);
	/* Whatever jumps there are go, and one comes back first in INPUT, so no ACCEPT of the
	 * host's can pass around it; in one transaction, so there is no moment without it. */
	for (int i = 0; i < input_jumps; i++)
		fprintf(f, "-D INPUT -d %s/32 -j %s-META\n", metadata_ip, prefix);
	fprintf(f, "-I INPUT 1 -d %s/32 -j %s-META\n", metadata_ip, prefix);
	fputs("COMMIT\n", f);
	if (fclose(f) != 0) {
		free(text);
		return -ENOMEM;
	}
	*ret = text;
	return 0;
}

int agent_metadata_guard_render(const char *prefix, const char *metadata_ip, const struct agent_metadata_nic *nics,
				size_t n_nics, int input_jumps, char **ret)
{
	_cleanup_free_ const struct agent_metadata_nic **sorted = NULL;
	int r;

	if (input_jumps < 0)
		return -EINVAL;
	r = guard_validate(prefix, metadata_ip, nics, n_nics, &sorted);
	if (r < 0)
		return r;
	return guard_render_sorted(prefix, metadata_ip, sorted, n_nics, input_jumps, ret);
}

/* How many times INPUT jumps to the chain for the metadata address, from `iptables -S INPUT`. */
static int count_jumps(const char *prefix, const char *metadata_ip, int *ret)
{
	const char *list[] = { "iptables", "-w", "-S", "INPUT", NULL };
	const struct ecs_cmd_opts opts = { .timeout_ms = GUARD_CMD_TIMEOUT_MS };
	struct ecs_cmd_result res = { 0 };
	_cleanup_free_ char *jump = NULL;
	char *line, *save = NULL;
	int n = 0, r;

	jump = ecs_strdup_printf("-A INPUT -d %s/32 -j %s-META", metadata_ip, prefix);
	if (!jump)
		return -ENOMEM;
	r = ecs_cmd_run_ok(list, &opts, &res);
	if (r < 0)
		return r; /* logged by the runner */
	for (line = strtok_r(res.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (streq(line, jump))
			n++;
	ecs_cmd_result_clear(&res);
	*ret = n;
	return 0;
}

static int guard_restore(const char *rules)
{
	const char *restore[] = { "iptables-restore", "-w", "--noflush", NULL };
	const struct ecs_cmd_opts opts = { .stdin_text = rules, .timeout_ms = GUARD_CMD_TIMEOUT_MS };

	return ecs_cmd_run_ok(restore, &opts, NULL);
}

/* The rules that take the chain away: declaring it creates it when absent (so a second
 * remove succeeds too) and flushes it, then it goes; one transaction. */
static int guard_render_remove(const char *prefix, const char *metadata_ip, int input_jumps, char **ret)
{
	char *text = NULL;
	size_t size = 0;
	FILE *f;

	f = open_memstream(&text, &size);
	if (!f)
		return -ENOMEM;
	fprintf(f, "*filter\n:%s-META - [0:0]\n", prefix);
	for (int i = 0; i < input_jumps; i++)
		fprintf(f, "-D INPUT -d %s/32 -j %s-META\n", metadata_ip, prefix);
	fprintf(f, "-X %s-META\nCOMMIT\n", prefix);
	if (fclose(f) != 0) {
		free(text);
		return -ENOMEM;
	}
	*ret = text;
	return 0;
}

/* Under the guard's lock: count INPUT's jumps, render the rules (sorted NICs, or the
 * chain's removal when remove) and restore them. */
static int guard_change(const char *prefix, const char *metadata_ip, const struct agent_metadata_nic **sorted,
			size_t n_nics, bool remove)
{
	_cleanup_free_ char *rules = NULL;
	int jumps, r;

	pthread_mutex_lock(&guard_lock);
	r = count_jumps(prefix, metadata_ip, &jumps);
	if (r < 0)
		goto out_unlock;
	r = remove ? guard_render_remove(prefix, metadata_ip, jumps, &rules)
		   : guard_render_sorted(prefix, metadata_ip, sorted, n_nics, jumps, &rules);
	if (r < 0)
		goto out_unlock;
	r = guard_restore(rules);
	if (r < 0)
		goto out_unlock;
	if (remove) {
		log_info("metadata guard removed", "chain=%s-META metadata_ip=%s", prefix, metadata_ip);
		free(guard_last);
		guard_last = NULL;
	} else if (!guard_last || !streq(guard_last, rules)) {
		/* Applied at every reconcile pass; logged when the rules differ from the last ones. */
		log_debug("metadata guard applied", "chain=%s-META metadata_ip=%s nics=%zu", prefix, metadata_ip,
			  n_nics);
		free(guard_last);
		guard_last = TAKE_PTR(rules);
	}
out_unlock:
	pthread_mutex_unlock(&guard_lock);
	return r;
}

int agent_metadata_guard_apply(const char *prefix, const char *metadata_ip, const struct agent_metadata_nic *nics,
			       size_t n_nics)
{
	_cleanup_free_ const struct agent_metadata_nic **sorted = NULL;
	int r;

	/* Bad input runs no command at all. */
	r = guard_validate(prefix, metadata_ip, nics, n_nics, &sorted);
	if (r < 0)
		return r;
	return guard_change(prefix, metadata_ip, sorted, n_nics, false);
}

int agent_metadata_guard_remove(const char *prefix, const char *metadata_ip)
{
	int r;

	r = guard_validate_chain(prefix, metadata_ip);
	if (r < 0)
		return r;
	return guard_change(prefix, metadata_ip, NULL, 0, true);
}

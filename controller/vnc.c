#include "vnc.h"

#include <errno.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "agents.h"
#include "common.h"
#include "crypto.h"
#include "hostauth.h"
#include "instance.h"
#include "json.h"
#include "log.h"
#include "params.h"
#include "rpc.h"
#include "store.h"
#include "timeutil.h"
#include "util.h"

/* ---- tokens ---- */

struct token {
	char token[CTL_VNC_TOKEN_LEN + 1];
	struct ctl_vnc_grant g;
	long long expires_ms;
};

struct ctl_vnc_tokens {
	pthread_mutex_t lock;
	size_t n;
	struct token t[CTL_VNC_MAX_TOKENS];
};

int ctl_vnc_tokens_new(struct ctl_vnc_tokens **ret)
{
	struct ctl_vnc_tokens *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	*ret = t;
	return 0;
}

void ctl_vnc_tokens_free(struct ctl_vnc_tokens *t)
{
	if (!t)
		return;
	explicit_bzero(t->t, sizeof(t->t));
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* Locked. */
static void token_drop(struct ctl_vnc_tokens *t, size_t i)
{
	t->t[i] = t->t[--t->n];
	explicit_bzero(&t->t[t->n], sizeof(t->t[t->n]));
}

int ctl_vnc_token_issue(struct ctl_vnc_tokens *t, const struct ctl_vnc_grant *g, long long now_ms,
			char token[CTL_VNC_TOKEN_LEN + 1])
{
	uint8_t b[CTL_VNC_TOKEN_LEN / 2];
	int r = 0;

	if (ecs_random_bytes(b, sizeof(b)) < 0)
		return -EIO;
	ecs_hex_encode(b, sizeof(b), token);
	pthread_mutex_lock(&t->lock);
	for (size_t i = t->n; i-- > 0;)
		if (t->t[i].expires_ms <= now_ms)
			token_drop(t, i);
	if (t->n >= CTL_VNC_MAX_TOKENS) {
		r = -ENOSPC;
	} else {
		struct token *n = &t->t[t->n++];

		memcpy(n->token, token, sizeof(n->token));
		n->g = *g;
		n->expires_ms = now_ms + CTL_VNC_TOKEN_TTL_S * 1000LL;
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

int ctl_vnc_token_take(struct ctl_vnc_tokens *t, const char *token, long long now_ms, struct ctl_vnc_grant *g)
{
	int r = -ENOENT;

	if (!token || strlen(token) != CTL_VNC_TOKEN_LEN)
		return -ENOENT;
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < t->n; i++) {
		if (!ecs_memeq_ct(t->t[i].token, token, CTL_VNC_TOKEN_LEN))
			continue;
		if (t->t[i].expires_ms <= now_ms) {
			r = -ETIMEDOUT;
		} else {
			*g = t->t[i].g;
			r = 0;
		}
		token_drop(t, i);
		break;
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

/* ---- DescribeInstanceVncUrl ---- */

int ctl_vnc_describe_url(struct ctl_call *call, struct json_object *out)
{
	struct ctl_vnc_grant g = { 0 };
	char status[32], token[CTL_VNC_TOKEN_LEN + 1];
	_cleanup_free_ char *url = NULL;
	const char *id;
	int r;

	if ((r = ctl_param_id(call, "InstanceId", CTL_REQUIRED, "i-", &id)) < 0)
		return r;
	/* Another account's instance is InvalidInstanceId.NotFound, as for every read. */
	if ((r = ctl_instance_lookup(call, id, status, g.host_id)) < 0)
		return r;
	if (!streq(status, "Running"))
		return ctl_fail(call, 403, "IncorrectInstanceStatus",
				"The current status of the resource does not support this operation.");
	if (!g.host_id[0] || !ctl_host_alive(call->c, g.host_id))
		return ctl_fail(call, 503, "ServiceUnavailable", "The host of the instance does not answer now.");
	ecs_strlcpy(g.account_id, call->account->account_id, sizeof(g.account_id));
	ecs_strlcpy(g.instance_id, id, sizeof(g.instance_id));
	r = ctl_vnc_token_issue(ctl_console_vnc(call->c->console), &g, ecs_now_mono_ms(), token);
	if (r == -ENOSPC)
		return ctl_fail(call, 400, "Throttling", "Too many VNC addresses are waiting to be used; try again later.");
	if (r < 0)
		return ctl_fail(call, 500, "InternalError", "The request processing has failed due to some unknown error.");
	url = ecs_strdup_printf("ws://%s/console/vnc?token=%s", call->c->cfg.endpoint, token);
	explicit_bzero(token, sizeof(token));
	if (!url)
		return ctl_db_failure(call);
	ecs_jb_str(out, "VncUrl", url);
	explicit_bzero(url, strlen(url));
	return 0;
}

/* ---- the WebSocket ---- */

int ctl_vnc_ws_accept(const char *key, char out[29])
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	char buf[128];
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	char *b64;

	if (!key || strlen(key) != 24 || snprintf(buf, sizeof(buf), "%s%s", key, guid) >= (int)sizeof(buf))
		return -EINVAL;
	if (!EVP_Digest(buf, strlen(buf), md, &mdlen, EVP_sha1(), NULL) || mdlen != 20)
		return -EIO;
	b64 = ecs_base64_encode(md, mdlen);
	if (!b64)
		return -ENOMEM;
	ecs_strlcpy(out, b64, 29);
	free(b64);
	return 0;
}

/* The agent's api_url ("http://host:port") of host_id, connected, and its
 * GET /v1/instances/<id>/vnc upgraded. The socket, with in *extra what came past the
 * agent's answer; -errno, -EPROTO when the agent did not switch. */
static int agent_open(struct ctl *c, const struct ctl_vnc_grant *g, char **extra, size_t *extra_len)
{
	_cleanup_db_ struct ctl_db_conn conn = ctl_db_take(c->store);
	_cleanup_stmt_ sqlite3_stmt *st =
		conn.db ? ctl_db_prepare(conn.db, "SELECT api_url FROM hosts WHERE host_id = ?1") : NULL;
	_cleanup_free_ char *path = ecs_strdup_printf("/v1/instances/%s/vnc", g->instance_id), *url = NULL;
	struct ecs_kvlist headers = ECS_KVLIST_INIT, query = ECS_KVLIST_INIT;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	struct timeval tv = { .tv_sec = 10 };
	char host[256], port[8], buf[8192];
	const char *h, *colon;
	size_t got = 0;
	char *end = NULL, req[2048];
	int fd = -1, r;

	if (!st || !path)
		return -ENOMEM;
	sqlite3_bind_text(st, 1, g->host_id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW || !(url = strdup((const char *)sqlite3_column_text(st, 0))))
		return -EHOSTDOWN;
	h = str_has_prefix(url, "http://") ? url + 7 : NULL;
	colon = h ? strrchr(h, ':') : NULL;
	if (!colon || (size_t)(colon - h) >= sizeof(host) || snprintf(port, sizeof(port), "%s", colon + 1) >= (int)sizeof(port))
		return -EINVAL;
	memcpy(host, h[0] == '[' ? h + 1 : h, (size_t)(colon - h) - (h[0] == '[' ? 2 : 0));
	host[(size_t)(colon - h) - (h[0] == '[' ? 2 : 0)] = '\0';
	if (strchr(port, '/'))
		*strchr(port, '/') = '\0';
	if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai)
		return -EHOSTUNREACH;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	r = fd < 0 ? -errno : 0;
	if (r == 0) {
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
			r = -errno;
	}
	freeaddrinfo(ai);
	if (r == 0)
		r = ecs_hostauth_add_headers(c->host_key, g->host_id, "GET", path, &query, NULL, 0, &headers);
	if (r == 0) {
		int k = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: Upgrade\r\nUpgrade: ecs-vnc\r\n",
				 path, host, port);

		for (size_t i = 0; i < headers.n && k > 0 && (size_t)k < sizeof(req); i++)
			k += snprintf(req + k, sizeof(req) - (size_t)k, "%s: %s\r\n", headers.items[i].key,
				      headers.items[i].value);
		if (k > 0 && (size_t)k < sizeof(req))
			k += snprintf(req + k, sizeof(req) - (size_t)k, "\r\n");
		r = k > 0 && (size_t)k < sizeof(req) ? ecs_http_write_all(fd, req, (size_t)k) : -E2BIG;
	}
	ecs_kvlist_clear(&headers);
	/* The agent's answer, its head at most sizeof(buf). */
	while (r == 0 && !end) {
		ssize_t n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);

		if (n <= 0) {
			r = n < 0 ? -errno : -EPROTO;
			break;
		}
		got += (size_t)n;
		buf[got] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (!end && got >= sizeof(buf) - 1)
			r = -EPROTO;
	}
	if (r == 0 && !str_has_prefix(buf, "HTTP/1.1 101")) {
		char *eol = strstr(buf, "\r\n");

		if (eol)
			*eol = '\0';
		log_warn("vnc: the agent did not switch", "host=%s instance=%s answer=\"%.80s\"", g->host_id, g->instance_id,
			 buf);
		r = str_has_prefix(buf, "HTTP/1.1 409") ? -EAGAIN : str_has_prefix(buf, "HTTP/1.1 404") ? -ENOENT : -EPROTO;
	}
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		return r;
	}
	end += 4;
	*extra_len = got - (size_t)(end - buf);
	*extra = *extra_len ? malloc(*extra_len) : NULL;
	if (*extra)
		memcpy(*extra, end, *extra_len);
	else
		*extra_len = 0;
	tv.tv_sec = 0;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

struct ws_session {
	int agent;
	char *early; /* the agent's first bytes, read with its answer */
	size_t early_len;
	struct ctl_vnc_grant g;
};

static void ws_session_free(void *cls)
{
	struct ws_session *s = cls;

	if (s->agent >= 0)
		close(s->agent);
	free(s->early);
	free(s);
}

/* One unmasked frame to the browser. */
static int ws_send(int fd, int opcode, const void *data, size_t len)
{
	uint8_t h[10];
	size_t hl = 2;

	h[0] = (uint8_t)(0x80 | opcode);
	if (len < 126) {
		h[1] = (uint8_t)len;
	} else if (len < 65536) {
		h[1] = 126;
		h[2] = (uint8_t)(len >> 8);
		h[3] = (uint8_t)len;
		hl = 4;
	} else {
		h[1] = 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
		hl = 10;
	}
	if (ecs_http_write_all(fd, h, hl) < 0)
		return -EPIPE;
	return len ? ecs_http_write_all(fd, data, len) : 0;
}

/* The browser's frames in buf[0..*len): each whole one handled (data to the agent, a ping
 * answered) and taken off. 1: a close; -1: a protocol error; 0: go on. */
static int ws_frames(int browser, int agent, uint8_t *buf, size_t *len)
{
	for (;;) {
		size_t hl = 2, n;
		uint64_t plen;
		uint8_t *mask, *p;

		if (*len < 2)
			return 0;
		if (!(buf[1] & 0x80))
			return -1; /* a client's frames are masked */
		plen = buf[1] & 0x7f;
		if (plen == 126) {
			if (*len < 4)
				return 0;
			plen = ((uint64_t)buf[2] << 8) | buf[3];
			hl = 4;
		} else if (plen == 127) {
			if (*len < 10)
				return 0;
			plen = 0;
			for (int i = 0; i < 8; i++)
				plen = (plen << 8) | buf[2 + i];
			hl = 10;
		}
		if (plen > CTL_VNC_MAX_FRAME)
			return -1;
		if (*len < hl + 4 + plen)
			return 0;
		mask = buf + hl;
		p = mask + 4;
		for (uint64_t i = 0; i < plen; i++)
			p[i] ^= mask[i % 4];
		switch (buf[0] & 0x0f) {
		case 0x0: /* continuation */
		case 0x1: /* text */
		case 0x2: /* binary */
			if (plen && ecs_http_write_all(agent, p, (size_t)plen) < 0)
				return -1;
			break;
		case 0x8:
			ws_send(browser, 0x8, p, plen >= 2 ? 2 : 0);
			return 1;
		case 0x9:
			if (ws_send(browser, 0xA, p, (size_t)plen) < 0)
				return -1;
			break;
		case 0xA:
			break;
		default:
			return -1;
		}
		n = hl + 4 + (size_t)plen;
		memmove(buf, buf + n, *len - n);
		*len -= n;
	}
}

static void ws_run(void *cls, int browser, const char *extra, size_t extra_len)
{
	struct ws_session *s = cls;
	struct pollfd p[2] = { { .fd = browser, .events = POLLIN }, { .fd = s->agent, .events = POLLIN } };
	size_t cap = CTL_VNC_MAX_FRAME + 16, len = 0;
	uint8_t *in = malloc(cap), *out = malloc(64 * 1024);
	const char *why = "closed";
	long long bytes_in = 0, bytes_out = 0;

	log_info("vnc session begins", "instance=%s account=%s", s->g.instance_id, s->g.account_id);
	if (!in || !out || (s->early_len && ws_send(browser, 0x2, s->early, s->early_len) < 0))
		goto out;
	if (extra_len) {
		memcpy(in, extra, extra_len < cap ? extra_len : cap);
		len = extra_len < cap ? extra_len : cap;
	}
	for (;;) {
		int k, f = ws_frames(browser, s->agent, in, &len);

		if (f != 0) {
			why = f > 0 ? "closed by the browser" : "a bad frame";
			break;
		}
		k = poll(p, 2, CTL_VNC_IDLE_S * 1000);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			why = k == 0 ? "idle" : "poll failed";
			break;
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = recv(s->agent, out, 64 * 1024, 0);

			if (n <= 0) {
				why = "closed by the guest's side";
				break;
			}
			bytes_out += n;
			if (ws_send(browser, 0x2, out, (size_t)n) < 0)
				break;
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = recv(browser, in + len, cap - len, 0);

			if (n <= 0)
				break;
			bytes_in += n;
			len += (size_t)n;
		}
	}
	if (streq(why, "idle") || streq(why, "closed by the guest's side"))
		ws_send(browser, 0x8, "\x03\xe8", 2);
out:
	log_info("vnc session ends", "instance=%s why=\"%s\" bytes_in=%lld bytes_out=%lld", s->g.instance_id, why, bytes_in,
		 bytes_out);
	free(in);
	free(out);
}

static void refuse(const struct ecs_http_request *req, struct ecs_http_response *resp, int status, const char *code,
		   const char *msg)
{
	struct json_object *o = json_object_new_object();

	ecs_jb_str(o, "RequestId", req->request_id);
	ecs_jb_str(o, "Code", code);
	ecs_jb_str(o, "Message", msg);
	ecs_http_add_header(resp, "Cache-Control", "no-store");
	ecs_http_reply_json(resp, status, o);
	json_object_put(o);
	log_info("vnc: a connection refused", "code=%s message=\"%s\"", code, msg);
}

/* Does the browser offer the WebSocket subprotocol name? */
static bool offers(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p && *p;) {
		while (*p == ' ' || *p == ',')
			p++;
		if (strncmp(p, name, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
			return true;
		p = strchr(p, ',');
	}
	return false;
}

void ctl_vnc_handle(struct ctl *c, const struct ecs_http_request *req, struct ecs_http_response *resp,
		    const char *session_account)
{
	const char *up = ecs_kvlist_get_case(req->headers, "Upgrade"), *key = ecs_kvlist_get_case(req->headers,
												       "Sec-WebSocket-Key");
	const char *ver = ecs_kvlist_get_case(req->headers, "Sec-WebSocket-Version");
	const char *origin = ecs_kvlist_get_case(req->headers, "Origin"), *host = ecs_kvlist_get_case(req->headers, "Host");
	const char *protos = ecs_kvlist_get_case(req->headers, "Sec-WebSocket-Protocol");
	struct ctl_vnc_grant g;
	struct ws_session *s;
	char accept[29];
	int r, fd;

	if (!up || strcasecmp(up, "websocket") != 0 || !ver || !streq(ver, "13") || ctl_vnc_ws_accept(key, accept) < 0)
		return refuse(req, resp, 400, "InvalidParameter", "A WebSocket (version 13) handshake is expected here.");
	/* A page of another site may open a WebSocket with the browser's cookie: refused. */
	if (origin) {
		const char *rest = str_has_prefix(origin, "http://") ? origin + 7
				   : str_has_prefix(origin, "https://") ? origin + 8 : NULL;

		if (!rest || !host || !streq(rest, host))
			return refuse(req, resp, 403, "Forbidden.CrossSite", "The console takes requests from its own pages only.");
	}
	r = ctl_vnc_token_take(ctl_console_vnc(c->console), ecs_kvlist_get(req->query, "token"), ecs_now_mono_ms(), &g);
	if (r == -ETIMEDOUT)
		return refuse(req, resp, 403, "InvalidVncToken.Expired", "The VNC address has expired: ask for a new one.");
	if (r < 0)
		return refuse(req, resp, 403, "InvalidVncToken", "The VNC address is not valid or was used already.");
	if (session_account && !streq(session_account, g.account_id))
		return refuse(req, resp, 403, "InvalidVncToken", "The VNC address is not valid or was used already.");
	s = calloc(1, sizeof(*s));
	if (!s)
		return refuse(req, resp, 500, "InternalError", "out of memory");
	s->g = g;
	fd = agent_open(c, &g, &s->early, &s->early_len);
	if (fd < 0) {
		free(s->early);
		free(s);
		log_warn("vnc: the agent's side could not be opened", "host=%s instance=%s error=%s", g.host_id,
			 g.instance_id, strerror(-fd));
		if (fd == -EAGAIN || fd == -ENOENT)
			return refuse(req, resp, 403, "IncorrectInstanceStatus",
				      fd == -ENOENT ? "The instance is not on its host (the agent knows no such domain)."
						    : "The instance is not running or has no VNC console on its host.");
		return refuse(req, resp, 503, "ServiceUnavailable", "The host of the instance does not answer now.");
	}
	s->agent = fd;
	ecs_http_reply_upgrade(resp, ws_run, ws_session_free, s);
	ecs_http_add_header(resp, "Upgrade", "websocket");
	ecs_http_add_header(resp, "Sec-WebSocket-Accept", accept);
	if (protos && offers(protos, "binary"))
		ecs_http_add_header(resp, "Sec-WebSocket-Protocol", "binary");
}

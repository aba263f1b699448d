/* http_server.h: an HTTP server over libmicrohttpd for the project's APIs.
 *
 * A thread pool serves requests; each is routed by method and path to a handler that fills
 * a response. The server enforces the request-body limit (413 before the body is read when
 * Content-Length says so), gives each request an id (taken from an incoming
 * X-Ecs-Request-Id when well formed, so one id follows a call across services), sets it as
 * the thread's log request id, returns it in X-Acs-Request-Id, and writes one access-log
 * line per request. Errors the server itself raises (no route, wrong method, body too
 * large) are rendered by the API's own error function, so each API keeps its error format. */
#ifndef ECS_HTTP_SERVER_H
#define ECS_HTTP_SERVER_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kv.h"

struct ecs_prom;

#define ECS_HTTP_REQUEST_ID_HEADER "X-Ecs-Request-Id"
#define ECS_HTTP_RESPONSE_ID_HEADER "X-Acs-Request-Id"

struct ecs_http_request {
	const char *method;
	const char *path;		  /* without the query string */
	const struct ecs_kvlist *query;	  /* decoded query parameters, in order */
	const struct ecs_kvlist *headers; /* request headers as received */
	const char *body;		  /* NUL-terminated; body_len excludes the NUL */
	size_t body_len;
	const char *request_id;
	const char *remote_addr;	  /* numeric address of the peer */
	void *userdata;			  /* the server's userdata */
};

/* An upgraded connection (HTTP 101): runs in a thread of its own with the socket (blocking)
 * and any bytes the client sent past the request; the socket is closed when it returns. */
typedef void (*ecs_http_upgrade_fn)(void *cls, int fd, const char *extra, size_t extra_len);

struct ecs_http_response {
	int status;
	char *content_type;
	char *body;
	size_t body_len;
	struct ecs_kvlist headers;
	/* Instead of body: reader() produces reader_size bytes as the client takes them (it
	 * returns how many it wrote to buf, at most max, or -1 to cut the answer short);
	 * reader_free(reader_cls) is called once, also when the answer is never sent. For a
	 * HEAD the reader is not called and reader_size is the Content-Length. */
	long (*reader)(void *cls, uint64_t pos, char *buf, size_t max);
	void (*reader_free)(void *cls);
	void *reader_cls;
	uint64_t reader_size;
	/* Instead of a body: switch protocols (status 101, see ecs_http_reply_upgrade). */
	ecs_http_upgrade_fn upgrade;
	void (*upgrade_free)(void *cls);
	void *upgrade_cls;
	/* The operation the server's request table (config.metrics) counts this answer under:
	 * a string with static lifetime from the handler's fixed set; NULL: "unknown". */
	const char *op;
};

/* Errors the server raises before any handler runs. */
enum ecs_http_error {
	ECS_HTTP_ERROR_NOT_FOUND,	 /* 404: no route for the path */
	ECS_HTTP_ERROR_METHOD,		 /* 405: the path exists, not with this method */
	ECS_HTTP_ERROR_BODY_TOO_LARGE,	 /* 413 */
	ECS_HTTP_ERROR_INTERNAL,	 /* 500: out of memory and the like */
	_ECS_HTTP_ERROR_MAX,
};

typedef void (*ecs_http_handler_fn)(const struct ecs_http_request *req, struct ecs_http_response *resp);
typedef void (*ecs_http_error_fn)(const struct ecs_http_request *req, struct ecs_http_response *resp,
				  enum ecs_http_error err, int status, const char *message);

/* A streaming server (config.stream): every request goes to these, no route is looked at;
 * the request body is handed over as it arrives (max_body does not apply: the ops bound
 * it), and begin() may answer before any of it is read. */
struct ecs_http_stream_ops {
	/* Headers are in, no body byte yet (req->body is empty). Set *ret_state; fill resp
	 * (a status) to answer at once, the body then being discarded. */
	void (*begin)(const struct ecs_http_request *req, struct ecs_http_response *resp, void **ret_state);
	/* A piece of the body. A negative return discards the rest; end() is still called. */
	int (*data)(void *state, const char *buf, size_t len);
	/* The body has ended: fill resp. */
	void (*end)(void *state, const struct ecs_http_request *req, struct ecs_http_response *resp);
	void (*free)(void *state); /* accepts NULL */
};

struct ecs_http_route {
	const char *method; /* NULL: any */
	const char *path;
	bool prefix;	    /* match path as a prefix */
	ecs_http_handler_fn handler;
};

struct ecs_http_server_config {
	const char *name;	 /* for logs, e.g. "agent-api" */
	const char *address;	 /* numeric IPv4 or IPv6; NULL: 127.0.0.1 */
	uint16_t port;		 /* 0: any free port (see ecs_http_server_port) */
	unsigned threads;	 /* 0: 4 */
	bool thread_per_connection; /* handlers that block (waiting on a guest): one thread
				     * each, so a slow call stalls no other (threads unused) */
	size_t max_body;	 /* 0: 1 MiB */
	unsigned timeout_s;	 /* idle connection timeout; 0: 60 */
	unsigned max_connections; /* 0: 1024 */
	bool access_log;
	ecs_http_error_fn error_fn; /* NULL: JSON {"RequestId","Code","Message"} */
	const struct ecs_http_stream_ops *stream; /* set: every request streams through it */
	/* Set: every answered request is counted there (prom.h) by resp->op and its status,
	 * with the body bytes received and the bytes answered (the Content-Length). */
	struct ecs_prom *metrics;
	void *userdata;
};

struct ecs_http_server;

int ecs_http_server_start(const struct ecs_http_server_config *cfg, const struct ecs_http_route *routes,
			  size_t n_routes, struct ecs_http_server **ret);
uint16_t ecs_http_server_port(const struct ecs_http_server *srv);
/* Stop accepting, finish nothing further, free. Accepts NULL. */
void ecs_http_server_stop(struct ecs_http_server *srv);

/* Fill the response. Each replaces any earlier body. */
int ecs_http_reply(struct ecs_http_response *resp, int status, const char *content_type, const void *body,
		   size_t len);
/* Takes ownership of body (malloc'd). */
int ecs_http_reply_take(struct ecs_http_response *resp, int status, const char *content_type, char *body,
			size_t len);
int ecs_http_reply_json(struct ecs_http_response *resp, int status, struct json_object *obj);
/* The internal APIs' error (agent, controller's host API): {"code", "message"} and, when
 * request_id is not NULL, "request_id". */
int ecs_http_reply_error(struct ecs_http_response *resp, int status, const char *code, const char *message,
			 const char *request_id);
int ecs_http_add_header(struct ecs_http_response *resp, const char *name, const char *value);
/* Answer with a reader (see struct ecs_http_response); takes ownership of cls. */
int ecs_http_reply_reader(struct ecs_http_response *resp, int status, const char *content_type, uint64_t size,
			  long (*reader)(void *, uint64_t, char *, size_t), void (*reader_free)(void *), void *cls);

/* Answer 101 Switching Protocols (add Upgrade and the protocol's headers; libmicrohttpd adds
 * Connection: Upgrade): fn(cls, ...)
 * then owns the connection (see ecs_http_upgrade_fn); free_fn(cls) is called once, also
 * when the answer is never sent. At most ECS_HTTP_MAX_UPGRADED connections a server are
 * upgraded at once; past it the answer is 503. A stop shuts them down and waits for them. */
#define ECS_HTTP_MAX_UPGRADED 64
int ecs_http_reply_upgrade(struct ecs_http_response *resp, ecs_http_upgrade_fn fn, void (*free_fn)(void *),
			   void *cls);

/* Write all of buf to fd (an upgraded connection's socket, blocking): 0 or -errno. */
int ecs_http_write_all(int fd, const void *buf, size_t len);

/* The default error body: {"RequestId","Code","Message"}. */
void ecs_http_default_error(const struct ecs_http_request *req, struct ecs_http_response *resp,
			    enum ecs_http_error err, int status, const char *message);
const char *ecs_http_error_code(enum ecs_http_error err);

#endif

#include "client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_client.h"
#include "id.h"
#include "json.h"
#include "sign.h"
#include "timeutil.h"
#include "url.h"
#include "util.h"

struct ecsctl_client {
	struct ecs_http_client *http;
	char *endpoint;
	char *access_key_id;
	char *access_key_secret;
	char *region;
	char *method;
	unsigned retries;
	long backoff_ms;
	FILE *debug;
	unsigned last_attempts;
};

const char *ecsctl_action_version(const char *action)
{
	/* SLB 2014-05-15: every action that names a load balancer or its parts. */
	static const char *const slb[] = {
		"CreateLoadBalancer", "DeleteLoadBalancer", "DescribeLoadBalancers", "DescribeLoadBalancerAttribute",
		"SetLoadBalancerStatus", "SetLoadBalancerName", "CreateLoadBalancerTCPListener",
		"CreateLoadBalancerUDPListener", "SetLoadBalancerTCPListenerAttribute",
		"SetLoadBalancerUDPListenerAttribute", "DescribeLoadBalancerTCPListenerAttribute",
		"DescribeLoadBalancerUDPListenerAttribute", "StartLoadBalancerListener", "StopLoadBalancerListener",
		"DeleteLoadBalancerListener", "AddBackendServers", "RemoveBackendServers", "SetBackendServers",
		"DescribeHealthStatus", NULL,
	};

	for (size_t i = 0; slb[i]; i++)
		if (streq(slb[i], action))
			return ECSCTL_SLB_API_VERSION;
	return ECSCTL_API_VERSION;
}

bool ecsctl_action_read_only(const char *action)
{
	return str_has_prefix(action, "Describe");
}

static char *dup_str(const char *s)
{
	return s ? strdup(s) : NULL;
}

int ecsctl_client_new(const struct ecsctl_client_config *cfg, struct ecsctl_client **ret)
{
	struct ecs_http_client_config hc = {
		.connect_timeout_ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms : 5000,
		.timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 60000,
		.retries = 0, /* ours: a retried call is signed anew */
		.max_response = ECSCTL_MAX_REPLY,
		.user_agent = "ecsctl/" ECSCTL_VERSION,
	};
	struct ecsctl_client *c;
	int r;

	if (!cfg->endpoint || !cfg->access_key_id || !cfg->access_key_secret)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->endpoint = dup_str(cfg->endpoint);
	c->access_key_id = dup_str(cfg->access_key_id);
	c->access_key_secret = dup_str(cfg->access_key_secret);
	c->region = dup_str(cfg->region ? cfg->region : "");
	c->method = dup_str(cfg->method ? cfg->method : "POST");
	c->retries = cfg->retries;
	c->backoff_ms = cfg->backoff_ms ? cfg->backoff_ms : 200;
	c->debug = cfg->debug;
	if (!c->endpoint || !c->access_key_id || !c->access_key_secret || !c->region || !c->method) {
		r = -ENOMEM;
		goto fail;
	}
	r = ecs_http_client_new(&hc, &c->http);
	if (r < 0)
		goto fail;
	*ret = c;
	return 0;
fail:
	ecsctl_client_free(c);
	return r;
}

void ecsctl_client_free(struct ecsctl_client *c)
{
	if (!c)
		return;
	ecs_http_client_free(c->http);
	free(c->endpoint);
	free(c->access_key_id);
	if (c->access_key_secret)
		explicit_bzero(c->access_key_secret, strlen(c->access_key_secret));
	free(c->access_key_secret);
	free(c->region);
	free(c->method);
	free(c);
}

unsigned ecsctl_client_last_attempts(const struct ecsctl_client *c)
{
	return c->last_attempts;
}

int ecsctl_client_sign(struct ecsctl_client *c, const char *action, const struct ecs_kvlist *params,
		       struct ecs_kvlist *ret)
{
	struct ecs_kvlist l = ECS_KVLIST_INIT;
	char nonce[ECS_REQUEST_ID_LEN + 1], ts[ECS_ISO8601_LEN + 1];
	_cleanup_free_ char *sig = NULL;
	int r;

	r = ecs_request_id_new(nonce);
	if (r < 0)
		return r;
	ecs_time_format(time(NULL), ts);
	if ((r = ecs_kvlist_add(&l, "AccessKeyId", c->access_key_id)) < 0 ||
	    (r = ecs_kvlist_add(&l, "Action", action)) < 0 || (r = ecs_kvlist_add(&l, "Format", "JSON")) < 0 ||
	    (r = ecs_kvlist_add(&l, "RegionId", c->region)) < 0 ||
	    (r = ecs_kvlist_add(&l, "SignatureMethod", "HMAC-SHA1")) < 0 ||
	    (r = ecs_kvlist_add(&l, "SignatureNonce", nonce)) < 0 ||
	    (r = ecs_kvlist_add(&l, "SignatureVersion", "1.0")) < 0 ||
	    (r = ecs_kvlist_add(&l, "Timestamp", ts)) < 0 ||
	    (r = ecs_kvlist_add(&l, "Version", ecsctl_action_version(action))) < 0)
		goto fail;
	for (size_t i = 0; params && i < params->n; i++) {
		if (streq(params->items[i].key, "Signature"))
			continue;
		r = ecs_kvlist_set(&l, params->items[i].key, params->items[i].value);
		if (r < 0)
			goto fail;
	}
	sig = ecs_rpc_sign(c->method, &l, c->access_key_secret);
	if (!sig) {
		r = -ENOMEM;
		goto fail;
	}
	r = ecs_kvlist_add(&l, "Signature", sig);
	if (r < 0)
		goto fail;
	*ret = l;
	return 0;
fail:
	ecs_kvlist_clear(&l);
	return r;
}

static void set_message(struct ecsctl_api_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_message(struct ecsctl_api_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

static void copy_field(char *dst, size_t size, struct json_object *o, const char *key)
{
	struct json_object *v = ecs_json_get(o, key);
	const char *s = v && !json_object_is_type(v, json_type_null) ? json_object_get_string(v) : NULL;

	snprintf(dst, size, "%s", strempty(s));
}

/* pop-core: a Code other than these is an error even with status 200. */
static bool code_is_ok(struct json_object *code)
{
	const char *s = json_object_get_string(code);

	return streq(s, "200") || streq(s, "OK") || streq(s, "Success") || streq(s, "success");
}

/* The first bytes of a body that is not JSON, printable, for the message. */
static void body_excerpt(const char *body, size_t len, char *out, size_t size)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n + 1 < size && n < 200; i++)
		out[n++] = (body[i] >= 0x20 && body[i] < 0x7f) ? body[i] : ' ';
	out[n] = '\0';
}

static int parse_reply(struct ecsctl_client *c, const struct ecs_http_reply *rep, struct json_object **ret,
		       struct ecsctl_api_error *err)
{
	struct json_object *o = NULL, *code;
	const char *perr;
	bool ok_status = rep->status >= 200 && rep->status < 300;

	err->status = rep->status;
	if (ecs_json_parse(rep->body, rep->body_len, &o, &perr) < 0 || !json_object_is_type(o, json_type_object)) {
		char excerpt[256];

		json_object_put(o);
		body_excerpt(rep->body, rep->body_len, excerpt, sizeof(excerpt));
		set_message(err, "%s answered HTTP %ld with a body that is not a JSON object: \"%s\"", c->endpoint,
			    rep->status, excerpt);
		return ok_status ? -EBADMSG : -EREMOTEIO;
	}
	code = ecs_json_get(o, "Code");
	copy_field(err->request_id, sizeof(err->request_id), o, "RequestId");
	if (!err->request_id[0]) {
		const char *h = ecs_kvlist_get(&rep->headers, "x-acs-request-id");

		snprintf(err->request_id, sizeof(err->request_id), "%s", strempty(h));
	}
	if (ok_status && (!code || code_is_ok(code))) {
		*ret = o;
		return 0;
	}
	copy_field(err->code, sizeof(err->code), o, "Code");
	copy_field(err->message, sizeof(err->message), o, "Message");
	copy_field(err->host_id, sizeof(err->host_id), o, "HostId");
	if (!err->code[0])
		snprintf(err->code, sizeof(err->code), "HTTP%ld", rep->status);
	if (!err->message[0])
		set_message(err, "HTTP %ld", rep->status);
	json_object_put(o);
	return -EREMOTEIO;
}

static bool connection_failed(int r)
{
	return r == -ECONNREFUSED || r == -EHOSTUNREACH || r == -EIO;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void debug_request(struct ecsctl_client *c, const char *action, const struct ecs_kvlist *params,
			  unsigned attempt)
{
	if (!c->debug)
		return;
	fprintf(c->debug, "> %s %s Action=%s", c->method, c->endpoint, action);
	for (size_t i = 0; params && i < params->n; i++)
		fprintf(c->debug, " %s=%s", params->items[i].key, params->items[i].value);
	fprintf(c->debug, attempt > 1 ? " (attempt %u)\n" : "\n", attempt);
}

/* One signed exchange. */
static int attempt_once(struct ecsctl_client *c, const char *action, const struct ecs_kvlist *params,
			struct ecs_http_reply *rep)
{
	struct ecs_kvlist signed_params = ECS_KVLIST_INIT, headers = ECS_KVLIST_INIT;
	_cleanup_free_ char *form = NULL, *url = NULL;
	struct ecs_http_call call = { .method = c->method, .idempotent = 0 };
	int r;

	r = ecsctl_client_sign(c, action, params, &signed_params);
	if (r < 0)
		return r;
	form = ecs_form_build(&signed_params);
	if (!form) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = ecs_kvlist_add(&headers, "x-acs-action", ecs_kvlist_get(&signed_params, "Action"))) < 0 ||
	    (r = ecs_kvlist_add(&headers, "x-acs-version", ecs_kvlist_get(&signed_params, "Version"))) < 0)
		goto out;
	if (streq(c->method, "GET")) {
		url = ecs_strdup_printf("%s%s%s", c->endpoint, strchr(c->endpoint, '?') ? "&" : "?", form);
		if (!url) {
			r = -ENOMEM;
			goto out;
		}
		call.url = url;
	} else {
		if ((r = ecs_kvlist_add(&headers, "Content-Type", "application/x-www-form-urlencoded")) < 0)
			goto out;
		call.url = c->endpoint;
		call.body = form;
		call.body_len = strlen(form);
	}
	call.headers = &headers;
	r = ecs_http_client_do(c->http, &call, rep);
out:
	ecs_kvlist_clear(&signed_params);
	ecs_kvlist_clear(&headers);
	return r;
}

int ecsctl_client_call(struct ecsctl_client *c, const char *action, const struct ecs_kvlist *params,
		       struct json_object **ret, struct ecsctl_api_error *err)
{
	unsigned max_attempts = ecsctl_action_read_only(action) ? 1 + c->retries : 1;
	struct ecs_http_reply rep = { 0 };
	long backoff = c->backoff_ms;
	int r = -EIO;

	memset(err, 0, sizeof(*err));
	for (unsigned i = 0; i < max_attempts; i++) {
		if (i) {
			sleep_ms(backoff);
			backoff *= 2;
		}
		c->last_attempts = i + 1;
		debug_request(c, action, params, i + 1);
		r = attempt_once(c, action, params, &rep);
		if (r == 0 || !connection_failed(r))
			break;
		if (c->debug)
			fprintf(c->debug, "< no answer: %s\n", strerror(-r));
	}
	switch (r) {
	case 0:
		break;
	case -ETIMEDOUT:
		set_message(err, "%s did not answer %s in time", c->endpoint, action);
		return r;
	case -EFBIG:
		set_message(err, "the answer of %s to %s is larger than %d MiB", c->endpoint, action,
			    ECSCTL_MAX_REPLY >> 20);
		return r;
	case -ENOMEM:
		set_message(err, "out of memory");
		return r;
	case -EIO:
		set_message(err, "no answer from %s to %s: the connection broke%s", c->endpoint, action,
			    max_attempts > 1 ? "" : " (it may have been carried out: look before repeating it)");
		return r;
	default:
		set_message(err, "cannot reach %s: %s", c->endpoint, strerror(-r));
		return r;
	}
	if (c->debug)
		fprintf(c->debug, "< HTTP %ld, %zu bytes\n", rep.status, rep.body_len);
	r = parse_reply(c, &rep, ret, err);
	ecs_http_reply_clear(&rep);
	return r;
}

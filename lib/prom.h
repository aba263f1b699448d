/* prom.h: what every daemon's /metrics shares, in Prometheus' text format (0.0.4).
 *
 * A request table counts answered requests by operation and code, with a latency histogram
 * and the bytes received and sent per operation. Its series are bounded: an operation must
 * be a string with static lifetime from the daemon's own fixed set (never a client's
 * text), and past ECS_PROM_MAX_SERIES (operation, code) pairs further requests are
 * counted in <prefix>_requests_unlabelled_total only.
 *
 * /metrics is guarded by a bearer token derived from the host key (never the key itself):
 * HMAC-SHA256(host key, "ecs-metrics") in hex, the same on every daemon of a cloud and
 * printed by `ecs-controller metrics-token`; lib/prom_http.h checks it. */
#ifndef ECS_PROM_H
#define ECS_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ECS_PROM_MAX_SERIES 4096
#define ECS_PROM_TOKEN_LEN 64
#define ECS_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* How a table names its families: <prefix>_requests_total{<op_label>,<code_label>},
 * <prefix>_request_duration_seconds{<op_label>} and, with bytes set,
 * <prefix>_received_bytes_total / <prefix>_sent_bytes_total{<op_label>}. */
struct ecs_prom_names {
	const char *prefix;	/* "ecs_api" */
	const char *op_label;	/* "action" */
	const char *code_label; /* "code" */
	bool bytes;
};

struct ecs_prom;

/* names is kept (static storage). */
int ecs_prom_new(const struct ecs_prom_names *names, struct ecs_prom **ret);
void ecs_prom_free(struct ecs_prom *m);
/* One answered request. m may be NULL (nothing counted); op NULL counts as "unknown". */
void ecs_prom_request(struct ecs_prom *m, const char *op, const char *code, int64_t ms, uint64_t bytes_in,
			 uint64_t bytes_out);
/* The table's families. m may be NULL (nothing written). */
void ecs_prom_render(FILE *f, struct ecs_prom *m);

/* A label value as the format wants it: \\, \" and \n escaped. */
void ecs_prom_put_label(FILE *f, const char *v);
/* HELP and TYPE lines of one family. */
void ecs_prom_put_family(FILE *f, const char *name, const char *type, const char *help);

/* The token /metrics asks for (ECS_PROM_TOKEN_LEN hex digits and a NUL). */
int ecs_prom_token(const char *host_key, char out[ECS_PROM_TOKEN_LEN + 1]);

#endif

#include "prom.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "util.h"

/* Upper bounds of the latency buckets, in seconds (+Inf is the count). */
static const double bounds[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60 };
#define N_BOUNDS (sizeof(bounds) / sizeof(bounds[0]))

struct series {
	const char *op;
	char code[96];
	unsigned long long n;
	struct series *next;
};

/* Per operation: latency histogram and bytes. */
struct per_op {
	const char *op;
	unsigned long long bucket[N_BOUNDS];
	unsigned long long count;
	double sum;
	unsigned long long bytes_in, bytes_out;
	struct per_op *next;
};

struct ecs_prom {
	const struct ecs_prom_names *names;
	pthread_mutex_t lock;
	struct series *series;
	size_t n_series;
	unsigned long long dropped;
	struct per_op *ops;
	size_t n_ops;
};

int ecs_prom_new(const struct ecs_prom_names *names, struct ecs_prom **ret)
{
	struct ecs_prom *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->names = names;
	pthread_mutex_init(&m->lock, NULL);
	*ret = m;
	return 0;
}

void ecs_prom_free(struct ecs_prom *m)
{
	if (!m)
		return;
	for (struct series *s = m->series, *n; s; s = n) {
		n = s->next;
		free(s);
	}
	for (struct per_op *p = m->ops, *n; p; p = n) {
		n = p->next;
		free(p);
	}
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static struct per_op *per_op_get(struct ecs_prom *m, const char *op)
{
	struct per_op *p;

	for (p = m->ops; p && !streq(p->op, op); p = p->next)
		;
	if (!p && m->n_ops < ECS_PROM_MAX_SERIES && (p = calloc(1, sizeof(*p)))) {
		p->op = op;
		p->next = m->ops;
		m->ops = p;
		m->n_ops++;
	}
	return p;
}

void ecs_prom_request(struct ecs_prom *m, const char *op, const char *code, int64_t ms, uint64_t bytes_in,
			 uint64_t bytes_out)
{
	double s = ms < 0 ? 0 : (double)ms / 1000.0;
	struct series *se;
	struct per_op *p;

	if (!m)
		return;
	if (!op)
		op = "unknown";
	pthread_mutex_lock(&m->lock);
	for (se = m->series; se && !(streq(se->op, op) && streq(se->code, code)); se = se->next)
		;
	if (!se && m->n_series < ECS_PROM_MAX_SERIES && (se = calloc(1, sizeof(*se)))) {
		se->op = op;
		snprintf(se->code, sizeof(se->code), "%s", code);
		se->next = m->series;
		m->series = se;
		m->n_series++;
	}
	if (se)
		se->n++;
	else
		m->dropped++;
	p = per_op_get(m, op);
	if (p) {
		for (size_t i = 0; i < N_BOUNDS; i++)
			if (s <= bounds[i])
				p->bucket[i]++;
		p->count++;
		p->sum += s;
		p->bytes_in += bytes_in;
		p->bytes_out += bytes_out;
	}
	pthread_mutex_unlock(&m->lock);
}

void ecs_prom_put_label(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f);
		if (*v == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*v, f);
	}
}

void ecs_prom_put_family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void put_family(FILE *f, const struct ecs_prom_names *n, const char *suffix, const char *type,
		       const char *help)
{
	char name[128];

	snprintf(name, sizeof(name), "%s_%s", n->prefix, suffix);
	ecs_prom_put_family(f, name, type, help);
}

static void put_histograms(FILE *f, struct ecs_prom *m)
{
	const struct ecs_prom_names *n = m->names;
	const char *pre = n->prefix, *ol = n->op_label;

	for (struct per_op *p = m->ops; p; p = p->next) {
		for (size_t i = 0; i < N_BOUNDS; i++)
			fprintf(f, "%s_request_duration_seconds_bucket{%s=\"%s\",le=\"%g\"} %llu\n", pre, ol, p->op,
				bounds[i], p->bucket[i]);
		fprintf(f, "%s_request_duration_seconds_bucket{%s=\"%s\",le=\"+Inf\"} %llu\n", pre, ol, p->op, p->count);
		fprintf(f, "%s_request_duration_seconds_sum{%s=\"%s\"} %.6f\n", pre, ol, p->op, p->sum);
		fprintf(f, "%s_request_duration_seconds_count{%s=\"%s\"} %llu\n", pre, ol, p->op, p->count);
	}
	if (!n->bytes)
		return;
	put_family(f, n, "received_bytes_total", "counter", "Request body bytes received, by operation.");
	for (struct per_op *p = m->ops; p; p = p->next)
		fprintf(f, "%s_received_bytes_total{%s=\"%s\"} %llu\n", pre, ol, p->op, p->bytes_in);
	put_family(f, n, "sent_bytes_total", "counter", "Response body bytes answered, by operation.");
	for (struct per_op *p = m->ops; p; p = p->next)
		fprintf(f, "%s_sent_bytes_total{%s=\"%s\"} %llu\n", pre, ol, p->op, p->bytes_out);
}

void ecs_prom_render(FILE *f, struct ecs_prom *m)
{
	const struct ecs_prom_names *n;

	if (!m)
		return;
	n = m->names;
	pthread_mutex_lock(&m->lock);
	put_family(f, n, "requests_total", "counter", "Requests answered, by operation and code.");
	for (struct series *s = m->series; s; s = s->next) {
		fprintf(f, "%s_requests_total{%s=\"%s\",%s=\"", n->prefix, n->op_label, s->op, n->code_label);
		ecs_prom_put_label(f, s->code);
		fputs("\"} ", f);
		fprintf(f, "%llu\n", s->n);
	}
	put_family(f, n, "requests_unlabelled_total", "counter", "Requests counted after the series limit.");
	fprintf(f, "%s_requests_unlabelled_total %llu\n", n->prefix, m->dropped);
	put_family(f, n, "request_duration_seconds", "histogram",
		   "Time from a request's arrival to its answer, by operation.");
	put_histograms(f, m);
	pthread_mutex_unlock(&m->lock);
}

int ecs_prom_token(const char *host_key, char out[ECS_PROM_TOKEN_LEN + 1])
{
	static const char label[] = "ecs-metrics";
	uint8_t mac[ECS_SHA256_LEN];

	if (!host_key || ecs_hmac_sha256(host_key, strlen(host_key), label, sizeof(label) - 1, mac) < 0)
		return -EINVAL;
	ecs_hex_encode(mac, sizeof(mac), out);
	return 0;
}

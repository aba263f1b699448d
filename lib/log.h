/* log.h: one line per event in logfmt: ts=… level=… comp=… rid=… msg="…" key=value…
 *
 * The request id is per thread: the HTTP server sets it for the request it serves, so
 * every line logged while handling that request carries it. */
#ifndef ECS_LOG_H
#define ECS_LOG_H

#include <stdio.h>

enum ecs_log_level {
	ECS_LOG_DEBUG,
	ECS_LOG_INFO,
	ECS_LOG_WARN,
	ECS_LOG_ERROR,
	_ECS_LOG_LEVEL_MAX,
};

void ecs_log_set_level(enum ecs_log_level level);
enum ecs_log_level ecs_log_get_level(void);
int ecs_log_level_from_string(const char *s, enum ecs_log_level *ret);
const char *ecs_log_level_to_string(enum ecs_log_level level);

/* Where lines go (default stderr); not owned. */
void ecs_log_set_output(FILE *f);
/* The component name printed as comp= (e.g. "agent"); not copied. */
void ecs_log_set_component(const char *name);

/* The calling thread's request id (NULL clears it). Copied. */
void ecs_log_set_request_id(const char *rid);
const char *ecs_log_get_request_id(void);

/* Log msg with extra key=value fields given printf-style (may be NULL).
 * msg is quoted; fields are written as given, so quote values that may hold spaces
 * with ecs_log_quote(). */
void ecs_log(enum ecs_log_level level, const char *msg, const char *fields, ...)
	__attribute__((format(printf, 3, 4)));

/* Quote s for a logfmt value into buf (escaping " and \ and control characters);
 * truncates to fit. Returns buf. */
const char *ecs_log_quote(const char *s, char *buf, size_t size);

#define log_debug(msg, ...) ecs_log(ECS_LOG_DEBUG, msg, __VA_ARGS__)
#define log_info(msg, ...) ecs_log(ECS_LOG_INFO, msg, __VA_ARGS__)
#define log_warn(msg, ...) ecs_log(ECS_LOG_WARN, msg, __VA_ARGS__)
#define log_error(msg, ...) ecs_log(ECS_LOG_ERROR, msg, __VA_ARGS__)

#endif

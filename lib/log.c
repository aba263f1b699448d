#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "util.h"

static enum ecs_log_level log_level = ECS_LOG_INFO;
static FILE *log_out;
static const char *log_component;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread char log_rid[64];

static const char *const level_names[_ECS_LOG_LEVEL_MAX] = {
	[ECS_LOG_DEBUG] = "debug",
	[ECS_LOG_INFO] = "info",
	[ECS_LOG_WARN] = "warn",
	[ECS_LOG_ERROR] = "error",
};

void ecs_log_set_level(enum ecs_log_level level)
{
	if (level < _ECS_LOG_LEVEL_MAX)
		log_level = level;
}

enum ecs_log_level ecs_log_get_level(void)
{
	return log_level;
}

int ecs_log_level_from_string(const char *s, enum ecs_log_level *ret)
{
	for (int i = 0; i < _ECS_LOG_LEVEL_MAX; i++) {
		if (strcaseeq(s, level_names[i])) {
			*ret = (enum ecs_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *ecs_log_level_to_string(enum ecs_log_level level)
{
	return level < _ECS_LOG_LEVEL_MAX ? level_names[level] : "?";
}

void ecs_log_set_output(FILE *f)
{
	pthread_mutex_lock(&log_lock);
	log_out = f;
	pthread_mutex_unlock(&log_lock);
}

void ecs_log_set_component(const char *name)
{
	log_component = name;
}

void ecs_log_set_request_id(const char *rid)
{
	if (!rid || ecs_strlcpy(log_rid, rid, sizeof(log_rid)) < 0)
		log_rid[0] = '\0';
}

const char *ecs_log_get_request_id(void)
{
	return log_rid[0] ? log_rid : NULL;
}

const char *ecs_log_quote(const char *s, char *buf, size_t size)
{
	size_t o = 0;

	if (size < 3) {
		if (size)
			buf[0] = '\0';
		return buf;
	}
	buf[o++] = '"';
	for (; s && *s && o + 3 < size; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			if (o + 4 >= size)
				break;
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			/* Keep one event on one line. */
			buf[o++] = ' ';
		} else {
			buf[o++] = (char)c;
		}
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

void ecs_log(enum ecs_log_level level, const char *msg, const char *fields, ...)
{
	char line[4096], ts[32], qmsg[1024];
	struct timeval tv;
	struct tm tm;
	int saved_errno = errno;
	size_t n;
	FILE *out;

	if (level < log_level)
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	n = (size_t)snprintf(line, sizeof(line), "ts=%s.%03ldZ level=%s", ts, (long)(tv.tv_usec / 1000),
			     ecs_log_level_to_string(level));
	if (log_component && n < sizeof(line))
		n += (size_t)snprintf(line + n, sizeof(line) - n, " comp=%s", log_component);
	if (log_rid[0] && n < sizeof(line))
		n += (size_t)snprintf(line + n, sizeof(line) - n, " rid=%s", log_rid);
	if (n < sizeof(line))
		n += (size_t)snprintf(line + n, sizeof(line) - n, " msg=%s",
				      ecs_log_quote(msg, qmsg, sizeof(qmsg)));
	if (fields && *fields && n + 1 < sizeof(line)) {
		va_list ap;

		line[n++] = ' ';
		va_start(ap, fields);
		n += (size_t)vsnprintf(line + n, sizeof(line) - n, fields, ap);
		va_end(ap);
	}
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2; /* truncated */
	line[n++] = '\n';
	line[n] = '\0';

	pthread_mutex_lock(&log_lock);
	out = log_out ? log_out : stderr;
	fwrite(line, 1, n, out);
	fflush(out);
	pthread_mutex_unlock(&log_lock);
	errno = saved_errno;
}

#include "output.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util.h"

static const char *const output_names[_ECSCTL_OUTPUT_MAX] = {
	[ECSCTL_OUTPUT_TABLE] = "table",
	[ECSCTL_OUTPUT_JSON] = "json",
	[ECSCTL_OUTPUT_TEXT] = "text",
};

int ecsctl_output_from_string(const char *s, enum ecsctl_output *ret)
{
	for (int i = 0; i < _ECSCTL_OUTPUT_MAX; i++) {
		if (streq(s, output_names[i])) {
			*ret = (enum ecsctl_output)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *ecsctl_output_to_string(enum ecsctl_output o)
{
	return o < _ECSCTL_OUTPUT_MAX ? output_names[o] : NULL;
}

static void value_text(FILE *m, struct json_object *v);

static void join_array(FILE *m, struct json_object *arr)
{
	size_t n = json_object_array_length(arr);

	for (size_t i = 0; i < n; i++) {
		if (i)
			fputc(',', m);
		value_text(m, json_object_array_get_idx(arr, i));
	}
}

/* {"IpAddress": [...]}: the ECS wrapper of a list. */
static struct json_object *wrapped_list(struct json_object *o)
{
	struct json_object_iterator it, end;
	struct json_object *v;

	if (json_object_object_length(o) != 1)
		return NULL;
	it = json_object_iter_begin(o);
	end = json_object_iter_end(o);
	if (json_object_iter_equal(&it, &end))
		return NULL;
	v = json_object_iter_peek_value(&it);
	return json_object_is_type(v, json_type_array) ? v : NULL;
}

static void value_text(FILE *m, struct json_object *v)
{
	struct json_object *list;

	switch (json_object_get_type(v)) {
	case json_type_null:
		break;
	case json_type_array:
		join_array(m, v);
		break;
	case json_type_object:
		if (ecs_json_get(v, "TagKey")) {
			value_text(m, ecs_json_get(v, "TagKey"));
			fputc('=', m);
			value_text(m, ecs_json_get(v, "TagValue"));
		} else if ((list = wrapped_list(v))) {
			join_array(m, list);
		} else {
			fputs(ecs_json_text(v, NULL), m);
		}
		break;
	default:
		fputs(json_object_get_string(v), m);
		break;
	}
}

static char *render(struct json_object *v)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *m = open_memstream(&buf, &size);

	if (!m)
		return NULL;
	value_text(m, v);
	if (fclose(m) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* The value at a dotted path (no alternatives). */
static struct json_object *walk(struct json_object *o, const char *path, size_t len)
{
	while (o && len) {
		const char *dot = memchr(path, '.', len);
		size_t n = dot ? (size_t)(dot - path) : len;
		char key[128];

		if (n >= sizeof(key) || !json_object_is_type(o, json_type_object))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		o = ecs_json_get(o, key);
		path += n;
		len -= n;
		if (len) {
			path++;
			len--;
		}
	}
	return o;
}

char *ecsctl_field_text(struct json_object *o, const char *path)
{
	for (;;) {
		const char *bar = strchr(path, '|');
		size_t len = bar ? (size_t)(bar - path) : strlen(path);
		char *s = render(walk(o, path, len));

		if (!s || *s || !bar)
			return s;
		free(s);
		path = bar + 1;
	}
}

/* East Asian wide characters take two columns (the common ranges of Unicode's EAW "W"
 * and "F"), so Chinese names keep a table aligned without depending on the locale. */
static bool wide(uint32_t c)
{
	return (c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0x303e) || (c >= 0x3041 && c <= 0x33ff) ||
	       (c >= 0x3400 && c <= 0x4dbf) || (c >= 0x4e00 && c <= 0x9fff) || (c >= 0xa000 && c <= 0xa4cf) ||
	       (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) || (c >= 0xfe30 && c <= 0xfe4f) ||
	       (c >= 0xff00 && c <= 0xff60) || (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x1f300 && c <= 0x1f64f) ||
	       (c >= 0x1f900 && c <= 0x1f9ff) || (c >= 0x20000 && c <= 0x3fffd);
}

/* Terminal columns of a UTF-8 string (a control character counts as its one '?'). */
static size_t text_width(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t w = 0;

	while (*p) {
		uint32_t c = *p;
		int extra = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;

		if (c >= 0x80 && c < 0xc0) { /* a stray continuation byte */
			p++;
			continue;
		}
		c &= extra ? 0x3fu >> extra : 0x7fu;
		p++;
		for (; extra && (*p & 0xc0) == 0x80; extra--, p++)
			c = (c << 6) | (*p & 0x3f);
		w += wide(c) ? 2 : 1;
	}
	return w;
}

void ecsctl_print_safe(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		fputc(c < 0x20 || c == 0x7f ? '?' : c, f);
	}
}

static void print_cell(FILE *f, const char *s, size_t width, bool last)
{
	ecsctl_print_safe(f, s);
	if (last)
		return;
	for (size_t w = text_width(s); w < width + 2; w++)
		fputc(' ', f);
}

int ecsctl_print_table(FILE *f, const struct ecsctl_column *cols, size_t n_cols, struct json_object *rows)
{
	size_t n_rows = rows ? json_object_array_length(rows) : 0;
	char **cells = calloc((n_rows + 1) * n_cols, sizeof(char *));
	_cleanup_free_ size_t *width = calloc(n_cols, sizeof(size_t));
	int r = 0;

	if (!cells || !width) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t c = 0; c < n_cols; c++) {
		cells[c] = strdup(cols[c].header);
		if (!cells[c]) {
			r = -ENOMEM;
			goto out;
		}
	}
	for (size_t i = 0; i < n_rows; i++) {
		struct json_object *row = json_object_array_get_idx(rows, i);

		for (size_t c = 0; c < n_cols; c++) {
			char **cell = &cells[(i + 1) * n_cols + c];

			*cell = ecsctl_field_text(row, cols[c].path);
			if (!*cell) {
				r = -ENOMEM;
				goto out;
			}
			if (!**cell) {
				free(*cell);
				*cell = strdup("-");
				if (!*cell) {
					r = -ENOMEM;
					goto out;
				}
			}
		}
	}
	for (size_t i = 0; i <= n_rows; i++)
		for (size_t c = 0; c < n_cols; c++) {
			size_t w = text_width(cells[i * n_cols + c]);

			if (w > width[c])
				width[c] = w;
		}
	for (size_t i = 0; i <= n_rows; i++) {
		for (size_t c = 0; c < n_cols; c++)
			print_cell(f, cells[i * n_cols + c], width[c], c + 1 == n_cols);
		fputc('\n', f);
	}
out:
	for (size_t i = 0; cells && i < (n_rows + 1) * n_cols; i++)
		free(cells[i]);
	free(cells);
	return r;
}

int ecsctl_print_ids(FILE *f, struct json_object *rows, const char *key)
{
	size_t n = rows ? json_object_array_length(rows) : 0;

	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *s = ecsctl_field_text(json_object_array_get_idx(rows, i), key);

		if (!s)
			return -ENOMEM;
		ecsctl_print_safe(f, s);
		fputc('\n', f);
	}
	return 0;
}

struct field {
	char *name;
	char *value;
};

struct fields {
	struct field *v;
	size_t n, cap;
};

static int fields_add(struct fields *fs, char *name, char *value)
{
	if (!name || !value) {
		free(name);
		free(value);
		return -ENOMEM;
	}
	if (fs->n == fs->cap) {
		size_t cap = fs->cap ? fs->cap * 2 : 32;
		struct field *v = realloc(fs->v, cap * sizeof(*v));

		if (!v) {
			free(name);
			free(value);
			return -ENOMEM;
		}
		fs->v = v;
		fs->cap = cap;
	}
	fs->v[fs->n++] = (struct field){ name, value };
	return 0;
}

static int flatten(struct fields *fs, const char *prefix, struct json_object *o, unsigned depth)
{
	json_object_object_foreach(o, key, v)
	{
		_cleanup_free_ char *name = prefix ? ecs_strdup_printf("%s.%s", prefix, key) : strdup(key);
		int r;

		if (!name)
			return -ENOMEM;
		if (json_object_is_type(v, json_type_object) && !wrapped_list(v) && !ecs_json_get(v, "TagKey") &&
		    depth < 4)
			r = flatten(fs, name, v, depth + 1);
		else
			r = fields_add(fs, TAKE_PTR(name), render(v));
		if (r < 0)
			return r;
	}
	return 0;
}

int ecsctl_print_object(FILE *f, enum ecsctl_output fmt, struct json_object *o)
{
	struct fields fs = { 0 };
	size_t width = strlen("FIELD");
	int r;

	if (fmt == ECSCTL_OUTPUT_JSON) {
		ecsctl_print_json(f, o);
		return 0;
	}
	r = flatten(&fs, NULL, o, 0);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < fs.n; i++)
		if (text_width(fs.v[i].name) > width)
			width = text_width(fs.v[i].name);
	if (fmt == ECSCTL_OUTPUT_TABLE) {
		print_cell(f, "FIELD", width, false);
		fputs("VALUE\n", f);
	}
	for (size_t i = 0; i < fs.n; i++) {
		if (fmt == ECSCTL_OUTPUT_TABLE) {
			print_cell(f, fs.v[i].name, width, false);
			print_cell(f, *fs.v[i].value ? fs.v[i].value : "-", 0, true);
		} else {
			ecsctl_print_safe(f, fs.v[i].name);
			fputc('\t', f);
			ecsctl_print_safe(f, fs.v[i].value);
		}
		fputc('\n', f);
	}
out:
	for (size_t i = 0; i < fs.n; i++) {
		free(fs.v[i].name);
		free(fs.v[i].value);
	}
	free(fs.v);
	return r;
}

void ecsctl_print_json(FILE *f, struct json_object *o)
{
	fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
							JSON_C_TO_STRING_NOSLASHESCAPE),
	      f);
	fputc('\n', f);
}

void ecsctl_progress_update(struct ecsctl_progress *p, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	if (!p->enabled)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fputs("\r\033[K", p->f);
	ecsctl_print_safe(p->f, line);
	fflush(p->f);
	p->shown = true;
}

void ecsctl_progress_done(struct ecsctl_progress *p)
{
	if (!p->enabled || !p->shown)
		return;
	fputs("\r\033[K", p->f);
	fflush(p->f);
	p->shown = false;
}

/* output.h: how results are printed.
 *
 *   table  aligned columns under an upper-case header (lists), or FIELD/VALUE rows (one
 *          object); empty cells show "-". The default when stdout is a terminal.
 *   json   the API's reply, pretty-printed (lists gathered from every page into one).
 *   text   for scripts: the ids one a line (lists, and what a verb created); for one
 *          object, "Field<TAB>value" lines. The default when stdout is not a terminal.
 *
 * A value is found by a path: "A.B" descends objects, "A|B" takes the first alternative
 * that is not empty; an array (or a wrapped list such as {"IpAddress":[…]}) is joined with
 * ","; a tag {"TagKey","TagValue"} reads "k=v". Control characters from the server are
 * printed as '?', so a reply cannot drive the terminal.
 *
 * The progress line of --wait goes to stderr, rewritten in place, only on a terminal. */
#ifndef ECSCTL_OUTPUT_H
#define ECSCTL_OUTPUT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>

enum ecsctl_output {
	ECSCTL_OUTPUT_TABLE,
	ECSCTL_OUTPUT_JSON,
	ECSCTL_OUTPUT_TEXT,
	_ECSCTL_OUTPUT_MAX,
};

int ecsctl_output_from_string(const char *s, enum ecsctl_output *ret);
const char *ecsctl_output_to_string(enum ecsctl_output o);

struct ecsctl_column {
	const char *header;
	const char *path;
};

/* The text of the value at path in o ("" when absent); caller frees. NULL: no memory. */
char *ecsctl_field_text(struct json_object *o, const char *path);

/* rows: an array of objects. */
int ecsctl_print_table(FILE *f, const struct ecsctl_column *cols, size_t n_cols, struct json_object *rows);
/* The value of key in each row, one a line. */
int ecsctl_print_ids(FILE *f, struct json_object *rows, const char *key);
/* One object: table (FIELD/VALUE) or text ("Field\tvalue"); nested objects are flattened
 * with dotted names. */
int ecsctl_print_object(FILE *f, enum ecsctl_output fmt, struct json_object *o);
void ecsctl_print_json(FILE *f, struct json_object *o);
/* s with control characters as '?'. */
void ecsctl_print_safe(FILE *f, const char *s);

struct ecsctl_progress {
	FILE *f;
	bool enabled;	/* a terminal */
	bool shown;
};

void ecsctl_progress_update(struct ecsctl_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Clear the line (when one was shown). */
void ecsctl_progress_done(struct ecsctl_progress *p);

#endif

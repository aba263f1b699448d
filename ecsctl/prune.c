#include "prune.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "timeutil.h"
#include "util.h"

struct candidate {
	const char *id;
	time_t created;
	bool in_use;
};

static int newest_first(const void *pa, const void *pb)
{
	const struct candidate *a = pa, *b = pb;

	if (a->created != b->created)
		return a->created > b->created ? -1 : 1;
	return -strcmp(a->id, b->id);
}

void ecsctl_prune_clear(struct ecsctl_prune *p)
{
	if (!p)
		return;
	free(p->keep);
	free(p->remove);
	free(p->in_use);
	memset(p, 0, sizeof(*p));
}

int ecsctl_prune_select(struct json_object *snapshots, const char *disk_id, size_t keep, struct ecsctl_prune *ret)
{
	size_t n = snapshots ? json_object_array_length(snapshots) : 0, m = 0;
	_cleanup_free_ struct candidate *c = calloc(n + 1, sizeof(*c));
	struct ecsctl_prune p = { 0 };

	p.keep = calloc(n + 1, sizeof(char *));
	p.remove = calloc(n + 1, sizeof(char *));
	p.in_use = calloc(n + 1, sizeof(char *));
	if (!c || !p.keep || !p.remove || !p.in_use) {
		ecsctl_prune_clear(&p);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *s = json_object_array_get_idx(snapshots, i);
		const char *id = ecs_json_str(s, "SnapshotId", NULL);
		const char *usage = ecs_json_str(s, "Usage", "");
		time_t t;

		if (!id || !*id || !streq(ecs_json_str(s, "SourceDiskId", NULL), disk_id) ||
		    !streq(ecs_json_str(s, "Status", NULL), "accomplished") ||
		    ecs_time_parse(ecs_json_str(s, "CreationTime", ""), &t) < 0)
			continue;
		c[m++] = (struct candidate){ id, t, strstr(usage, "image") != NULL };
	}
	qsort(c, m, sizeof(*c), newest_first);
	for (size_t i = 0; i < m; i++) {
		/* Pages read while snapshots come and go may list one twice: count it once. */
		if (i && streq(c[i].id, c[i - 1].id))
			continue;
		if (p.n_keep < keep)
			p.keep[p.n_keep++] = c[i].id;
		else if (c[i].in_use)
			p.in_use[p.n_in_use++] = c[i].id;
		else
			p.remove[p.n_remove++] = c[i].id;
	}
	*ret = p;
	return 0;
}

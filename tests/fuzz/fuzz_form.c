/* libFuzzer target: the form/query parser and percent-decoding the APIs run on every
 * request, and the signature over whatever they produce. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"
#include "sign.h"
#include "url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ecs_kvlist l = ECS_KVLIST_INIT;
	char *dec = NULL, *sig;

	if (ecs_form_parse((const char *)data, size, 1000, &l) == 0) {
		sig = ecs_rpc_sign("GET", &l, "secret");
		free(sig);
		/* Parsing what we build gives back the same pairs. */
		char *built = ecs_form_build(&l);
		struct ecs_kvlist back = ECS_KVLIST_INIT;

		if (built && ecs_form_parse(built, strlen(built), 1000, &back) == 0) {
			if (back.n != l.n)
				abort();
			for (size_t i = 0; i < l.n; i++)
				if (strcmp(back.items[i].key, l.items[i].key) || strcmp(back.items[i].value, l.items[i].value))
					abort();
		}
		free(built);
		ecs_kvlist_clear(&back);
	}
	ecs_kvlist_clear(&l);
	if (ecs_percent_decode((const char *)data, size, false, &dec) == 0)
		free(dec);
	return 0;
}

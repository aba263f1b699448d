/* libFuzzer target: bounded JSON parsing and the strict reader used on API bodies, and
 * strict base64 decoding (UserData). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "crypto.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *o = NULL;
	const char *err;
	uint8_t *dec = NULL;
	size_t len;

	if (ecs_json_parse((const char *)data, size, &o, &err) == 0) {
		struct ecs_jreader r;

		ecs_jr_init(&r, o);
		ecs_jr_str(&r, "Name", ECS_JR_REQUIRED, 128, NULL);
		ecs_jr_int(&r, "Size", 0, 1, 2048, 20);
		ecs_jr_bool(&r, "Live", 0, false);
		ecs_jr_array(&r, "Disks", 0, 16);
		ecs_jr_object(&r, "Spec", 0);
		ecs_jr_finish(&r, true);
		json_object_put(o);
	}
	if (ecs_base64_decode((const char *)data, size, &dec, &len) == 0)
		free(dec);
	return 0;
}

#include "sign.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "url.h"
#include "util.h"

char *ecs_rpc_string_to_sign(const char *method, const struct ecs_kvlist *params)
{
	struct ecs_kvlist sorted = ECS_KVLIST_INIT;
	_cleanup_free_ char *canon = NULL, *enc = NULL;
	char *sts = NULL;

	for (size_t i = 0; i < params->n; i++) {
		if (streq(params->items[i].key, "Signature"))
			continue;
		if (ecs_kvlist_add(&sorted, params->items[i].key, params->items[i].value) < 0)
			goto out;
	}
	if (ecs_kvlist_sort(&sorted) < 0)
		goto out;
	canon = ecs_form_build(&sorted);
	if (!canon)
		goto out;
	enc = ecs_percent_encode(canon);
	if (!enc)
		goto out;
	sts = ecs_strdup_printf("%s&%%2F&%s", method, enc);
out:
	ecs_kvlist_clear(&sorted);
	return sts;
}

static char *sign_sts(const char *sts, const char *secret)
{
	_cleanup_free_ char *key = ecs_strdup_printf("%s&", secret);
	uint8_t mac[ECS_SHA1_LEN];

	if (!key || ecs_hmac_sha1(key, strlen(key), sts, strlen(sts), mac) < 0)
		return NULL;
	return ecs_base64_encode(mac, sizeof(mac));
}

char *ecs_rpc_sign(const char *method, const struct ecs_kvlist *params, const char *secret)
{
	_cleanup_free_ char *sts = ecs_rpc_string_to_sign(method, params);

	return sts ? sign_sts(sts, secret) : NULL;
}

int ecs_rpc_verify(const char *method, const struct ecs_kvlist *params, const char *secret, char **ret_sts)
{
	const char *given = ecs_kvlist_get(params, "Signature");
	_cleanup_free_ char *sts = NULL, *want = NULL;

	if (!given)
		return -ENOENT;
	sts = ecs_rpc_string_to_sign(method, params);
	if (!sts)
		return -ENOMEM;
	want = sign_sts(sts, secret);
	if (!want)
		return -ENOMEM;
	if (ecs_streq_ct(given, want))
		return 0;
	if (ret_sts)
		*ret_sts = TAKE_PTR(sts);
	return -EBADMSG;
}

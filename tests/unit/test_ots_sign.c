/* Tests for storage/ots/sign.c: the request signature as the Node SDK (npm tablestore
 * 5.6.5, TableStore.Signer) computes it, and the response Authorization. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"
#include "crypto.h"
#include "ots_sign.h"

static void headers(struct ecs_kvlist *h, const char *sig)
{
	/* in the order and case a client might send them */
	assert_int_equal(ecs_kvlist_add(h, "X-Ots-Date", "2026-12-06T20:00:00.000Z"), 0);
	assert_int_equal(ecs_kvlist_add(h, "Content-Type", "application/x.pb2"), 0);
	assert_int_equal(ecs_kvlist_add(h, "x-ots-instancename", "default"), 0);
	assert_int_equal(ecs_kvlist_add(h, "x-ots-apiversion", "2015-12-31"), 0);
	assert_int_equal(ecs_kvlist_add(h, "x-ots-contentmd5", "1B2M2Y8AsgTpgAmY7PhCfg=="), 0);
	assert_int_equal(ecs_kvlist_add(h, "x-ots-accesskeyid", " AKID "), 0);
	if (sig)
		assert_int_equal(ecs_kvlist_add(h, "x-ots-signature", sig), 0);
}

static void test_request_signature_sdk(void **state)
{
	struct ecs_kvlist h = ECS_KVLIST_INIT;
	char *sts;

	(void)state;
	headers(&h, "Y3EVWS23KASa3vTrNuUgdL5rf+U=");
	sts = ots_sign_request_string("GetRow", &h);
	assert_string_equal(sts, "/GetRow\nPOST\n\nx-ots-accesskeyid:AKID\nx-ots-apiversion:2015-12-31\n"
				 "x-ots-contentmd5:1B2M2Y8AsgTpgAmY7PhCfg==\nx-ots-date:2026-12-06T20:00:00.000Z\n"
				 "x-ots-instancename:default\n");
	free(sts);
	/* the SDK's signature for these headers and the secret "secret" */
	assert_int_equal(ots_sign_verify("secret", "GetRow", &h), 0);
	assert_int_equal(ots_sign_verify("Secret", "GetRow", &h), -EBADMSG);
	assert_int_equal(ots_sign_verify("secret", "PutRow", &h), -EBADMSG);
	ecs_kvlist_set(&h, "x-ots-instancename", "other");
	assert_int_equal(ots_sign_verify("secret", "GetRow", &h), -EBADMSG);
	ecs_kvlist_clear(&h);
	headers(&h, NULL);
	assert_int_equal(ots_sign_verify("secret", "GetRow", &h), -ENOENT);
	ecs_kvlist_clear(&h);
}

static void test_response_authorization(void **state)
{
	struct ecs_kvlist h = ECS_KVLIST_INIT;
	char want[OTS_SIG_LEN + 1], *auth, *expect;

	(void)state;
	ecs_kvlist_add(&h, "x-ots-requestid", "r1");
	ecs_kvlist_add(&h, "x-ots-contentmd5", "m");
	ecs_kvlist_add(&h, "x-ots-date", "d");
	ecs_kvlist_add(&h, "x-ots-contenttype", "protocol buffer");
	auth = ots_sign_response("AK", "secret", "ListTable", &h);
	assert_int_equal(ecs_hmac_sha1_b64("secret",
					   "x-ots-contentmd5:m\nx-ots-contenttype:protocol buffer\nx-ots-date:d\n"
					   "x-ots-requestid:r1\n/ListTable",
					   want),
			 0);
	expect = malloc(strlen(want) + 8);
	sprintf(expect, "OTS AK:%s", want);
	assert_string_equal(auth, expect);
	free(expect);
	free(auth);
	ecs_kvlist_clear(&h);
}

UNIT_MAIN("ots_sign", NULL, NULL, NULL, NULL,
	  cmocka_unit_test(test_request_signature_sdk),
	  cmocka_unit_test(test_response_authorization))

/* Tests for controller/vnc.c's one-time tokens (good once, for CTL_VNC_TOKEN_TTL_S seconds,
 * bounded in number) and the WebSocket handshake's accept value (RFC 6455's example). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"
#include "vnc.h"

static const struct ctl_vnc_grant alice = { "acct-alice", "i-0123456789abcdefghij", "host-1" };

static void test_token_once(void **state)
{
	struct ctl_vnc_tokens *t;
	struct ctl_vnc_grant g;
	char tok[CTL_VNC_TOKEN_LEN + 1], tok2[CTL_VNC_TOKEN_LEN + 1];

	(void)state;
	assert_int_equal(ctl_vnc_tokens_new(&t), 0);
	assert_int_equal(ctl_vnc_token_issue(t, &alice, 1000, tok), 0);
	assert_int_equal(strlen(tok), CTL_VNC_TOKEN_LEN);
	assert_int_equal(ctl_vnc_token_issue(t, &alice, 1000, tok2), 0);
	assert_string_not_equal(tok, tok2);
	/* Good once, with its grant. */
	assert_int_equal(ctl_vnc_token_take(t, tok, 1000 + CTL_VNC_TOKEN_TTL_S * 1000 - 1, &g), 0);
	assert_string_equal(g.account_id, "acct-alice");
	assert_string_equal(g.instance_id, alice.instance_id);
	assert_string_equal(g.host_id, "host-1");
	assert_int_equal(ctl_vnc_token_take(t, tok, 1001, &g), -ENOENT);
	/* Expired at its TTL, and gone after that answer. */
	assert_int_equal(ctl_vnc_token_take(t, tok2, 1000 + CTL_VNC_TOKEN_TTL_S * 1000, &g), -ETIMEDOUT);
	assert_int_equal(ctl_vnc_token_take(t, tok2, 1000, &g), -ENOENT);
	/* Not a token. */
	assert_int_equal(ctl_vnc_token_take(t, NULL, 1000, &g), -ENOENT);
	assert_int_equal(ctl_vnc_token_take(t, "abc", 1000, &g), -ENOENT);
	tok[0] = tok[0] == 'a' ? 'b' : 'a';
	assert_int_equal(ctl_vnc_token_take(t, tok, 1000, &g), -ENOENT);
	ctl_vnc_tokens_free(t);
}

static void test_token_limit(void **state)
{
	struct ctl_vnc_tokens *t;
	struct ctl_vnc_grant g;
	char tok[CTL_VNC_TOKEN_LEN + 1], first[CTL_VNC_TOKEN_LEN + 1];

	(void)state;
	assert_int_equal(ctl_vnc_tokens_new(&t), 0);
	for (int i = 0; i < CTL_VNC_MAX_TOKENS; i++)
		assert_int_equal(ctl_vnc_token_issue(t, &alice, 1000, i ? tok : first), 0);
	assert_int_equal(ctl_vnc_token_issue(t, &alice, 1000, tok), -ENOSPC);
	/* A used one makes room; so do expired ones. */
	assert_int_equal(ctl_vnc_token_take(t, first, 1000, &g), 0);
	assert_int_equal(ctl_vnc_token_issue(t, &alice, 1000, tok), 0);
	assert_int_equal(ctl_vnc_token_issue(t, &alice, 2000, tok), -ENOSPC);
	assert_int_equal(ctl_vnc_token_issue(t, &alice, 1000 + CTL_VNC_TOKEN_TTL_S * 1000, tok), 0);
	ctl_vnc_tokens_free(t);
}

static void test_ws_accept(void **state)
{
	char out[29];

	(void)state;
	assert_int_equal(ctl_vnc_ws_accept("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
	assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	assert_int_equal(ctl_vnc_ws_accept(NULL, out), -EINVAL);
	assert_int_equal(ctl_vnc_ws_accept("short", out), -EINVAL);
}

UNIT_MAIN("ctl_vnc", NULL, NULL, NULL, NULL,
	  cmocka_unit_test(test_token_once),
	  cmocka_unit_test(test_token_limit),
	  cmocka_unit_test(test_ws_accept))

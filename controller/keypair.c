#include "keypair.h"

#include <errno.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "crypto.h"
#include "id.h"
#include "jobs.h"
#include "json.h"
#include "log.h"
#include "params.h"
#include "store.h"
#include "util.h"

#define RSA_BITS 2048
#define MAX_DELETE 100	  /* DeleteKeyPairs: names in one call (ECS) */
#define MAX_BIND 50	  /* Attach/DetachKeyPair: instances in one call (ECS) */
#define MAX_PAGE_SIZE 50  /* DescribeKeyPairs (ECS) */
#define MAX_COMMENT 256
#define MAX_BLOB 4096	  /* an RSA 16384 key's blob fits */

/* ---- names ---- */

/* ECS: 2-128 characters (ctl_ascii_name_ok; the CreateKeyPair and ImportKeyPair pages
 * together). One difference: a single letter is accepted too, as this project's own tour
 * names a key pair "k" (docs/ecs-api.md). */
#define KEYPAIR_NAME_MIN 1

static int read_name(struct ctl_call *call, const char **ret)
{
	const char *name;
	int r = ctl_param_str(call, "KeyPairName", CTL_REQUIRED | CTL_NONEMPTY, 1024, NULL, &name);

	if (r < 0)
		return r;
	if (!ctl_ascii_name_ok(name, KEYPAIR_NAME_MIN))
		return ctl_fail(call, 400, "InvalidKeyPairName.Malformed", "Specified Key Pair name is not valid.");
	*ret = name;
	return 0;
}

/* ---- the SSH wire format (RFC 4251 section 5) ---- */

struct blob_writer {
	uint8_t data[MAX_BLOB];
	size_t len;
	bool overflow;
};

static void put_string(struct blob_writer *w, const void *p, size_t n)
{
	if (w->overflow || n > sizeof(w->data) - w->len || sizeof(w->data) - w->len - n < 4) {
		w->overflow = true;
		return;
	}
	w->data[w->len++] = (uint8_t)(n >> 24);
	w->data[w->len++] = (uint8_t)(n >> 16);
	w->data[w->len++] = (uint8_t)(n >> 8);
	w->data[w->len++] = (uint8_t)n;
	memcpy(w->data + w->len, p, n);
	w->len += n;
}

/* A positive mpint: big-endian, with a leading zero byte when the top bit is set. */
static void put_mpint(struct blob_writer *w, const BIGNUM *bn)
{
	uint8_t tmp[MAX_BLOB / 2 + 1];
	int n = BN_num_bytes(bn);

	if (n < 0 || (size_t)n + 1 > sizeof(tmp)) {
		w->overflow = true;
		return;
	}
	tmp[0] = 0;
	BN_bn2bin(bn, tmp + 1);
	if (n > 0 && (tmp[1] & 0x80))
		put_string(w, tmp, (size_t)n + 1);
	else
		put_string(w, tmp + 1, (size_t)n);
}

struct blob_reader {
	const uint8_t *p;
	size_t left;
};

static int get_string(struct blob_reader *r, const uint8_t **ret, size_t *ret_len)
{
	uint32_t n;

	if (r->left < 4)
		return -EINVAL;
	n = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
	if (n > r->left - 4)
		return -EINVAL;
	*ret = r->p + 4;
	*ret_len = n;
	r->p += 4 + (size_t)n;
	r->left -= 4 + (size_t)n;
	return 0;
}

static bool bytes_are(const uint8_t *p, size_t n, const char *s)
{
	return n == strlen(s) && memcmp(p, s, n) == 0;
}

/* A positive, minimally encoded mpint; its size in bits. */
static int get_mpint(struct blob_reader *r, size_t *ret_bits)
{
	const uint8_t *p;
	size_t n, bits;

	if (get_string(r, &p, &n) < 0 || n == 0 || (p[0] & 0x80) || (p[0] == 0 && (n < 2 || !(p[1] & 0x80))))
		return -EINVAL;
	if (p[0] == 0) {
		p++;
		n--;
	}
	bits = n * 8;
	for (uint8_t top = p[0]; !(top & 0x80); top <<= 1)
		bits--;
	*ret_bits = bits;
	return 0;
}

/* The key the blob carries after its type string, for each type ECS imports. */
static int check_key(const char *type, struct blob_reader *r)
{
	const uint8_t *p;
	size_t n, bits, unused;

	if (streq(type, "ssh-rsa")) {
		/* e, then n: at least 1024 bits, as OpenSSH wants. */
		if (get_mpint(r, &unused) < 0 || get_mpint(r, &bits) < 0 || bits < 1024 || bits > 16384)
			return -EINVAL;
	} else if (streq(type, "ssh-dss")) {
		for (int i = 0; i < 4; i++) /* p, q, g, y */
			if (get_mpint(r, &unused) < 0)
				return -EINVAL;
	} else if (streq(type, "ssh-ed25519")) {
		if (get_string(r, &p, &n) < 0 || n != 32)
			return -EINVAL;
	} else if (str_has_prefix(type, "ecdsa-sha2-")) {
		const char *curve = type + strlen("ecdsa-sha2-");
		size_t point = streq(curve, "nistp256") ? 65 : streq(curve, "nistp384") ? 97 : 133;

		/* The curve's name again, then an uncompressed point. */
		if (get_string(r, &p, &n) < 0 || !bytes_are(p, n, curve) || get_string(r, &p, &n) < 0 || n != point ||
		    p[0] != 0x04)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	return r->left == 0 ? 0 : -EINVAL;
}

/* RFC 4716 section 4: MD5 of the blob, lower-case hex pairs joined by ':'. */
static int fingerprint(const uint8_t *blob, size_t len, char ret[CTL_KEYPAIR_FINGERPRINT_LEN + 1])
{
	uint8_t md[ECS_MD5_LEN];
	int r = ecs_md5(blob, len, md);

	if (r < 0)
		return r;
	for (size_t i = 0; i < ECS_MD5_LEN; i++)
		snprintf(ret + 3 * i, 4, i + 1 < ECS_MD5_LEN ? "%02x:" : "%02x", md[i]);
	return 0;
}

int ctl_keypair_parse_public(const char *line, char **ret_line, char ret_fingerprint[CTL_KEYPAIR_FINGERPRINT_LEN + 1])
{
	static const char *const types[] = { "ssh-rsa", "ssh-dss", "ssh-ed25519", "ecdsa-sha2-nistp256",
					     "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", NULL };
	_cleanup_free_ char *copy = NULL, *out = NULL;
	_cleanup_free_ uint8_t *blob = NULL;
	struct blob_reader rd;
	const uint8_t *p;
	char *type, *b64, *comment, *end, fp[CTL_KEYPAIR_FINGERPRINT_LEN + 1];
	size_t n, blob_len;
	bool known = false;

	if (strlen(line) > CTL_KEYPAIR_MAX_LINE)
		return -EINVAL;
	copy = strdup(line);
	if (!copy)
		return -ENOMEM;
	/* One line: surrounding blanks go, nothing else may be a control character. */
	type = copy + strspn(copy, " \t\r\n");
	end = type + strlen(type);
	while (end > type && strchr(" \t\r\n", end[-1]))
		*--end = '\0';
	for (const char *s = type; *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return -EINVAL;
	b64 = type + strcspn(type, " \t");
	if (!*b64)
		return -EINVAL;
	*b64++ = '\0';
	b64 += strspn(b64, " \t");
	comment = b64 + strcspn(b64, " \t");
	if (*comment) {
		*comment++ = '\0';
		comment += strspn(comment, " \t");
	}
	if (strlen(comment) > MAX_COMMENT)
		return -EINVAL;
	for (size_t i = 0; types[i] && !known; i++)
		known = streq(types[i], type);
	if (!known || !*b64 || ecs_base64_decode(b64, strlen(b64), &blob, &blob_len) < 0 || blob_len == 0)
		return -EINVAL;
	/* The blob names its own type: it must be the one the line claims. */
	rd = (struct blob_reader){ blob, blob_len };
	if (get_string(&rd, &p, &n) < 0 || !bytes_are(p, n, type) || check_key(type, &rd) < 0)
		return -EINVAL;
	if (fingerprint(blob, blob_len, fp) < 0)
		return -EIO;
	out = *comment ? ecs_strdup_printf("%s %s %s", type, b64, comment) : ecs_strdup_printf("%s %s", type, b64);
	if (!out)
		return -ENOMEM;
	memcpy(ret_fingerprint, fp, sizeof(fp));
	*ret_line = TAKE_PTR(out);
	return 0;
}

/* ---- making a key ---- */

static void free_secret(char *s)
{
	if (s)
		OPENSSL_cleanse(s, strlen(s));
	free(s);
}

/* An RSA key: its private half as PEM in PKCS#1 ("RSA PRIVATE KEY", as ECS answers) and
 * its public half as an OpenSSH line ending in comment. */
static int rsa_generate(const char *comment, char **ret_pem, char **ret_line,
			char ret_fingerprint[CTL_KEYPAIR_FINGERPRINT_LEN + 1])
{
	struct blob_writer *w = calloc(1, sizeof(*w));
	_cleanup_free_ char *b64 = NULL, *line = NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *n = NULL, *e = NULL;
	BIO *bio = NULL;
	char *mem, *pem = NULL;
	long len;
	int r = -EIO;

	if (!w)
		return -ENOMEM;
	pkey = EVP_RSA_gen(RSA_BITS);
	if (!pkey || EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
	    EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1)
		goto out;
	put_string(w, "ssh-rsa", strlen("ssh-rsa"));
	put_mpint(w, e);
	put_mpint(w, n);
	if (w->overflow || fingerprint(w->data, w->len, ret_fingerprint) < 0)
		goto out;
	b64 = ecs_base64_encode(w->data, w->len);
	line = b64 ? ecs_strdup_printf("ssh-rsa %s %s", b64, comment) : NULL;
	/* A memory BIO clears its buffer when freed (BUF_MEM_free). */
	bio = BIO_new(BIO_s_mem());
	if (!line || !bio || PEM_write_bio_PrivateKey_traditional(bio, pkey, NULL, NULL, 0, NULL, NULL) != 1)
		goto out;
	len = BIO_get_mem_data(bio, &mem);
	pem = len > 0 ? strndup(mem, (size_t)len) : NULL;
	if (!pem)
		goto out;
	*ret_pem = pem;
	*ret_line = TAKE_PTR(line);
	r = 0;
out:
	BIO_free(bio);
	BN_free(n);
	BN_free(e);
	EVP_PKEY_free(pkey);
	free(w);
	return r;
}

/* ---- storing ---- */

/* Insert the key pair, within the account's limit. */
static int store_key(struct ctl_call *call, const char *name, const char *fp, const char *public_key,
		     char ret_id[ECS_ID_MAX])
{
	sqlite3 *db = ctl_db_get(call->c->store);
	sqlite3_stmt *st;
	long long n = -1;
	char id[ECS_ID_MAX];
	int r;

	if (!db || ctl_db_tx_begin(db) < 0) {
		r = ctl_db_failure(call);
		goto out;
	}
	if (ctl_db_count(db, "SELECT count(*) FROM key_pairs WHERE account_id = ?1", (const char *const[]){ call->account->account_id }, 1,
			 &n) < 0 ||
	    ecs_id_new(ECS_ID_KEY_PAIR, id) < 0) {
		r = ctl_db_failure(call);
		goto out;
	}
	if (n >= CTL_KEYPAIR_MAX) {
		r = ctl_fail(call, 403, "QuotaExceed.KeyPair", "The key pair quota exceeds (%d).", CTL_KEYPAIR_MAX);
		goto out;
	}
	st = ctl_db_prepare_args(db,
				 "INSERT INTO key_pairs (account_id, name, fingerprint, public_key, created_at, key_pair_id)"
				 " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
				 (const char *const[]){ call->account->account_id, name, fp, public_key }, 4);
	if (!st) {
		r = ctl_db_failure(call);
		goto out;
	}
	sqlite3_bind_int64(st, 5, time(NULL));
	sqlite3_bind_text(st, 6, id, -1, SQLITE_STATIC);
	r = ctl_db_step_done(st);
	sqlite3_finalize(st);
	if (r == -EEXIST) {
		r = ctl_fail(call, 400, "KeyPair.AlreadyExist", "The key pair already exist.");
		goto out;
	}
	r = ctl_db_commit(call, db, r);
	if (r < 0)
		goto out;
	memcpy(ret_id, id, sizeof(id));
out:
	ctl_db_put(call->c->store, db);
	return r;
}

int ctl_keypair_create(struct ctl_call *call, struct json_object *out)
{
	char fp[CTL_KEYPAIR_FINGERPRINT_LEN + 1], id[ECS_ID_MAX];
	_cleanup_free_ char *line = NULL;
	char *pem = NULL;
	const char *name;
	int r;

	if ((r = read_name(call, &name)) < 0)
		return r;
	/* Made before the write lock is taken: a key takes a while. */
	r = rsa_generate(name, &pem, &line, fp);
	if (r < 0) {
		log_error("cannot make an RSA key", "account=%s error=\"%s\"", call->account->account_id, strerror(-r));
		return ctl_db_failure(call);
	}
	r = store_key(call, name, fp, line, id);
	if (r == 0) {
		ecs_jb_str(out, "KeyPairId", id);
		ecs_jb_str(out, "KeyPairName", name);
		ecs_jb_str(out, "KeyPairFingerPrint", fp);
		ecs_jb_str(out, "PrivateKeyBody", pem);
		log_info("key pair created", "account=%s key_pair=%s", call->account->account_id, name);
	}
	free_secret(pem);
	return r;
}

int ctl_keypair_import(struct ctl_call *call, struct json_object *out)
{
	char fp[CTL_KEYPAIR_FINGERPRINT_LEN + 1], id[ECS_ID_MAX];
	_cleanup_free_ char *line = NULL;
	const char *name, *body;
	int r;

	if ((r = read_name(call, &name)) < 0 ||
	    (r = ctl_param_str(call, "PublicKeyBody", CTL_REQUIRED | CTL_NONEMPTY, 4 * CTL_KEYPAIR_MAX_LINE, NULL,
			       &body)) < 0)
		return r;
	r = ctl_keypair_parse_public(body, &line, fp);
	if (r == -ENOMEM)
		return ctl_db_failure(call);
	if (r < 0)
		return ctl_fail(call, 400, "InvalidPublicKeyBody.Malformed", "The PublicKeyBody format is not supported.");
	r = store_key(call, name, fp, line, id);
	if (r < 0)
		return r;
	ecs_jb_str(out, "KeyPairName", name);
	ecs_jb_str(out, "KeyPairFingerPrint", fp);
	log_info("key pair imported", "account=%s key_pair=%s", call->account->account_id, name);
	return 0;
}

/* ---- describing ---- */

/* ECS's KeyPairName filter takes '*' as "anything"; every other character is itself. As
 * an SQLite GLOB pattern: '?' and '[' are escaped as one-character classes. */
static char *name_glob(const char *pattern)
{
	char *g = malloc(3 * strlen(pattern) + 1), *p = g;

	if (!g)
		return NULL;
	for (; *pattern; pattern++) {
		if (*pattern == '?' || *pattern == '[') {
			*p++ = '[';
			*p++ = *pattern;
			*p++ = ']';
		} else {
			*p++ = *pattern;
		}
	}
	*p = '\0';
	return g;
}

static struct json_object *keypair_json(struct ctl_call *call, sqlite3_stmt *st, void *include_public)
{
	struct json_object *o = json_object_new_object();
	char created[ECS_ISO8601_LEN + 1];

	(void)call;
	ctl_time_str(sqlite3_column_int64(st, 2), created);
	ecs_jb_str(o, "KeyPairName", ctl_col(st, 0));
	ecs_jb_str(o, "KeyPairFingerPrint", ctl_col(st, 1));
	ecs_jb_str(o, "CreationTime", created);
	ecs_jb_str(o, "ResourceGroupId", "");
	if (*(bool *)include_public)
		ecs_jb_str(o, "PublicKey", ctl_col(st, 3));
	ecs_jb_list(o, "Tags", "Tag");
	return o;
}

int ctl_keypair_describe(struct ctl_call *call, struct json_object *out)
{
	_cleanup_free_ char *glob = NULL;
	const char *name, *fp;
	struct ctl_page page;
	bool include_public;
	int r;

	if ((r = ctl_param_str(call, "KeyPairName", CTL_NONEMPTY, 256, NULL, &name)) < 0 ||
	    (r = ctl_param_str(call, "KeyPairFingerPrint", CTL_NONEMPTY, 128, NULL, &fp)) < 0 ||
	    (r = ctl_param_bool(call, "IncludePublicKey", 0, false, &include_public)) < 0 ||
	    (r = ctl_param_paging(call, MAX_PAGE_SIZE, 10, &page)) < 0)
		return r;
	if (name && !(glob = name_glob(name)))
		return ctl_db_failure(call);
	return ctl_page_query(call, &page,
			      &(struct ctl_page_query){
				      .columns = "name, fingerprint, created_at, public_key",
				      .from = " FROM key_pairs WHERE account_id = ?1 AND (?2 IS NULL OR name GLOB ?2) AND"
					      " (?3 IS NULL OR fingerprint = lower(?3))",
				      .order = " ORDER BY created_at DESC, name",
				      .args = (const char *const[]){ glob, fp },
				      .n_args = 2,
				      .list_key = "KeyPairs",
				      .item_key = "KeyPair",
				      .row = keypair_json,
				      .arg = &include_public,
			      },
			      out);
}

/* ---- deleting ---- */

int ctl_keypair_delete(struct ctl_call *call, struct json_object *out)
{
	struct json_object *names = NULL;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	size_t n;
	int r;

	(void)out;
	r = ctl_param_json_list(call, "KeyPairNames", CTL_REQUIRED, MAX_DELETE, &names);
	if (r < 0)
		return r;
	n = json_object_array_length(names);
	if (n == 0) {
		r = ctl_fail(call, 400, "InvalidKeyPairNames.ValueNotSupported",
			     "The specified parameter \"KeyPairNames\" is not valid.");
		goto out;
	}
	db = ctl_db_begin(call, &r);
	if (!db)
		goto out;
	/* All or nothing: every name must be the caller's and bound to no instance. */
	st = ctl_db_prepare(db, "SELECT (SELECT count(*) FROM key_pairs WHERE account_id = ?1 AND name = ?2),"
				" (SELECT count(*) FROM instances WHERE account_id = ?1 AND key_pair_name = ?2 AND"
				" deleted = 0 AND desired != 'deleted')");
	if (!st) {
		r = ctl_db_failure(call);
		goto out;
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		const char *name = json_object_get_string(json_object_array_get_idx(names, i));

		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, call->account->account_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_ROW)
			r = ctl_db_failure(call);
		else if (sqlite3_column_int(st, 0) == 0)
			r = ctl_fail(call, 404, "InvalidKeyPair.NotFound", "The specified KeyPairName %.128s does not exist.",
				     name);
		else if (sqlite3_column_int(st, 1) > 0)
			r = ctl_fail(call, 400, "InvalidParameter.KeypairAlreadyAttachedInstance",
				     "The specified parameter \"KeyPairNames\" attached to instances can not be deleted.");
	}
	sqlite3_finalize(st);
	st = NULL;
	if (r < 0)
		goto out;
	{
		const char *args[] = { call->account->account_id, ecs_json_text(names, NULL) };

		r = ctl_db_run(db, "DELETE FROM key_pairs WHERE account_id = ?1 AND name IN (SELECT value FROM json_each(?2))",
			       args, 2);
	}
	r = ctl_db_commit(call, db, r);
	if (r < 0)
		goto out;
	log_info("key pairs deleted", "account=%s count=%zu", call->account->account_id, n);
out:
	ctl_db_put(call->c->store, db);
	json_object_put(names);
	return r;
}

/* ---- binding to instances ---- */

static void add_result(struct json_object *results, const char *instance_id, const char *code, const char *message)
{
	struct json_object *o = json_object_new_object();

	/* Strings all, as ECS answers them (the SDKs declare them so). */
	ecs_jb_str(o, "InstanceId", instance_id);
	ecs_jb_str(o, "Success", streq(code, "200") ? "true" : "false");
	ecs_jb_str(o, "Code", code);
	ecs_jb_str(o, "Message", message);
	json_object_array_add(results, o);
}

/* What the agent is told: the key pair's name and its public key, or none. */
static struct json_object *modify_args(const char *name, const char *public_key)
{
	struct json_object *args = json_object_new_object(), *keys = json_object_new_array();

	ecs_jb_str(args, "key_pair_name", name);
	if (public_key)
		json_object_array_add(keys, json_object_new_string(public_key));
	json_object_object_add(args, "public_keys", keys);
	return args;
}

/* Attach (or detach) the key pair to (from) each instance; one result per instance. An
 * instance that does not carry the key pair is left as it is by a detach, successfully. */
static int bind_key(struct ctl_call *call, struct json_object *out, bool attach)
{
	struct json_object *ids = NULL, *results = json_object_new_array(), *args = NULL;
	_cleanup_free_ char *public_key = NULL;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	const char *name;
	int r, failed = 0, changed = 0;
	char count[24];
	size_t n = 0;

	if ((r = ctl_param_str(call, "KeyPairName", CTL_REQUIRED | CTL_NONEMPTY, 1024, NULL, &name)) < 0 ||
	    (r = ctl_param_json_list(call, "InstanceIds", CTL_REQUIRED, MAX_BIND, &ids)) < 0)
		goto out;
	n = json_object_array_length(ids);
	db = ctl_db_begin(call, &r);
	if (!db)
		goto out;
	st = ctl_db_prepare_args(db, "SELECT public_key FROM key_pairs WHERE account_id = ?1 AND name = ?2",
				 (const char *const[]){ call->account->account_id, name }, 2);
	if (!st) {
		r = ctl_db_failure(call);
		goto out;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		public_key = strdup(ctl_col(st, 0));
	sqlite3_finalize(st);
	st = NULL;
	if (!public_key) {
		r = ctl_fail(call, 404, "InvalidKeyPairName.NotFound", "The specified KeyPairName does not exist.");
		goto out;
	}
	args = attach ? modify_args(name, public_key) : modify_args("", NULL);
	st = ctl_db_prepare(db, "SELECT key_pair_name FROM instances WHERE instance_id = ?1 AND account_id = ?2 AND"
				" deleted = 0 AND desired != 'deleted'");
	if (!st) {
		r = ctl_db_failure(call);
		goto out;
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		const char *id = json_object_get_string(json_object_array_get_idx(ids, i));
		const char *a[] = { id, attach ? name : "" };
		bool bound;

		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, call->account->account_id, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_ROW) {
			/* Another account's instance answers as a missing one. */
			add_result(results, id, "InvalidInstanceId.NotFound", "The specified InstanceId does not exist.");
			failed++;
			continue;
		}
		bound = streq(ctl_col(st, 0), name);
		if (!attach && !bound) {
			add_result(results, id, "200", "successful");
			continue;
		}
		/* Replaces any other key pair (ECS); the guest sees it at its next start. */
		r = ctl_db_run(db, "UPDATE instances SET key_pair_name = ?2 WHERE instance_id = ?1", a, 2);
		if (r == 0)
			r = ctl_jobs_add(db, "instance", id, "modify", args);
		if (r == 0) {
			add_result(results, id, "200", "successful");
			changed++;
		}
	}
	sqlite3_finalize(st);
	st = NULL;
	r = ctl_db_commit(call, db, r);
	if (r < 0)
		goto out;
	if (changed)
		ctl_jobs_kick(call->c);
	snprintf(count, sizeof(count), "%zu", n);
	ecs_jb_str(out, "TotalCount", count);
	snprintf(count, sizeof(count), "%d", failed);
	ecs_jb_str(out, "FailCount", count);
	ecs_jb_str(out, "KeyPairName", name);
	json_object_object_add(ecs_jb_obj(out, "Results"), "Result", json_object_get(results));
	log_info(attach ? "key pair attached" : "key pair detached", "account=%s key_pair=%s instances=%zu failed=%d",
		 call->account->account_id, name, n, failed);
out:
	sqlite3_finalize(st);
	ctl_db_put(call->c->store, db);
	json_object_put(args);
	json_object_put(results);
	json_object_put(ids);
	return r;
}

int ctl_keypair_attach(struct ctl_call *call, struct json_object *out)
{
	return bind_key(call, out, true);
}

int ctl_keypair_detach(struct ctl_call *call, struct json_object *out)
{
	return bind_key(call, out, false);
}

/* parse.h: what the OSS API reads from a request and writes in an answer that is not a
 * signature: bucket names and object keys (one rule each), Range, HTTP dates, XML
 * escaping and the DeleteMultipleObjects body. Pure functions, fuzzed in tests/fuzz. */
#ifndef OSS_PARSE_H
#define OSS_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct ecs_kvlist;

#define OSS_BUCKET_MIN 3
#define OSS_BUCKET_MAX 63
#define OSS_KEY_MAX 1023
#define OSS_DELETE_MAX_KEYS 1000
#define OSS_DELETE_MAX_BODY (2 * 1024 * 1024)

/* 3-63 of [a-z0-9-], not starting or ending with '-'. */
bool oss_bucket_name_valid(const char *name);
/* 0, or -ENAMETOOLONG past OSS_KEY_MAX bytes, -EINVAL when empty, starting with '/' or '\',
 * not UTF-8 or holding a control character other than tab. */
int oss_key_check(const char *key);

/* A Range header against an object of size bytes. 0 with *ret_start, *ret_len set: serve
 * that range (206); 1: serve the whole object (no Range, or one OSS ignores: malformed,
 * several ranges); -ERANGE: no byte of it is in the object. */
int oss_range_parse(const char *h, uint64_t size, uint64_t *ret_start, uint64_t *ret_len);

/* RFC 1123 ("Sun, 06 Nov 1994 08:49:37 GMT") both ways; -EINVAL on anything else. */
int oss_http_date_parse(const char *s, time_t *ret);
void oss_http_date_format(time_t t, char buf[32]);
/* ISO 8601 with milliseconds, as OSS lists: "2026-12-06T18:00:00.000Z". */
void oss_iso_date_format(time_t t, char buf[32]);

/* XML text escaping (&, <, >, ", '); caller frees; NULL when out of memory. */
char *oss_xml_escape(const char *s);

/* <Delete><Quiet>true|false</Quiet><Object><Key>k</Key></Object>…</Delete>: the keys
 * (ecs_strv_free them) and Quiet. -EINVAL when malformed, no key or more
 * than OSS_DELETE_MAX_KEYS. */
int oss_delete_body_parse(const char *body, size_t len, char ***ret_keys, size_t *ret_n, bool *ret_quiet);

/* x-oss-acl / x-oss-object-acl: "private", "public-read", "public-read-write" (and "default"
 * for an object when allow_default); the canonical string or NULL when unknown. */
const char *oss_acl_canonical(const char *s, bool allow_default);

/* <AccessControlPolicy>…<Grant>acl</Grant>… (PutBucketAcl with a body): the grant. S3's
 * form (each Grant a Grantee and a Permission) is taken when its grants are a canned ACL's:
 * the owner (ID owner, or none) FULL_CONTROL, and the AllUsers group nothing (private), READ
 * (public-read), or READ and WRITE (public-read-write); -EOPNOTSUPP for any other grant (another
 * user, another group, an e-mail, READ_ACP, WRITE alone), -EINVAL when malformed. */
int oss_acl_body_parse(const char *body, size_t len, const char *owner, char ret[24]);

/* S3's x-amz-grant-read, -write, -read-acp, -write-acp and -full-control headers (each a
 * comma list of id="…", uri="…" or emailAddress="…"), taken as oss_acl_body_parse takes
 * grants: 0 with the canned ACL in RET, 1 when none is given, -EOPNOTSUPP for grants no
 * canned ACL makes, -EINVAL when malformed. */
int oss_acl_grant_headers_parse(const struct ecs_kvlist *headers, const char *owner, char ret[24]);

/* <CompleteMultipartUpload><Part><PartNumber>n</PartNumber><ETag>"hex"</ETag></Part>…:
 * the numbers and ETags (quotes dropped, lower case), in the body's order (caller frees
 * both). -EINVAL when malformed, empty, an ETag not 32 hex digits, or more than max parts;
 * -EDOM when the numbers are not strictly ascending (InvalidPartOrder). */
int oss_complete_body_parse(const char *body, size_t len, size_t max, unsigned **ret_numbers, char (**ret_etags)[33],
			    size_t *ret_n);

#endif

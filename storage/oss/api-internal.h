/* api-internal.h: one request as api.c decoded it (target, caller, operation), shared with
 * api_bucket.c and api_object.c, which carry out the operations. */
#ifndef OSS_API_INTERNAL_H
#define OSS_API_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "http_server.h"
#include "oss.h"
#include "store.h"

enum oss_op {
	OSS_OP_SERVICE_LIST,
	OSS_OP_BUCKET_PUT,
	OSS_OP_BUCKET_DELETE,
	OSS_OP_BUCKET_LIST,
	OSS_OP_BUCKET_HEAD,
	OSS_OP_BUCKET_INFO,
	OSS_OP_BUCKET_LOCATION,
	OSS_OP_BUCKET_ACL_GET,
	OSS_OP_BUCKET_ACL_PUT,
	OSS_OP_OBJECTS_DELETE,
	OSS_OP_OBJECT_PUT,
	OSS_OP_OBJECT_COPY,
	OSS_OP_OBJECT_GET,
	OSS_OP_OBJECT_HEAD,
	OSS_OP_OBJECT_META,
	OSS_OP_OBJECT_DELETE,
	OSS_OP_OBJECT_APPEND,
	OSS_OP_OBJECT_ACL_GET,
	OSS_OP_OBJECT_ACL_PUT,
	OSS_OP_UPLOAD_INIT,
	OSS_OP_UPLOAD_PART,
	OSS_OP_UPLOAD_PART_COPY,
	OSS_OP_UPLOAD_COMPLETE,
	OSS_OP_UPLOAD_ABORT,
	OSS_OP_UPLOAD_PARTS,
	OSS_OP_UPLOADS_LIST,
	OSS_OP_NOT_IMPLEMENTED,
	_OSS_OP_MAX,
};

#define OSS_SMALL_BODY_MAX (2 * 1024 * 1024) /* XML bodies of bucket and delete calls */
#define OSS_META_MAX 8192

struct oss_req {
	struct oss *o;
	enum oss_op op;
	char bucket[64];
	char *key;	     /* NULL: a bucket or service call */
	char caller[64];     /* account id; "" when anonymous */
	struct oss_bucket b; /* when bucket[0] and it exists */
	bool bucket_found;
	/* the body */
	struct oss_writer *w; /* PutObject, UploadPart */
	struct oss_upload upload; /* UploadPart */
	bool vhost;		  /* the bucket came from Host */
	/* S3 V4's payload: its SHA-256 (hex) checked at the end, or its signed chunks. */
	char payload_sha256[65];
	struct evp_md_ctx_st *sha;
	struct oss_chunked *chunked;
	/* S3: an x-amz-checksum-* header of an object's (or part's) bytes, checked at the end. */
	struct oss_checksum *ck;
	char ck_value[96]; /* copied: the request's headers live for one callback */
	unsigned part_number;
	uint64_t position; /* AppendObject */
	struct ecs_buf body;  /* the others, at most OSS_SMALL_BODY_MAX */
	int body_error;
	bool failed;
};

/* Who signed the request (auth.c): q->caller, or "" when nobody did. 0, or an error
 * answered. */
int oss_authenticate(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp);

/* Answer an OSS error: XML with Code, Message, RequestId, HostId (and extra, already XML). */
void oss_fail(const struct ecs_http_request *req, struct ecs_http_response *resp, int status, const char *code,
	      const char *message, const char *extra_xml);
/* Answer 200 with XML; takes body. */
void oss_reply_xml(const struct ecs_http_request *req, struct ecs_http_response *resp, int status, char *body);
/* The errno of a store call as the OSS error it is (500 InternalError by default). */
void oss_fail_errno(const struct ecs_http_request *req, struct ecs_http_response *resp, int r);
/* Whether the caller may read (write) what acl guards in q's bucket. */
bool oss_allowed(const struct oss_req *q, const char *acl, bool write);

/* Whether the caller speaks S3 (an AWS signature) rather than OSS: S3's headers, ETag
 * case and error details then. */
bool oss_req_is_s3(const struct ecs_http_request *req);
/* A header of the caller's dialect: "x-oss-<suffix>" or "x-amz-<suffix>". */
const char *oss_hdr(const struct ecs_http_request *req, const char *suffix);

/* XML answers (api_xml.c). */
#define OSS_XML_HEAD "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
struct oss_xml {
	struct ecs_buf b;
	int error;
};
void oss_xput(struct oss_xml *w, const char *s);
void oss_xel(struct oss_xml *w, const char *tag, const char *text, bool url);
void oss_xint(struct oss_xml *w, const char *tag, long long v);
void oss_xowner(struct oss_xml *w, const char *id);
/* The XML head and <name> (with S3's namespace for an S3 caller). */
void oss_xroot(struct oss_xml *w, const struct ecs_http_request *req, const char *name);
char *oss_xfinish(struct oss_xml *w); /* NULL when something failed */
/* "\"ETAG\"": upper-case hex for OSS, as stored for S3. */
void oss_etag_quoted(const struct ecs_http_request *req, const char *etag, char out[56]);
/* 200 with no body, only the request id (PutBucket, PutBucketAcl, HeadBucket, PutObjectAcl). */
void oss_reply_empty(const struct ecs_http_request *req, struct ecs_http_response *resp);
/* 200 with no body and the ETag header (PutObject, AppendObject, UploadPart). */
void oss_reply_etag(const struct ecs_http_request *req, struct ecs_http_response *resp, const char *etag);
/* 501 NotImplemented for S3 grants no canned ACL makes (parse.h, oss_acl_body_parse). */
void oss_acl_not_canned(const struct ecs_http_request *req, struct ecs_http_response *resp);
/* An S3 request's x-amz-grant-* headers as the canned ACL they make (OWNER's grant is its
 * FULL_CONTROL): 0 with RET set, 1 when none is given (or not S3), else answered: 400
 * beside x-amz-acl or malformed, 501 for grants no canned ACL makes. */
int oss_acl_from_grants(const struct ecs_http_request *req, struct ecs_http_response *resp, const char *owner,
			char ret[24]);
/* The canned ACL a PutBucketAcl / PutObjectAcl asks for: the HEADER (canonical, "default"
 * only with ALLOW_DEFAULT), else S3's x-amz-grant-* headers, else S3's grants body. 0 with
 * *RET_ACL set (a constant or BUF), else answered: 400 INVALID when none is valid. */
int oss_acl_requested(const struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp,
		      const char *header, bool allow_default, const char *invalid, char buf[24], const char **ret_acl);
/* x-oss-hash-crc64ecma (OSS requests only) when known: the CRC-64/ECMA of the whole object
 * (PutObject, GetObject, HeadObject, AppendObject, CompleteMultipartUpload) or of a part. */
void oss_reply_crc64(const struct ecs_http_request *req, struct ecs_http_response *resp, bool known, uint64_t crc);

/* Shared by the object and multipart calls (api_object.c). */
void oss_denied(const struct ecs_http_request *req, struct ecs_http_response *resp);
/* The length a body is declared to have: an aws-chunked body's decoded length, else
 * Content-Length; NULL when neither is given. */
const char *oss_declared_length(const struct ecs_http_request *req);
/* A body's start (PutObject, UploadPart, AppendObject): refuses a declared length clen over max
 * (EntityTooLarge, too_large) and opens q->w. 0, or an error answered. */
int oss_body_begin(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp,
		   const char *clen, uint64_t max, const char *too_large);
/* The entry's fields the client gave: Content-Type, x-oss-meta-*, the object ACL (OWNER: the
 * bucket's owner, named by S3 grants). 0, or an error answered. */
int oss_entry_from_headers(const struct ecs_http_request *req, struct ecs_http_response *resp, const char *owner,
			   struct oss_entry *e);
/* The copy source header's "/bucket/key" (percent-encoded) checked: 0, or an error answered;
 * *ret_layout names the bytes (the caller clears it) and *ret_e the entry. */
int oss_copy_source_open(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp,
			 struct oss_entry *ret_e, struct oss_layout *ret_layout);

void oss_bucket_op(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp);
/* PutObject's start (in begin, before the body: the writer), and the other object calls. */
int oss_object_put_begin(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp);
void oss_object_op(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp);
/* AppendObject and object ACLs (api_append.c). */
int oss_append_begin(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp);
void oss_append_op(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp);
/* An AccessControlPolicy: OSS's <Grant>acl</Grant>, or S3's grants for an S3 caller. */
void oss_xacl(struct oss_xml *w, const struct ecs_http_request *req, const char *owner, const char *acl);

/* Multipart (api_multipart.c): UploadPart's start (the writer), and the calls. */
int oss_part_begin(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp);
void oss_multipart_op(struct oss_req *q, const struct ecs_http_request *req, struct ecs_http_response *resp);

#endif

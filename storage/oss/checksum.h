/* checksum.h: S3's flexible checksums of a body (x-amz-checksum-crc32, -crc32c, -sha256),
 * sent as a header or an aws-chunked trailer: computed as the bytes stream, compared with
 * the base64 value the client sent. */
#ifndef OSS_CHECKSUM_H
#define OSS_CHECKSUM_H

#include <stddef.h>

struct oss_checksum;

/* name: the header's (any case); -EINVAL for an algorithm not listed above. */
int oss_checksum_new(const char *name, struct oss_checksum **ret);
void oss_checksum_free(struct oss_checksum *c); /* accepts NULL */
void oss_checksum_update(struct oss_checksum *c, const void *buf, size_t len);
/* 0 when b64 is the checksum of the bytes so far, -EBADMSG when not (once: it finishes). */
int oss_checksum_check(struct oss_checksum *c, const char *b64);
/* Whether name (any case) is the checksum's. */
int oss_checksum_is(const struct oss_checksum *c, const char *name);

#endif

/* chunked.h: an aws-chunked request body (Content-Encoding: aws-chunked,
 * x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD) decoded as it streams in:
 *
 *   hex-size ";chunk-signature=" 64 hex "\r\n" data "\r\n" … "0;chunk-signature=…\r\n\r\n"
 *
 * Each chunk's signature is checked (sigv4.h) at its end; its bytes are handed to the sink
 * as they arrive, so the sink must make nothing visible before the whole body ended well
 * (ecs-ossd's writers commit only then). */
#ifndef OSS_CHUNKED_H
#define OSS_CHUNKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OSS_CHUNK_LINE_MAX 256

struct oss_chunked;

/* STREAMING-UNSIGNED-PAYLOAD-TRAILER: "hex-size\r\n" data "\r\n" … "0\r\n", then the
 * trailer "x-amz-checksum-<alg>:base64\r\n\r\n", its checksum of the decoded bytes checked
 * at the end. trailer: the x-amz-trailer header (crc32, crc32c or sha256); -EINVAL for
 * another. */
int oss_chunked_new_unsigned(const char *trailer, struct oss_chunked **ret);

/* key, amz_date, scope and the seed signature (the request's) as sigv4.h names them. */
int oss_chunked_new(const uint8_t key[32], const char *amz_date, const char *scope, const char *seed_sig,
		    struct oss_chunked **ret);
void oss_chunked_free(struct oss_chunked *c); /* accepts NULL */
/* Feed body bytes; the decoded ones go to sink. -EINVAL when malformed (or bytes after the
 * last chunk), -EACCES when a chunk's signature is wrong, or the sink's error. Sticky. */
int oss_chunked_feed(struct oss_chunked *c, const char *buf, size_t len,
		     int (*sink)(void *arg, const char *buf, size_t len), void *arg);
/* 0 when the final chunk (and the trailer) was read, -EBADMSG when the trailer's checksum
 * is not the bytes', else -EINVAL (a body cut short, a trailer missing). */
int oss_chunked_finish(const struct oss_chunked *c);
/* Decoded bytes so far. */
uint64_t oss_chunked_total(const struct oss_chunked *c);

#endif

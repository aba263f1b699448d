/* crc64.h: CRC-64/ECMA-182 as OSS computes it for x-oss-hash-crc64ecma (the reflected
 * ECMA-182 polynomial, register starting at all ones and inverted at the end: CRC-64/XZ;
 * "123456789" gives 0x995DC9BBDF1939FA), and its combination: the CRC of A then B from the
 * CRCs of A and of B and B's length, for multipart and appended objects. */
#ifndef OSS_CRC64_H
#define OSS_CRC64_H

#include <stddef.h>
#include <stdint.h>

/* Start with crc = 0; feed the bytes in order. */
uint64_t oss_crc64_update(uint64_t crc, const void *buf, size_t len);
uint64_t oss_crc64_combine(uint64_t crc_a, uint64_t crc_b, uint64_t len_b);

#endif

#include "crc64.h"

#include <pthread.h>

#define POLY 0xC96C5795D7870F42ULL /* ECMA-182, reflected */

static uint64_t table[8][256];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void)
{
	for (unsigned n = 0; n < 256; n++) {
		uint64_t c = n;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? POLY ^ (c >> 1) : c >> 1;
		table[0][n] = c;
	}
	/* Slicing by 8: table[k][n] is n's CRC followed by k zero bytes. */
	for (unsigned n = 0; n < 256; n++)
		for (int k = 1; k < 8; k++)
			table[k][n] = table[0][table[k - 1][n] & 0xff] ^ (table[k - 1][n] >> 8);
}

uint64_t oss_crc64_update(uint64_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	pthread_once(&once, init);
	crc = ~crc;
	for (; len >= 8; p += 8, len -= 8) {
		crc ^= (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
		       (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
		crc = table[7][crc & 0xff] ^ table[6][(crc >> 8) & 0xff] ^ table[5][(crc >> 16) & 0xff] ^
		      table[4][(crc >> 24) & 0xff] ^ table[3][(crc >> 32) & 0xff] ^ table[2][(crc >> 40) & 0xff] ^
		      table[1][(crc >> 48) & 0xff] ^ table[0][crc >> 56];
	}
	while (len--)
		crc = table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* zlib's crc32_combine, for 64 bits: shift crc_a by len_b zero bytes with GF(2) matrix
 * squaring, then add crc_b. */
static uint64_t gf2_times(const uint64_t *mat, uint64_t vec)
{
	uint64_t sum = 0;

	for (; vec; vec >>= 1, mat++)
		if (vec & 1)
			sum ^= *mat;
	return sum;
}

static void gf2_square(uint64_t *square, const uint64_t *mat)
{
	for (int n = 0; n < 64; n++)
		square[n] = gf2_times(mat, mat[n]);
}

uint64_t oss_crc64_combine(uint64_t crc_a, uint64_t crc_b, uint64_t len_b)
{
	uint64_t even[64], odd[64], row = 1;

	if (len_b == 0)
		return crc_a;
	odd[0] = POLY; /* the operator for one zero bit */
	for (int n = 1; n < 64; n++, row <<= 1)
		odd[n] = row;
	gf2_square(even, odd); /* two zero bits */
	gf2_square(odd, even); /* four */
	do {
		gf2_square(even, odd);
		if (len_b & 1)
			crc_a = gf2_times(even, crc_a);
		len_b >>= 1;
		if (!len_b)
			break;
		gf2_square(odd, even);
		if (len_b & 1)
			crc_a = gf2_times(odd, crc_a);
		len_b >>= 1;
	} while (len_b);
	return crc_a ^ crc_b;
}

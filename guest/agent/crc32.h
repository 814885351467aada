/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32()). */
#ifndef BERTH_CRC32_H
#define BERTH_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC: start with crc = 0, feed the pieces in order. */
uint32_t crc32_update(uint32_t crc, const void *buf, size_t len);

#endif

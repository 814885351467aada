/* Small helpers shared by the agent's parts.
 *
 * Error convention, everywhere in the agent: a function that can fail
 * returns 0 (or a count) on success and a negative errno on failure. The
 * caller that owns a request turns that into an ERROR frame whose code is
 * errno_name(-ret). Protocol-level codes (EBADFRAME, ...) are in protocol.h.
 */
#ifndef BERTH_UTIL_H
#define BERTH_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* A growable byte queue: live bytes are data[off .. len). */
struct buf {
	uint8_t *data;
	size_t off, len, cap;
};

int buf_reserve(struct buf *b, size_t n); /* room for n more bytes at data + len */
int buf_append(struct buf *b, const void *p, size_t n);
void buf_consume(struct buf *b, size_t n);
void buf_free(struct buf *b);
static inline size_t buf_used(const struct buf *b) { return b->len - b->off; }

int64_t now_ms(void); /* CLOCK_MONOTONIC */
const char *errno_name(int err);
int set_nonblock(int fd);
int set_cloexec(int fd);
void close_fd(int *fd); /* close if >= 0, set to -1 */
int mkdir_p(const char *path); /* mkdir -p, mode 0755 */

static inline void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24;
}
static inline uint32_t get_u32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint16_t get_u16(const uint8_t *p) { return p[0] | p[1] << 8; }

/* Tagged string lists: NUL-terminated strings, first byte the tag. */
int tags_valid(const uint8_t *p, uint32_t len); /* 0, or -EINVAL if the last one is unterminated */
/* Iterate a valid list: returns 1 with *tag and *val (NUL-terminated), 0 at the end. */
int tags_next(const uint8_t *p, uint32_t len, uint32_t *pos, char *tag, const char **val);

#endif

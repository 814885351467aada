/* The framed byte stream to the host: receive with resync, CRC check and
 * truncation timeout; send through a userspace buffer so the loop never
 * blocks on a full port; ACK accounting. */
#ifndef BERTH_CHANNEL_H
#define BERTH_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Called for each valid frame. The payload lives only during the call. */
typedef void (*frame_fn)(void *ctx, uint8_t type, uint32_t id, const uint8_t *payload, uint32_t len);

struct channel {
	int fd; /* -1 while closed */
	uint8_t *in; /* receive buffer, in[in_off .. in_len) unparsed */
	size_t in_off, in_len;
	uint32_t rx_total; /* bytes read since start, for ACK (wraps) */
	int64_t last_rx_ms;
	int resyncing; /* a bad frame was reported: skip bytes quietly until a good one */
	struct buf out; /* frames not yet written to fd */
	frame_fn on_frame;
	void *ctx;
};

int channel_init(struct channel *ch, frame_fn fn, void *ctx);
/* Take over fd: non-blocking, raw mode if a tty, fresh buffers. */
int channel_attach(struct channel *ch, int fd);
void channel_detach(struct channel *ch);
/* One read from the port: ACK, then parse and dispatch frames. Returns 0,
 * 1 on EOF, or -errno on a read error. */
int channel_read(struct channel *ch, int64_t now);
/* Drop a partial frame that got no byte for 2 s. Returns the time it will
 * be due (ms, for the poll timeout), or -1 if nothing is pending. */
int64_t channel_check_timeout(struct channel *ch, int64_t now);

/* Queue a frame. Returns 0 or -ENOMEM (the frame is then lost). */
int channel_send(struct channel *ch, uint8_t type, uint32_t id, const void *p, size_t len);
/* Zero-copy send: get room for up to max payload bytes, fill, then commit. */
uint8_t *channel_reserve(struct channel *ch, size_t max);
void channel_commit(struct channel *ch, uint8_t type, uint32_t id, size_t len);
/* ERROR frame with tags c=code, m=printf message. */
void channel_send_error(struct channel *ch, uint32_t id, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Write buffered frames until done or EAGAIN. Returns 0 or -errno. */
int channel_flush(struct channel *ch);
static inline size_t channel_pending(const struct channel *ch) { return buf_used(&ch->out); }

/* Strict framing for the docker socket (client.c, sessions.c): same frames,
 * but no resync: a bad frame ends that connection. */
struct frame {
	uint8_t type;
	uint32_t id;
	const uint8_t *payload; /* points into the parsed bytes */
	uint32_t len;
};
/* Append one frame to b. Returns 0, -EMSGSIZE or -ENOMEM. */
int frame_append(struct buf *b, uint8_t type, uint32_t id, const void *p, size_t len);
/* Parse the frame at the start of p[0..n): its size (> 0) with *f filled, 0
 * if more bytes are needed, or -EBADMSG (no magic, oversized, CRC). */
long frame_parse(const uint8_t *p, size_t n, struct frame *f);

#endif

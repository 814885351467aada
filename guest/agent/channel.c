#include "channel.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "crc32.h"
#include "protocol.h"

#define FRAME_MAX (BR_HEADER_SIZE + BR_MAX_PAYLOAD)
/* After a parse, at most one partial frame (< FRAME_MAX) stays, so a read
 * always has at least FRAME_MAX bytes of room. */
#define IN_CAP (2 * FRAME_MAX)

static int accepted_type(uint8_t t)
{
	switch (t) {
	case BR_PING: case BR_EXEC: case BR_STDIN: case BR_STDIN_EOF:
	case BR_SIGNAL: case BR_RESIZE: case BR_MOUNT: case BR_UMOUNT:
	case BR_CLIENT_STDOUT: case BR_CLIENT_STDERR: case BR_CLIENT_EXIT: case BR_CLIENT_RAW:
	case BR_CLIENT_WANT_STDIN:
		return 1;
	}
	return 0;
}

int channel_init(struct channel *ch, frame_fn fn, void *ctx)
{
	memset(ch, 0, sizeof(*ch));
	ch->fd = -1;
	ch->on_frame = fn;
	ch->ctx = ctx;
	ch->in = malloc(IN_CAP);
	return ch->in ? 0 : -ENOMEM;
}

int channel_attach(struct channel *ch, int fd)
{
	struct termios tio;
	int r;

	/* A tty (the virtio console) must not echo, translate or buffer lines. */
	if (isatty(fd)) {
		if (tcgetattr(fd, &tio) < 0)
			return -errno;
		cfmakeraw(&tio);
		tio.c_cc[VMIN] = 1;
		tio.c_cc[VTIME] = 0;
		if (tcsetattr(fd, TCSANOW, &tio) < 0)
			return -errno;
	}
	if ((r = set_nonblock(fd)) < 0 || (r = set_cloexec(fd)) < 0)
		return r;
	ch->fd = fd;
	ch->in_off = ch->in_len = 0;
	ch->resyncing = 0;
	ch->out.off = ch->out.len = 0; /* a new peer: stale output would only confuse it */
	return 0;
}

void channel_detach(struct channel *ch)
{
	close_fd(&ch->fd);
}

/* Report a bad frame and resume one byte after its magic. */
static void bad_frame(struct channel *ch, const char *code, const char *what, unsigned v)
{
	channel_send_error(ch, 0, code, what, v);
	ch->in_off += 1;
	ch->resyncing = 1;
}

static void parse(struct channel *ch)
{
	for (;;) {
		uint8_t *p = ch->in + ch->in_off;
		size_t n = ch->in_len - ch->in_off, i = 0;

		while (i + 1 < n && !(p[i] == BR_MAGIC0 && p[i + 1] == BR_MAGIC1))
			i++;
		if (i + 1 >= n && n > 0 && p[n - 1] != BR_MAGIC0)
			i = n; /* no magic; a last 'B' may still start one */
		if (i > 0) {
			if (!ch->resyncing)
				channel_send_error(ch, 0, BR_EBADFRAME, "skipped %zu bytes without magic", i);
			ch->resyncing = 1;
			ch->in_off += i;
			p += i;
			n -= i;
		}
		if (n < BR_HEADER_SIZE)
			return;

		uint8_t type = p[2];
		uint32_t id = get_u32(p + 4), len = get_u32(p + 8), crc = get_u32(p + 12);
		if (len > BR_MAX_PAYLOAD) {
			bad_frame(ch, BR_EBADFRAME, "payload length %u over the limit", len);
			continue;
		}
		if (!accepted_type(type)) {
			bad_frame(ch, BR_EBADFRAME, "unknown type 0x%02x", type);
			continue;
		}
		if (n < BR_HEADER_SIZE + len)
			return;
		uint32_t c = crc32_update(crc32_update(0, p, 12), p + BR_HEADER_SIZE, len);
		if (c != crc) {
			bad_frame(ch, BR_EBADFRAME, "CRC mismatch (type 0x%02x)", type);
			continue;
		}
		ch->in_off += BR_HEADER_SIZE + len;
		ch->resyncing = 0;
		ch->on_frame(ch->ctx, type, id, p + BR_HEADER_SIZE, len);
	}
}

int channel_read(struct channel *ch, int64_t now)
{
	uint8_t ack[4];
	ssize_t n;

	if (ch->in_off) {
		memmove(ch->in, ch->in + ch->in_off, ch->in_len - ch->in_off);
		ch->in_len -= ch->in_off;
		ch->in_off = 0;
	}
	n = read(ch->fd, ch->in + ch->in_len, IN_CAP - ch->in_len);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (n == 0)
		return 1;
	ch->in_len += n;
	ch->rx_total += (uint32_t)n;
	ch->last_rx_ms = now;
	/* ACK first: it frees the host's chunks before we do any slow work. */
	put_u32(ack, ch->rx_total);
	channel_send(ch, BR_ACK, 0, ack, sizeof(ack));
	channel_flush(ch); /* errors resurface at the loop's flush */
	parse(ch);
	return 0;
}

int64_t channel_check_timeout(struct channel *ch, int64_t now)
{
	while (ch->in_len > ch->in_off) {
		int64_t due = ch->last_rx_ms + BR_TRUNCATE_MS;
		if (now < due)
			return due;
		bad_frame(ch, BR_ETRUNCATED, "dropped a partial frame of %u bytes",
			  (unsigned)(ch->in_len - ch->in_off));
		parse(ch); /* it may have swallowed complete frames */
	}
	return -1;
}

uint8_t *channel_reserve(struct channel *ch, size_t max)
{
	if (max > BR_MAX_PAYLOAD || buf_reserve(&ch->out, BR_HEADER_SIZE + max) < 0)
		return NULL;
	return ch->out.data + ch->out.len + BR_HEADER_SIZE;
}

/* Fill the header in front of a payload already at h + BR_HEADER_SIZE. */
static void put_header(uint8_t *h, uint8_t type, uint32_t id, size_t len)
{
	h[0] = BR_MAGIC0;
	h[1] = BR_MAGIC1;
	h[2] = type;
	h[3] = 0;
	put_u32(h + 4, id);
	put_u32(h + 8, (uint32_t)len);
	put_u32(h + 12, crc32_update(crc32_update(0, h, 12), h + BR_HEADER_SIZE, len));
}

void channel_commit(struct channel *ch, uint8_t type, uint32_t id, size_t len)
{
	put_header(ch->out.data + ch->out.len, type, id, len);
	ch->out.len += BR_HEADER_SIZE + len;
}

int channel_send(struct channel *ch, uint8_t type, uint32_t id, const void *p, size_t len)
{
	uint8_t *dst = channel_reserve(ch, len);

	if (!dst)
		return len > BR_MAX_PAYLOAD ? -EMSGSIZE : -ENOMEM;
	if (len)
		memcpy(dst, p, len);
	channel_commit(ch, type, id, len);
	return 0;
}

void channel_send_error(struct channel *ch, uint32_t id, const char *code, const char *fmt, ...)
{
	char msg[600];
	uint8_t pay[700];
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n = snprintf((char *)pay, sizeof(pay), "c%s%cm%s", code, 0, msg);
	if (n < 0 || n >= (int)sizeof(pay))
		n = sizeof(pay) - 1;
	pay[n] = 0;
	channel_send(ch, BR_ERROR, id, pay, n + 1);
}

int channel_flush(struct channel *ch)
{
	while (ch->fd >= 0 && buf_used(&ch->out)) {
		ssize_t n = write(ch->fd, ch->out.data + ch->out.off, buf_used(&ch->out));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -errno;
		}
		buf_consume(&ch->out, n);
	}
	return 0;
}

/* ---- strict framing, for the docker socket ---- */

int frame_append(struct buf *b, uint8_t type, uint32_t id, const void *p, size_t len)
{
	int r;

	if (len > BR_MAX_PAYLOAD)
		return -EMSGSIZE;
	if ((r = buf_reserve(b, BR_HEADER_SIZE + len)) < 0)
		return r;
	if (len)
		memcpy(b->data + b->len + BR_HEADER_SIZE, p, len);
	put_header(b->data + b->len, type, id, len);
	b->len += BR_HEADER_SIZE + len;
	return 0;
}

long frame_parse(const uint8_t *p, size_t n, struct frame *f)
{
	uint32_t len;

	if (n >= 1 && p[0] != BR_MAGIC0)
		return -EBADMSG;
	if (n >= 2 && p[1] != BR_MAGIC1)
		return -EBADMSG;
	if (n < BR_HEADER_SIZE)
		return 0;
	len = get_u32(p + 8);
	if (len > BR_MAX_PAYLOAD)
		return -EBADMSG;
	if (n < BR_HEADER_SIZE + (size_t)len)
		return 0;
	if (crc32_update(crc32_update(0, p, 12), p + BR_HEADER_SIZE, len) != get_u32(p + 12))
		return -EBADMSG;
	f->type = p[2];
	f->id = get_u32(p + 4);
	f->payload = p + BR_HEADER_SIZE;
	f->len = len;
	return BR_HEADER_SIZE + (long)len;
}

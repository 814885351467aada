#include "sessions.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "protocol.h"

#define READ_CHUNK 16384 /* per client per loop turn, so no client starves others */
#define BACKLOG 64
#define ACCEPT_RETRY_MS 100 /* after accept() failed for lack of fds or memory */

enum { K_LISTEN, K_CLIENT };

/*
 * One `docker` client connection: one session.
 *
 * Output for the client (frames from the host) is buffered in memory with
 * no limit: there is no per-session backpressure yet (nothing tells the host
 * that a client reads slowly), so a client that stops reading grows the
 * agent by whatever the host keeps sending it. The other way round, clients
 * are read only while the port's send buffer is not too full, like process
 * output, so the host paces them.
 */
struct session {
	struct session *next;
	uint32_t id; /* BR_SESSION_BIT | n */
	int fd; /* the connection, -1 once closed */
	struct buf in; /* bytes from the client, not parsed yet */
	struct buf out; /* frames for the client, not written yet */
	int opened; /* its CLIENT_OPEN went to the host */
	int exited; /* CLIENT_EXIT is queued: close once out is written */
	int dead; /* closed and forgotten; freed by sessions_finish() */
};

static int id_in_use(const struct agent *ag, uint32_t id)
{
	for (const struct session *s = ag->sessions; s; s = s->next)
		if (s->id == id)
			return 1;
	return 0;
}

static uint32_t next_id(struct agent *ag)
{
	uint32_t id;

	do {
		ag->session_n = ag->session_n % 0x7fffffffu + 1; /* 1 .. 2^31-1 */
		id = BR_SESSION_BIT | ag->session_n;
	} while (id_in_use(ag, id));
	return id;
}

static struct session *session_find(struct agent *ag, uint32_t id)
{
	for (struct session *s = ag->sessions; s; s = s->next)
		if (s->id == id && !s->dead)
			return s;
	return NULL;
}

/* Close the connection and forget the session. A client gone before its
 * CLIENT_EXIT is a hangup for the host: SIGHUP, then end of its stdin. */
static void session_close(struct agent *ag, struct session *s)
{
	if (s->dead)
		return;
	if (s->opened && !s->exited) {
		uint8_t sig[4];
		put_u32(sig, SIGHUP);
		channel_send(&ag->ch, BR_CLIENT_SIGNAL, s->id, sig, sizeof(sig));
		channel_send(&ag->ch, BR_CLIENT_STDIN_EOF, s->id, NULL, 0);
	}
	close_fd(&s->fd);
	buf_free(&s->in);
	buf_free(&s->out);
	s->dead = 1;
}

/* Write queued frames to the client until done or EAGAIN. */
static void session_flush(struct agent *ag, struct session *s)
{
	while (!s->dead && buf_used(&s->out)) {
		ssize_t n = send(s->fd, s->out.data + s->out.off, buf_used(&s->out),
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				session_close(ag, s); /* EPIPE, ECONNRESET: the client is gone */
			return;
		}
		buf_consume(&s->out, n);
	}
}

/* Relay one frame from the client. Returns -EPROTO for a frame a client
 * must not send (the caller drops the client). */
static int client_frame(struct agent *ag, struct session *s, const struct frame *f)
{
	switch (f->type) {
	case BR_CLIENT_OPEN:
		if (s->opened)
			return -EPROTO;
		s->opened = 1;
		break;
	case BR_CLIENT_STDIN: case BR_CLIENT_STDIN_EOF: case BR_CLIENT_RESIZE: case BR_CLIENT_SIGNAL:
		if (!s->opened)
			return -EPROTO;
		break;
	default:
		return -EPROTO;
	}
	/* The client's id field (0) is replaced by the session's. */
	channel_send(&ag->ch, f->type, s->id, f->payload, f->len);
	return 0;
}

static void session_read(struct agent *ag, struct session *s)
{
	struct frame f;
	ssize_t n;
	long r;

	if (buf_reserve(&s->in, READ_CHUNK) < 0) {
		fprintf(stderr, "berth-agent: docker session %#x: out of memory, disconnected\n", s->id);
		session_close(ag, s);
		return;
	}
	n = read(s->fd, s->in.data + s->in.len, READ_CHUNK);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) { /* EOF or ECONNRESET: the client went away */
		session_close(ag, s);
		return;
	}
	s->in.len += n;
	while (!s->dead && !s->exited && (r = frame_parse(s->in.data + s->in.off, buf_used(&s->in), &f))) {
		if (r < 0 || client_frame(ag, s, &f) < 0) {
			fprintf(stderr, "berth-agent: docker session %#x: bad frame from the client, disconnected\n",
				s->id);
			session_close(ag, s);
			return;
		}
		buf_consume(&s->in, r);
	}
}

static void accept_clients(struct agent *ag, int64_t now)
{
	for (;;) {
		int fd = accept4(ag->docker_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct session *s;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN) /* EMFILE and the like: the listener would stay readable */
				ag->accept_resume = now + ACCEPT_RETRY_MS;
			return;
		}
		if (!(s = calloc(1, sizeof(*s)))) {
			close(fd);
			ag->accept_resume = now + ACCEPT_RETRY_MS;
			return;
		}
		s->fd = fd;
		s->id = next_id(ag);
		s->next = ag->sessions;
		ag->sessions = s;
	}
}

int sessions_listen(struct agent *ag, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *dir = NULL, *slash;
	int fd, r = 0;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	if (!(dir = strdup(path)))
		return -ENOMEM;
	if ((slash = strrchr(dir, '/')) && slash != dir) {
		*slash = 0;
		r = mkdir_p(dir);
	}
	free(dir);
	if (r < 0)
		return r;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	unlink(path); /* a stale socket from an earlier run */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0666) < 0 ||
	    listen(fd, BACKLOG) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	ag->docker_fd = fd;
	ag->docker_path = strdup(path); /* only to unlink it at exit; NULL is fine */
	return 0;
}

void sessions_shutdown(struct agent *ag)
{
	close_fd(&ag->docker_fd);
	if (ag->docker_path)
		unlink(ag->docker_path);
}

void sessions_drop_all(struct agent *ag)
{
	/* No CLIENT_SIGNAL: the host these sessions belonged to is gone. */
	for (struct session *s = ag->sessions; s; s = s->next)
		s->opened = 0, session_close(ag, s);
}

void sessions_host_frame(struct agent *ag, uint8_t type, uint32_t id, const uint8_t *p, uint32_t len)
{
	struct session *s = session_find(ag, id);

	if (!s || s->exited)
		return; /* the client may have gone: drop it silently */
	if (frame_append(&s->out, type, 0, p, len) < 0) {
		fprintf(stderr, "berth-agent: docker session %#x: out of memory, disconnected\n", id);
		session_close(ag, s);
		return;
	}
	if (type == BR_CLIENT_EXIT)
		s->exited = 1;
	session_flush(ag, s);
}

size_t sessions_poll_count(const struct agent *ag)
{
	size_t n = 1;
	for (const struct session *s = ag->sessions; s; s = s->next)
		n++;
	return n;
}

size_t sessions_poll_fill(struct agent *ag, struct pollfd *pfd, struct pollref *ref, size_t max,
			  int read_clients, int64_t now)
{
	size_t n = 0;

	/* The listener first: sessions are only freed after the slots are handled. */
	if (ag->docker_fd >= 0 && read_clients && now >= ag->accept_resume && n < max) {
		pfd[n] = (struct pollfd){ .fd = ag->docker_fd, .events = POLLIN };
		ref[n++] = (struct pollref){ NULL, K_LISTEN };
	}
	for (struct session *s = ag->sessions; s && n < max; s = s->next) {
		short ev = (read_clients && !s->exited ? POLLIN : 0) | (buf_used(&s->out) ? POLLOUT : 0);
		if (s->dead || !ev)
			continue;
		pfd[n] = (struct pollfd){ .fd = s->fd, .events = ev };
		ref[n++] = (struct pollref){ s, K_CLIENT };
	}
	return n;
}

void sessions_poll_handle(struct agent *ag, const struct pollfd *pfd, const struct pollref *ref,
			  size_t n, int64_t now)
{
	for (size_t i = 0; i < n; i++) {
		struct session *s = ref[i].p;
		short ev = pfd[i].revents;

		if (!ev)
			continue;
		if (ref[i].kind == K_LISTEN) {
			if (ag->docker_fd == pfd[i].fd)
				accept_clients(ag, now);
			continue;
		}
		if (s->dead || s->fd != pfd[i].fd)
			continue;
		if (ev & POLLOUT)
			session_flush(ag, s);
		/* A hangup is read even while clients are not (the port is busy):
		 * otherwise poll would report it on every turn. */
		if (!s->dead && !s->exited && (ev & (POLLIN | POLLHUP | POLLERR)))
			session_read(ag, s);
		else if (!s->dead && (ev & (POLLHUP | POLLERR)))
			session_close(ag, s); /* exited, and nobody left to read the rest */
	}
}

int64_t sessions_finish(struct agent *ag, int64_t now)
{
	for (struct session **pp = &ag->sessions, *s; (s = *pp);) {
		if (!s->dead && s->exited && !buf_used(&s->out))
			session_close(ag, s); /* CLIENT_EXIT written: done */
		if (s->dead) {
			*pp = s->next;
			free(s);
			continue;
		}
		pp = &s->next;
	}
	return ag->docker_fd >= 0 && ag->accept_resume > now ? ag->accept_resume : -1;
}

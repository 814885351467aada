/* docker ARGS...: the agent binary under the name `docker` (a symlink).
 *
 * A thin client: it sends its argv, cwd and a few environment variables to
 * the agent's docker socket (BR_DOCKER_SOCKET, or $BERTH_DOCKER_SOCKET) as
 * CLIENT_OPEN, then relays terminal size changes, signals and (once the
 * host asks for it with CLIENT_WANT_STDIN) stdin one way, stdout, stderr,
 * raw-mode switches and the exit status the other. Stdin the command does
 * not read stays unread, as with docker without -i: keys typed meanwhile
 * reach the shell afterwards, and a `while read` loop keeps its lines. The
 * host runs the command; see docs/protocol.md, "Client sessions", and
 * protocol.h for the readings of it made here.
 *
 * One poll() loop over the socket, stdin and a signalfd. Writes (to the
 * socket, stdout, stderr) block: the agent never blocks on us, so that can
 * not deadlock, and a slow stdout paces the client as it should.
 */
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "channel.h"
#include "protocol.h"
#include "util.h"

#define STDIN_CHUNK 16384
#define EXIT_ENGINE 125 /* docker's status when the daemon side fails */

extern char **environ;

struct client {
	int sock;
	int sock_broken; /* writing to the agent failed: only read what is left */
	int stdin_open; /* reading stdin: the host asked, and it has not ended */
	int stdin_asked; /* CLIENT_WANT_STDIN came (once is enough) */
	int out_dead[3]; /* [1], [2]: writing there failed (EPIPE): discard */
	struct buf in; /* bytes from the agent, not parsed yet */
	struct buf frame; /* one frame being sent */
};

/* The terminal on fd 0 while raw: restored on every way out. */
static struct termios saved_tio;
static int raw_on;

static void tty_restore(void)
{
	if (raw_on)
		tcsetattr(0, TCSANOW, &saved_tio);
	raw_on = 0;
}

static void tty_raw(void)
{
	struct termios t;

	if (raw_on || !isatty(0) || tcgetattr(0, &saved_tio) < 0)
		return;
	t = saved_tio;
	cfmakeraw(&t);
	if (tcsetattr(0, TCSANOW, &t) == 0)
		raw_on = 1;
}

static void __attribute__((noreturn)) finish(int code, const char *msg)
{
	tty_restore();
	if (msg)
		fprintf(stderr, "docker: %s\n", msg);
	exit(code);
}

/* Write everything, waiting on a non-blocking fd. Returns 0 or -errno. */
static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t w = write(fd, b, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd q = { .fd = fd, .events = POLLOUT };
				poll(&q, 1, -1);
				continue;
			}
			return -errno;
		}
		b += w;
		n -= w;
	}
	return 0;
}

static void send_frame(struct client *c, uint8_t type, const void *p, size_t len)
{
	int r;

	if (c->sock_broken)
		return;
	c->frame.off = c->frame.len = 0;
	if (frame_append(&c->frame, type, 0, p, len) < 0)
		finish(EXIT_ENGINE, "out of memory");
	r = write_all(c->sock, c->frame.data, c->frame.len);
	if (r == -EPIPE || r == -ECONNRESET) {
		/* The agent closed: what it sent before is still readable, maybe
		 * our CLIENT_EXIT. Stop sending and read until EOF. */
		c->sock_broken = 1;
		c->stdin_open = 0;
	} else if (r < 0) {
		finish(EXIT_ENGINE, "lost connection to the Berth engine");
	}
}

static void write_out(struct client *c, int fd, const uint8_t *p, size_t len)
{
	/* EPIPE (a closed pipe downstream): discard the rest, but keep serving
	 * the session, as its exit status still matters. */
	if (!c->out_dead[fd] && write_all(fd, p, len) < 0)
		c->out_dead[fd] = 1;
}

static int get_size(int fd, struct winsize *ws)
{
	return ioctl(fd, TIOCGWINSZ, ws) == 0 && ws->ws_row && ws->ws_col ? 0 : -1;
}

static void add_tag(struct buf *b, char tag, const char *v)
{
	size_t n = strlen(v);

	if (buf_used(b) + n + 2 > BR_MAX_PAYLOAD)
		finish(EXIT_ENGINE, "arguments and environment too long");
	if (buf_append(b, &tag, 1) < 0 || buf_append(b, v, n + 1) < 0)
		finish(EXIT_ENGINE, "out of memory");
}

static void send_open(struct client *c, int argc, char **argv)
{
	struct buf b = { 0 };
	struct winsize ws;
	char *cwd = getcwd(NULL, 0);

	for (int i = 1; i < argc; i++)
		add_tag(&b, 'a', argv[i]);
	if (cwd)
		add_tag(&b, 'c', cwd);
	free(cwd);
	for (char **e = environ; *e; e++)
		if (!strncmp(*e, "TERM=", 5) || !strncmp(*e, "DOCKER_", 7))
			add_tag(&b, 'e', *e);
	if (isatty(0)) {
		char size[32];
		if (get_size(0, &ws) < 0)
			ws.ws_row = 24, ws.ws_col = 80;
		snprintf(size, sizeof(size), "%ux%u", ws.ws_row, ws.ws_col);
		add_tag(&b, 't', size);
	}
	if (isatty(1))
		add_tag(&b, 'o', "");
	send_frame(c, BR_CLIENT_OPEN, b.data, buf_used(&b));
	buf_free(&b);
}

static void on_frame(struct client *c, const struct frame *f)
{
	switch (f->type) {
	case BR_CLIENT_STDOUT: write_out(c, 1, f->payload, f->len); break;
	case BR_CLIENT_STDERR: write_out(c, 2, f->payload, f->len); break;
	case BR_CLIENT_EXIT: {
		if (f->len < 4)
			finish(EXIT_ENGINE, "bad data from the Berth engine");
		int32_t st = (int32_t)get_u32(f->payload);
		finish(st < 0 || st > 255 ? 255 : st, NULL);
	}
	case BR_CLIENT_WANT_STDIN:
		if (!c->stdin_asked && !c->sock_broken)
			c->stdin_open = 1;
		c->stdin_asked = 1;
		break;
	case BR_CLIENT_RAW:
		if (f->len < 1)
			finish(EXIT_ENGINE, "bad data from the Berth engine");
		if (f->payload[0])
			tty_raw();
		else
			tty_restore();
		break;
	default:
		break; /* unknown types: a newer engine; ignore */
	}
}

static void read_socket(struct client *c)
{
	struct frame f;
	ssize_t n;
	long r;

	if (buf_reserve(&c->in, BR_HEADER_SIZE + BR_MAX_PAYLOAD) < 0)
		finish(EXIT_ENGINE, "out of memory");
	n = read(c->sock, c->in.data + c->in.len, c->in.cap - c->in.len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) /* EOF (or ECONNRESET) before CLIENT_EXIT */
		finish(EXIT_ENGINE, "lost connection to the Berth engine");
	c->in.len += n;
	while ((r = frame_parse(c->in.data + c->in.off, buf_used(&c->in), &f))) {
		if (r < 0)
			finish(EXIT_ENGINE, "bad data from the Berth engine");
		on_frame(c, &f);
		buf_consume(&c->in, r);
	}
}

static void read_stdin(struct client *c)
{
	uint8_t b[STDIN_CHUNK];
	ssize_t n = read(0, b, sizeof(b));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		send_frame(c, BR_CLIENT_STDIN, b, n);
		return;
	}
	/* EOF, or an error (EIO from a hung-up terminal, EBADF): no more input. */
	send_frame(c, BR_CLIENT_STDIN_EOF, NULL, 0);
	c->stdin_open = 0;
}

static void on_signals(struct client *c, int sigfd)
{
	struct signalfd_siginfo si;

	while (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
		int sig = (int)si.ssi_signo;
		uint8_t b[4];
		struct winsize ws;

		if (sig == SIGWINCH) {
			if (get_size(0, &ws) == 0 || get_size(1, &ws) == 0) {
				b[0] = ws.ws_row, b[1] = ws.ws_row >> 8;
				b[2] = ws.ws_col, b[3] = ws.ws_col >> 8;
				send_frame(c, BR_CLIENT_RESIZE, b, 4);
			}
			continue;
		}
		/* SIGINT, SIGTERM, SIGHUP. While raw, ^C is a byte, not a signal:
		 * this one came from kill(1) or a hangup, so leave (the agent
		 * tells the host SIGHUP). Otherwise the host decides. */
		if (raw_on)
			finish(128 + sig, NULL);
		put_u32(b, (uint32_t)sig);
		send_frame(c, BR_CLIENT_SIGNAL, b, 4);
	}
}

int client_main(int argc, char **argv)
{
	struct client c = { .sock = -1 };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = getenv("BERTH_DOCKER_SOCKET");
	sigset_t sigs;
	int sigfd, e = 0;

	if (!path || !*path)
		path = BR_DOCKER_SOCKET;
	/* Keep fds 0-2 taken, so the socket is never mistaken for stdio. */
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			return EXIT_ENGINE;
	signal(SIGPIPE, SIG_IGN); /* EPIPE instead */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGWINCH);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	if ((sigfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
		perror("docker: signalfd");
		return EXIT_ENGINE;
	}

	if (strlen(path) >= sizeof(sa.sun_path))
		e = ENAMETOOLONG;
	else if ((c.sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		e = errno;
	else {
		strcpy(sa.sun_path, path);
		while (connect(c.sock, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			if (errno != EINTR) {
				e = errno;
				break;
			}
	}
	if (e) {
		fprintf(stderr, "docker: cannot connect to the Berth engine at %s: %s\n", path, strerror(e));
		return EXIT_ENGINE;
	}

	send_open(&c, argc, argv);
	for (;;) {
		struct pollfd pfd[3] = {
			{ .fd = c.sock, .events = POLLIN },
			{ .fd = sigfd, .events = POLLIN },
			{ .fd = c.stdin_open ? 0 : -1, .events = POLLIN },
		};
		if (poll(pfd, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			finish(EXIT_ENGINE, strerror(errno));
		}
		if (pfd[1].revents)
			on_signals(&c, sigfd);
		if (pfd[0].revents)
			read_socket(&c);
		if (pfd[2].revents && c.stdin_open)
			read_stdin(&c);
	}
}

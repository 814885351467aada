/* berth-agent: serves the Berth engine over a virtio-console port.
 *
 *   berth-agent [--docker-socket PATH] [--fd N | DEVICE]   (DEVICE: /dev/hvc1)
 *   docker ARGS...        (the same binary under that name: client.c)
 *   berth-agent net ...   (container networking helpers: net.c)
 *   berth-agent layer-tar [--exclude RELPATH]... DIR
 *                         (an OCI layer tar of an overlay upper dir on stdout: layer_tar.c)
 *
 * One thread, one poll() loop, every fd non-blocking. The protocol is in
 * docs/protocol.md; see protocol.h for how this agent reads it. In device
 * mode the agent is usually PID 1, so it never exits: if the port reads EOF
 * it is reopened. With --fd (tests) EOF ends the agent.
 *
 * `docker` clients in the guest connect to a Unix socket (sessions.c), by
 * default BR_DOCKER_SOCKET in device mode; with --fd only if
 * --docker-socket is given.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "agent.h"
#include "client.h"
#include "exec.h"
#include "init.h"
#include "layer_tar.h"
#include "mounts.h"
#include "net.h"
#include "protocol.h"
#include "sessions.h"

/* Stop reading process output while this much waits for the port. */
#define SEND_HIGH (256u << 10)
#define REOPEN_MS 1000

static void on_frame(void *ctx, uint8_t type, uint32_t id, const uint8_t *p, uint32_t len)
{
	struct agent *ag = ctx;

	switch (type) {
	case BR_PING: channel_send(&ag->ch, BR_PONG, id, p, len); break;
	case BR_EXEC: exec_start(ag, id, p, len); break;
	case BR_STDIN: exec_stdin(ag, id, p, len); break;
	case BR_STDIN_EOF: exec_stdin_eof(ag, id); break;
	case BR_SIGNAL: exec_signal(ag, id, p, len); break;
	case BR_RESIZE: exec_resize(ag, id, p, len); break;
	case BR_MOUNT: mounts_mount(ag, id, p, len); break;
	case BR_UMOUNT: mounts_umount(ag, id, p, len); break;
	case BR_CLIENT_STDOUT: case BR_CLIENT_STDERR: case BR_CLIENT_EXIT: case BR_CLIENT_RAW:
	case BR_CLIENT_WANT_STDIN:
		sessions_host_frame(ag, type, id, p, len);
		break;
	}
}

static void send_hello(struct agent *ag)
{
	struct utsname u;
	char buf[sizeof(BR_AGENT_VERSION) + sizeof(u.release) + 4];
	int n;

	if (uname(&u) < 0)
		strcpy(u.release, "unknown");
	n = snprintf(buf, sizeof(buf), "v%s%ck%s", BR_AGENT_VERSION, 0, u.release);
	channel_send(&ag->ch, BR_HELLO, 0, buf, n + 1);
}

static void open_device(struct agent *ag, int64_t now)
{
	int fd = open(ag->device, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC), r;

	if (fd < 0 || (r = channel_attach(&ag->ch, fd)) < 0) {
		if (!ag->open_failing) /* log once per outage, not every second */
			fprintf(stderr, "berth-agent: %s: %s, retrying\n", ag->device,
				strerror(fd < 0 ? errno : -r));
		ag->open_failing = 1;
		if (fd >= 0)
			close(fd);
		ag->reopen_at = now + REOPEN_MS;
		return;
	}
	ag->open_failing = 0;
	send_hello(ag);
}

static void channel_lost(struct agent *ag, int64_t now, int err)
{
	if (!ag->device) {
		exec_kill_all(ag);
		sessions_shutdown(ag);
		exit(err ? 1 : 0);
	}
	fprintf(stderr, "berth-agent: %s: %s, reopening\n", ag->device, err ? strerror(err) : "EOF");
	channel_detach(&ag->ch);
	sessions_drop_all(ag);
	ag->reopen_at = now + REOPEN_MS;
}

/* Children rely on fds 0-2 being taken, so no pipe lands there. */
static void ensure_stdio(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			exit(1);
}

static int64_t earliest(int64_t a, int64_t b)
{
	return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

static int usage(void)
{
	fprintf(stderr, "usage: berth-agent [--docker-socket PATH] [--fd N | DEVICE]   (DEVICE: /dev/hvc1)\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct agent ag = { .device = "/dev/hvc1", .sigfd = -1, .docker_fd = -1 };
	const char *docker_socket = NULL, *name = argc > 0 ? strrchr(argv[0], '/') : NULL;
	struct pollfd *pfd = NULL;
	struct pollref *ref = NULL;
	size_t cap = 0;
	int64_t finish_due = -1;
	sigset_t chld;
	int fd = -1, have_port = 0;

	name = name ? name + 1 : argc > 0 ? argv[0] : "";
	if (!strcmp(name, "docker"))
		return client_main(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "net"))
		return net_main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "layer-tar"))
		return layer_tar_main(argc - 1, argv + 1);
	if (!strcmp(name, "init") && getpid() == 1) {
		/* Run as the guest's /init: set the system up, then serve the host on hvc1. */
		if (init_system() < 0)
			fprintf(stderr, "berth-init: set-up incomplete; serving the host anyway\n");
		argc = 1;
	}

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--fd") && i + 1 < argc && !have_port) {
			char *end, *arg = argv[++i];
			long v = strtol(arg, &end, 10);
			if (*end || end == arg || v < 0 || v > 1 << 20 || fcntl((int)v, F_GETFD) < 0) {
				fprintf(stderr, "berth-agent: --fd %s: not an open fd\n", arg);
				return 2;
			}
			fd = (int)v;
			ag.device = NULL;
			have_port = 1;
		} else if (!strcmp(argv[i], "--docker-socket") && i + 1 < argc && argv[i + 1][0]) {
			docker_socket = argv[++i];
		} else if (argv[i][0] != '-' && !have_port) {
			ag.device = argv[i];
			have_port = 1;
		} else {
			return usage();
		}
	}
	if (!docker_socket && ag.device)
		docker_socket = BR_DOCKER_SOCKET;

	ensure_stdio();
	signal(SIGPIPE, SIG_IGN); /* EPIPE instead */
	prctl(PR_SET_CHILD_SUBREAPER, 1); /* orphans come to us, so we can reap them */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	if ((ag.sigfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
	    channel_init(&ag.ch, on_frame, &ag) < 0) {
		perror("berth-agent: setup");
		return 1;
	}
	if (docker_socket) {
		int r = sessions_listen(&ag, docker_socket);
		if (r < 0) /* serve the host anyway: only `docker` in the guest is lost */
			fprintf(stderr, "berth-agent: docker socket %s: %s (no docker in the guest)\n",
				docker_socket, strerror(-r));
	}
	if (fd >= 0) {
		int r = channel_attach(&ag.ch, fd);
		if (r < 0) {
			fprintf(stderr, "berth-agent: fd %d: %s\n", fd, strerror(-r));
			return 1;
		}
		send_hello(&ag);
	} else {
		open_device(&ag, now_ms());
	}

	for (;;) {
		int64_t now = now_ms(), due = finish_due;
		size_t n = 0, base, sbase, need = 2 + EXEC_POLLS_PER_PROC * exec_count(&ag) +
						  sessions_poll_count(&ag);
		int ch_slot = -1, timeout, port_free;

		if (ag.ch.fd < 0 && now >= ag.reopen_at)
			open_device(&ag, now);
		if (need > cap) {
			struct pollfd *np = realloc(pfd, need * sizeof(*pfd));
			struct pollref *nr = np ? realloc(ref, need * sizeof(*ref)) : NULL;
			if (np)
				pfd = np;
			if (nr)
				ref = nr, cap = need;
			/* on failure keep the old size: some fds wait a turn */
		}
		pfd[n++] = (struct pollfd){ .fd = ag.sigfd, .events = POLLIN };
		if (ag.ch.fd >= 0) {
			ch_slot = n;
			pfd[n++] = (struct pollfd){ .fd = ag.ch.fd,
						    .events = POLLIN | (channel_pending(&ag.ch) ? POLLOUT : 0) };
			due = earliest(due, channel_check_timeout(&ag.ch, now));
		} else {
			due = earliest(due, ag.reopen_at);
		}
		port_free = channel_pending(&ag.ch) < SEND_HIGH;
		base = n;
		n += exec_poll_fill(&ag, pfd + n, ref + n, cap - n, port_free, now);
		sbase = n;
		n += sessions_poll_fill(&ag, pfd + n, ref + n, cap - n, port_free && ag.ch.fd >= 0, now);
		timeout = due < 0 ? -1 : due <= now ? 0 : (int)(due - now);

		if (poll(pfd, n, timeout) < 0 && errno != EINTR) {
			perror("berth-agent: poll");
			continue;
		}
		now = now_ms();

		if (ch_slot >= 0 && pfd[ch_slot].revents) {
			int r = pfd[ch_slot].revents & POLLOUT ? channel_flush(&ag.ch) : 0;
			if (r == 0 && pfd[ch_slot].revents & (POLLIN | POLLHUP | POLLERR))
				r = channel_read(&ag.ch, now);
			if (r != 0)
				channel_lost(&ag, now, r < 0 ? -r : 0);
		}
		exec_poll_handle(&ag, pfd + base, ref + base, sbase - base, now);
		sessions_poll_handle(&ag, pfd + sbase, ref + sbase, n - sbase, now);
		if (pfd[0].revents)
			exec_reap(&ag, now);
		if (ag.ch.fd >= 0)
			channel_check_timeout(&ag.ch, now);
		finish_due = earliest(exec_finish(&ag, now), sessions_finish(&ag, now));
		if (ag.ch.fd >= 0) {
			int r = channel_flush(&ag.ch);
			if (r < 0)
				channel_lost(&ag, now, -r);
		}
	}
}

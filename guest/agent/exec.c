#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "protocol.h"

#define READ_CHUNK 16384 /* per fd per loop turn, so no process starves others */
#define DRAIN_QUIET_MS 200 /* after exit, give up on output quiet this long */
#define STDIN_QUEUE_MAX (4u << 20) /* the host keeps 64 KiB in flight; this is a guard */
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

enum { K_OUT, K_ERR, K_IN, K_TERM, K_LISTEN, K_CONN };

struct proc {
	struct proc *next;
	uint32_t id;
	pid_t pid; /* a session and process group leader */
	int out_fd, err_fd; /* pipes from its stdout / stderr, -1 once at EOF */
	int in_fd; /* pipe to its stdin; -1 with `n`, with `t`, or once closed */
	int term_fd; /* terminal master (`t` pty or console socket), -1 if none */
	int term_eof; /* the terminal read EOF/EIO: all slave fds are closed */
	int use_term; /* stdin goes to the terminal (`t` or `s`) */
	int listen_fd, conn_fd; /* console socket, until the terminal arrives */
	char *sock_path;
	struct buf inq; /* STDIN not written yet */
	int eof_pending; /* STDIN_EOF received, applied once inq is empty */
	int stdin_done; /* stdin is closed: discard (and ACK) more STDIN */
	struct winsize ws; /* size for a console terminal that has not arrived */
	int ws_pending;
	int exited, status;
	int64_t quiet_since; /* after exit: last time output arrived */
};

/* What EXEC asks for, pointing into the frame's payload. */
struct spec {
	char **argv, **envp;
	const char *cwd, *path, *sock;
	int pty, null_stdin;
	struct winsize ws;
};

/* Written by a child that failed before or at execve. */
struct child_report {
	int stage; /* 0 exec, 1 chdir, 2 terminal setup */
	int err;
};

static struct proc *proc_find(struct agent *ag, uint32_t id)
{
	for (struct proc *p = ag->procs; p; p = p->next)
		if (p->id == id)
			return p;
	return NULL;
}

static struct proc *proc_new(uint32_t id)
{
	struct proc *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->id = id;
	p->out_fd = p->err_fd = p->in_fd = p->term_fd = p->listen_fd = p->conn_fd = -1;
	return p;
}

static void console_close(struct proc *p)
{
	close_fd(&p->listen_fd);
	close_fd(&p->conn_fd);
	if (p->sock_path)
		unlink(p->sock_path);
	free(p->sock_path);
	p->sock_path = NULL;
}

static void proc_free(struct proc *p)
{
	console_close(p);
	close_fd(&p->out_fd);
	close_fd(&p->err_fd);
	close_fd(&p->in_fd);
	close_fd(&p->term_fd);
	buf_free(&p->inq);
	free(p);
}

size_t exec_count(const struct agent *ag)
{
	size_t n = 0;
	for (const struct proc *p = ag->procs; p; p = p->next)
		n++;
	return n;
}

/* ---- EXEC ---- */

static int parse_size(const char *s, struct winsize *ws)
{
	char *end;
	unsigned long r = strtoul(s, &end, 10), c;
	if (end == s || *end != 'x')
		return -EINVAL;
	s = end + 1;
	c = strtoul(s, &end, 10);
	if (end == s || *end || r == 0 || c == 0 || r > 65535 || c > 65535)
		return -EINVAL;
	memset(ws, 0, sizeof(*ws));
	ws->ws_row = r;
	ws->ws_col = c;
	return 0;
}

/* Fill sp from the tags; argv/envp are malloc'ed, the strings are not. */
static int parse_exec(const uint8_t *p, uint32_t len, struct spec *sp, const char **why)
{
	uint32_t pos = 0;
	size_t na = 0, ne = 0;
	const char *v;
	char tag;

	memset(sp, 0, sizeof(*sp));
	if (tags_valid(p, len) < 0)
		return *why = "unterminated tag", -EINVAL;
	while (tags_next(p, len, &pos, &tag, &v))
		na += tag == 'a', ne += tag == 'e';
	if (na == 0)
		return *why = "no argv (tag a)", -EINVAL;
	sp->argv = calloc(na + 1, sizeof(char *));
	sp->envp = calloc(ne + 1, sizeof(char *));
	if (!sp->argv || !sp->envp)
		return *why = "out of memory", -ENOMEM;
	na = ne = 0;
	pos = 0;
	while (tags_next(p, len, &pos, &tag, &v)) {
		switch (tag) {
		case 'a': sp->argv[na++] = (char *)v; break;
		case 'e':
			sp->envp[ne++] = (char *)v;
			if (!sp->path && !strncmp(v, "PATH=", 5))
				sp->path = v + 5;
			break;
		case 'c': sp->cwd = v; break;
		case 'n': sp->null_stdin = 1; break;
		case 's': sp->sock = v; break;
		case 't':
			if (parse_size(v, &sp->ws) < 0)
				return *why = "bad terminal size (tag t, ROWSxCOLS)", -EINVAL;
			sp->pty = 1;
			break;
		}
	}
	if (sp->sock)
		sp->pty = 0; /* `s` wins; `t` only sizes the received terminal */
	return 0;
}

/* execvpe() with the PATH from the request's environment. Returns errno. */
static int exec_search(const struct spec *sp)
{
	const char *file = sp->argv[0], *dir = sp->path ? sp->path : DEFAULT_PATH;
	size_t flen = strlen(file);
	char buf[PATH_MAX];
	int eacces = 0;

	if (!flen)
		return ENOENT;
	if (strchr(file, '/')) {
		execve(file, sp->argv, sp->envp);
		return errno;
	}
	for (;;) {
		const char *end = strchrnul(dir, ':');
		size_t dlen = end - dir;
		if (dlen == 0) /* an empty entry means the working dir */
			dir = ".", dlen = 1;
		if (dlen + 1 + flen < sizeof(buf)) {
			memcpy(buf, dir, dlen);
			buf[dlen] = '/';
			memcpy(buf + dlen + 1, file, flen + 1);
			execve(buf, sp->argv, sp->envp);
			if (errno == EACCES)
				eacces = 1;
			else if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE && errno != ENODEV)
				return errno;
		}
		if (!*end)
			break;
		dir = end + 1;
	}
	return eacces ? EACCES : ENOENT;
}

/* In the forked child: set up stdio and session, exec. Never returns. */
static void __attribute__((noreturn))
child(const struct spec *sp, int in, int out, int err, int slave, int rep)
{
	struct child_report r = { 2, 0 };
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	setsid(); /* own session and group: SIGNAL goes to -pid */
	if (slave >= 0) {
		if (ioctl(slave, TIOCSCTTY, 0) < 0)
			goto fail;
		in = out = err = slave;
	} else if (in < 0 && (in = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		goto fail;
	}
	/* All of them are >= 3 (main keeps 0-2 open), so dup2 clears CLOEXEC. */
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		goto fail;
	if (sp->cwd && chdir(sp->cwd) < 0) {
		r.stage = 1;
		goto fail;
	}
	r.stage = 0;
	r.err = exec_search(sp);
	goto report;
fail:
	r.err = errno;
report:
	if (write(rep, &r, sizeof(r)) < 0) { /* nothing left to do */ }
	_exit(127);
}

static int console_listen(struct proc *p, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	unlink(path); /* a stale socket from an earlier run */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	p->listen_fd = fd;
	if (!(p->sock_path = strdup(path))) {
		console_close(p);
		return -ENOMEM;
	}
	return 0;
}

/* Fork and exec; on failure fill msg and return -errno (no process left). */
static int spawn(struct proc *p, const struct spec *sp, char *msg, size_t msgsz)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 }, rep[2] = { -1, -1 };
	int master = -1, slave = -1, r = 0;
	struct child_report cr;
	char name[64];
	pid_t pid;

	if (sp->sock && (r = console_listen(p, sp->sock)) < 0) {
		snprintf(msg, msgsz, "console socket %s: %s", sp->sock, strerror(-r));
		return r;
	}
	if (sp->pty) {
		if ((master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0 || grantpt(master) < 0 ||
		    unlockpt(master) < 0 || ptsname_r(master, name, sizeof(name)) != 0 ||
		    (slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0 ||
		    ioctl(master, TIOCSWINSZ, &sp->ws) < 0)
			goto sys_fail;
	} else if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
		   (!sp->null_stdin && pipe2(in, O_CLOEXEC) < 0)) {
		goto sys_fail;
	}
	if (pipe2(rep, O_CLOEXEC) < 0 || (pid = fork()) < 0)
		goto sys_fail;
	if (pid == 0)
		child(sp, in[0], out[1], err[1], slave, rep[1]);

	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&err[1]);
	close_fd(&rep[1]);
	/* The classic trick: the CLOEXEC pipe reads EOF once execve succeeded.
	 * This blocks only for the child's setup and execve itself. */
	ssize_t n;
	do
		n = read(rep[0], &cr, sizeof(cr));
	while (n < 0 && errno == EINTR);
	close_fd(&rep[0]);
	close_fd(&slave); /* the child has it now, or is gone */
	if (n == sizeof(cr)) {
		waitpid(pid, NULL, 0);
		r = -cr.err;
		if (cr.stage == 1)
			snprintf(msg, msgsz, "chdir %s: %s", sp->cwd, strerror(cr.err));
		else if (cr.stage == 2)
			snprintf(msg, msgsz, "stdio or terminal setup: %s", strerror(cr.err));
		else
			snprintf(msg, msgsz, "exec %s: %s", sp->argv[0], strerror(cr.err));
		goto cleanup;
	}
	p->pid = pid;
	p->out_fd = out[0];
	p->err_fd = err[0];
	p->in_fd = in[1];
	p->term_fd = master;
	p->use_term = sp->pty || sp->sock;
	p->stdin_done = !p->use_term && p->in_fd < 0;
	if (sp->sock && sp->ws.ws_row)
		p->ws = sp->ws, p->ws_pending = 1;
	for (int i = 0, *fds[] = { &p->out_fd, &p->err_fd, &p->in_fd, &p->term_fd }; i < 4; i++)
		if (*fds[i] >= 0)
			set_nonblock(*fds[i]);
	return 0;

sys_fail:
	r = -errno;
	snprintf(msg, msgsz, "spawning %s: %s", sp->argv[0], strerror(errno));
cleanup:
	for (int i = 0; i < 2; i++) {
		close_fd(&in[i]);
		close_fd(&out[i]);
		close_fd(&err[i]);
		close_fd(&rep[i]);
	}
	close_fd(&master);
	close_fd(&slave);
	console_close(p);
	return r;
}

void exec_start(struct agent *ag, uint32_t id, const uint8_t *pay, uint32_t len)
{
	const char *why = NULL;
	struct spec sp;
	struct proc *p = NULL;
	char msg[512];
	uint8_t started[4];
	int r = parse_exec(pay, len, &sp, &why);

	if (r < 0) {
		channel_send_error(&ag->ch, id, errno_name(-r), "EXEC: %s", why);
		goto out;
	}
	if (id == 0) {
		channel_send_error(&ag->ch, id, "EINVAL", "EXEC needs a non-zero id");
		goto out;
	}
	if (proc_find(ag, id)) {
		channel_send_error(&ag->ch, id, BR_EBUSYID, "id %u is still running", id);
		goto out;
	}
	if (!(p = proc_new(id))) {
		channel_send_error(&ag->ch, id, "ENOMEM", "EXEC: out of memory");
		goto out;
	}
	if ((r = spawn(p, &sp, msg, sizeof(msg))) < 0) {
		channel_send_error(&ag->ch, id, errno_name(-r), "%s", msg);
		proc_free(p);
		goto out;
	}
	p->next = ag->procs;
	ag->procs = p;
	put_u32(started, (uint32_t)p->pid);
	channel_send(&ag->ch, BR_STARTED, id, started, sizeof(started));
out:
	free(sp.argv);
	free(sp.envp);
}

/* ---- stdin ---- */

static void send_stdin_ack(struct agent *ag, struct proc *p, size_t n)
{
	uint8_t b[4];
	put_u32(b, (uint32_t)n);
	channel_send(&ag->ch, BR_STDIN_ACK, p->id, b, sizeof(b));
}

/* Where STDIN goes now; -1 if nowhere (yet). */
static int stdin_fd(const struct proc *p)
{
	if (p->use_term)
		return p->term_eof ? -1 : p->term_fd; /* nobody holds the slave side */
	return p->in_fd;
}

/* Write queued stdin; discard it if it can never be written. Then apply a
 * pending STDIN_EOF. Sends one STDIN_ACK for what left the queue. */
static void stdin_flush(struct agent *ag, struct proc *p)
{
	int fd = stdin_fd(p);
	size_t done = 0;

	if (fd < 0 && p->listen_fd >= 0)
		return; /* the console terminal has not arrived yet: keep it */
	while (buf_used(&p->inq)) {
		ssize_t n = fd < 0 ? -1 : write(fd, p->inq.data + p->inq.off, buf_used(&p->inq));
		if (n > 0) {
			buf_consume(&p->inq, n);
			done += n;
			continue;
		}
		if (n < 0 && fd >= 0 && errno == EINTR)
			continue;
		if (n < 0 && fd >= 0 && errno == EAGAIN)
			break;
		/* EPIPE, EIO, no fd: nobody will ever read it. */
		done += buf_used(&p->inq);
		buf_consume(&p->inq, buf_used(&p->inq));
		if (!p->use_term)
			close_fd(&p->in_fd);
		p->stdin_done = 1;
	}
	if (done)
		send_stdin_ack(ag, p, done);
	if (buf_used(&p->inq) || !p->eof_pending)
		return;
	if (p->use_term && stdin_fd(p) >= 0) {
		/* A terminal has no half-close: type its EOF character. */
		struct termios tio;
		char c = tcgetattr(p->term_fd, &tio) == 0 && tio.c_cc[VEOF] ? tio.c_cc[VEOF] : 4;
		if (write(p->term_fd, &c, 1) < 0 && errno == EAGAIN)
			return;
	}
	close_fd(&p->in_fd);
	p->eof_pending = 0;
	p->stdin_done = 1;
}

static struct proc *proc_or_error(struct agent *ag, uint32_t id, const char *what)
{
	struct proc *p = proc_find(ag, id);
	if (!p)
		channel_send_error(&ag->ch, id, "ESRCH", "%s: no process with id %u", what, id);
	return p;
}

void exec_stdin(struct agent *ag, uint32_t id, const uint8_t *pay, uint32_t len)
{
	struct proc *p = proc_or_error(ag, id, "STDIN");

	if (!p || !len)
		return;
	if (p->stdin_done || p->eof_pending) {
		send_stdin_ack(ag, p, len); /* discarded, but keep the host's window moving */
		return;
	}
	if (buf_used(&p->inq) + len > STDIN_QUEUE_MAX || buf_append(&p->inq, pay, len) < 0) {
		channel_send_error(&ag->ch, id, "ENOBUFS", "stdin queue full, %u bytes dropped", len);
		send_stdin_ack(ag, p, len);
		return;
	}
	stdin_flush(ag, p);
}

void exec_stdin_eof(struct agent *ag, uint32_t id)
{
	struct proc *p = proc_or_error(ag, id, "STDIN_EOF");

	if (!p || p->stdin_done)
		return;
	p->eof_pending = 1;
	stdin_flush(ag, p);
}

/* ---- signals and terminal size ---- */

void exec_signal(struct agent *ag, uint32_t id, const uint8_t *pay, uint32_t len)
{
	struct proc *p = proc_or_error(ag, id, "SIGNAL");
	int sig, r;

	if (!p)
		return;
	if (len < 4 || (sig = (int32_t)get_u32(pay)) < 0 || sig >= NSIG) {
		channel_send_error(&ag->ch, id, "EINVAL", "SIGNAL: bad signal number");
		return;
	}
	/* The child called setsid(), so its pid is its process group. */
	r = kill(-p->pid, sig);
	if (r < 0 && errno == ESRCH && !p->exited) /* never after reaping: the pid may be reused */
		r = kill(p->pid, sig);
	if (r < 0 && !(errno == ESRCH && p->exited))
		channel_send_error(&ag->ch, id, errno_name(errno), "SIGNAL %d: %s", sig, strerror(errno));
}

void exec_resize(struct agent *ag, uint32_t id, const uint8_t *pay, uint32_t len)
{
	struct proc *p = proc_or_error(ag, id, "RESIZE");
	struct winsize ws = { 0 };

	if (!p)
		return;
	if (len < 4) {
		channel_send_error(&ag->ch, id, "EINVAL", "RESIZE: payload too short");
		return;
	}
	ws.ws_row = get_u16(pay);
	ws.ws_col = get_u16(pay + 2);
	if (p->term_fd >= 0) {
		if (ioctl(p->term_fd, TIOCSWINSZ, &ws) < 0)
			channel_send_error(&ag->ch, id, errno_name(errno), "RESIZE: %s", strerror(errno));
	} else if (p->use_term && p->listen_fd >= 0) {
		p->ws = ws; /* applied when the console terminal arrives */
		p->ws_pending = 1;
	} else {
		channel_send_error(&ag->ch, id, "ENOTTY", "RESIZE: process %u has no terminal", id);
	}
}

/* ---- console sockets ---- */

/* Take the terminal master sent over the console socket, if it is there. */
static void console_recv(struct proc *p)
{
	char data[256];
	union { /* aligned for struct cmsghdr */
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = { data, sizeof(data) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.buf,
			    .msg_controllen = sizeof(cbuf.buf) };
	int fd = -1;
	ssize_t n = recvmsg(p->conn_fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	for (struct cmsghdr *c = n >= 0 ? CMSG_FIRSTHDR(&m) : NULL; c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int f;
			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (fd < 0)
				fd = f;
			else
				close(f); /* only one terminal is expected */
		}
	}
	if (fd >= 0) {
		set_nonblock(fd);
		p->term_fd = fd;
		if (p->ws_pending)
			ioctl(fd, TIOCSWINSZ, &p->ws);
		p->ws_pending = 0;
		console_close(p); /* done: the socket file goes away */
	} else if (n <= 0) {
		close_fd(&p->conn_fd); /* a peer that sent nothing: keep listening */
	}
}

static void console_accept(struct proc *p)
{
	if (p->conn_fd < 0) {
		p->conn_fd = accept4(p->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (p->conn_fd < 0)
			return;
	}
	console_recv(p);
}

/* ---- the loop's side ---- */

size_t exec_poll_fill(struct agent *ag, struct pollfd *pfd, struct pollref *ref, size_t max,
		      int read_output, int64_t now)
{
	size_t n = 0;

#define ADD(fd_, ev_, kind_) \
	do { \
		if (n < max) { \
			pfd[n] = (struct pollfd){ .fd = (fd_), .events = (ev_) }; \
			ref[n++] = (struct pollref){ p, (kind_) }; \
		} \
	} while (0)

	for (struct proc *p = ag->procs; p; p = p->next) {
		int want_in = buf_used(&p->inq) || p->eof_pending;
		if (read_output) {
			if (p->out_fd >= 0)
				ADD(p->out_fd, POLLIN, K_OUT);
			if (p->err_fd >= 0)
				ADD(p->err_fd, POLLIN, K_ERR);
		} else if (p->exited) {
			p->quiet_since = now; /* not reading is not quiet */
		}
		int term_in = read_output && !p->term_eof, term_out = want_in && p->use_term;
		if (p->term_fd >= 0 && (term_in || term_out))
			ADD(p->term_fd, (term_in ? POLLIN : 0) | (term_out ? POLLOUT : 0), K_TERM);
		if (p->in_fd >= 0 && want_in && !p->use_term)
			ADD(p->in_fd, POLLOUT, K_IN);
		if (p->listen_fd >= 0 && p->conn_fd < 0)
			ADD(p->listen_fd, POLLIN, K_LISTEN);
		if (p->conn_fd >= 0)
			ADD(p->conn_fd, POLLIN, K_CONN);
	}
#undef ADD
	return n;
}

/* Send one chunk of output as a frame; close the fd at EOF. */
static void read_output(struct agent *ag, struct proc *p, int *fd, uint8_t type, int64_t now)
{
	uint8_t *dst = channel_reserve(&ag->ch, READ_CHUNK);
	ssize_t n;

	if (!dst)
		return; /* out of memory: retry next turn */
	n = read(*fd, dst, READ_CHUNK);
	if (n > 0) {
		channel_commit(&ag->ch, type, p->id, n);
		p->quiet_since = now;
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	/* EOF; or EIO, which a pty master returns once the slave side is closed.
	 * Keep a terminal master open until the process is gone: closing it
	 * hangs the terminal up, and a process that closed its stdio just
	 * before exiting would die of SIGHUP instead of its exit code. */
	if (fd == &p->term_fd)
		p->term_eof = 1;
	else
		close_fd(fd);
}

void exec_poll_handle(struct agent *ag, const struct pollfd *pfd, const struct pollref *ref,
		      size_t n, int64_t now)
{
	for (size_t i = 0; i < n; i++) {
		struct proc *p = ref[i].p;
		short ev = pfd[i].revents;
		int *fd;

		if (!ev)
			continue;
		switch (ref[i].kind) { /* skip slots whose fd was closed meanwhile */
		case K_OUT: fd = &p->out_fd; break;
		case K_ERR: fd = &p->err_fd; break;
		case K_IN: fd = &p->in_fd; break;
		case K_TERM: fd = &p->term_fd; break;
		case K_LISTEN: fd = &p->listen_fd; break;
		default: fd = &p->conn_fd; break;
		}
		if (*fd != pfd[i].fd)
			continue;
		switch (ref[i].kind) {
		case K_OUT: read_output(ag, p, fd, BR_STDOUT, now); break;
		case K_ERR: read_output(ag, p, fd, BR_STDERR, now); break;
		case K_IN: stdin_flush(ag, p); break;
		case K_TERM:
			if (ev & POLLOUT)
				stdin_flush(ag, p);
			if ((pfd[i].events & POLLIN) && (ev & (POLLIN | POLLHUP | POLLERR)) && p->term_fd >= 0)
				read_output(ag, p, &p->term_fd, BR_STDOUT, now);
			break;
		case K_LISTEN: console_accept(p); break;
		case K_CONN: console_recv(p); break;
		}
	}
}

void exec_reap(struct agent *ag, int64_t now)
{
	struct signalfd_siginfo si;
	int st;
	pid_t pid;

	while (read(ag->sigfd, &si, sizeof(si)) == sizeof(si))
		;
	/* Reap everything: orphans are ours too (subreaper, or PID 1). */
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (struct proc *p = ag->procs; p; p = p->next) {
			if (p->pid != pid || p->exited)
				continue;
			p->exited = 1;
			p->status = st;
			p->quiet_since = now;
			if (p->listen_fd >= 0) {
				console_accept(p); /* it may have sent the terminal just before exiting */
				if (p->listen_fd >= 0)
					console_close(p);
			}
			break;
		}
	}
}

int64_t exec_finish(struct agent *ag, int64_t now)
{
	int64_t next = -1;

	for (struct proc **pp = &ag->procs, *p; (p = *pp);) {
		if (p->exited && (p->out_fd >= 0 || p->err_fd >= 0 || (p->term_fd >= 0 && !p->term_eof)) &&
		    now - p->quiet_since < DRAIN_QUIET_MS) {
			int64_t due = p->quiet_since + DRAIN_QUIET_MS;
			next = next < 0 || due < next ? due : next;
		}
		else if (p->exited) {
			/* Drained (EOF), or a grandchild holds the output open and
			 * nothing came for a while: report the exit after the output. */
			uint8_t b[8];
			int code, sig = 0;
			if (WIFSIGNALED(p->status))
				sig = WTERMSIG(p->status), code = 128 + sig;
			else
				code = WEXITSTATUS(p->status);
			put_u32(b, (uint32_t)code);
			put_u32(b + 4, (uint32_t)sig);
			channel_send(&ag->ch, BR_EXIT, p->id, b, sizeof(b));
			*pp = p->next;
			proc_free(p);
			continue;
		}
		pp = &p->next;
	}
	return next;
}

void exec_kill_all(struct agent *ag)
{
	for (struct proc *p = ag->procs; p; p = p->next)
		if (!p->exited)
			kill(-p->pid, SIGKILL);
}

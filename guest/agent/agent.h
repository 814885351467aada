/* The agent's whole state: one struct, passed around explicitly. */
#ifndef BERTH_AGENT_H
#define BERTH_AGENT_H

#include <stdint.h>

#include "channel.h"

struct proc;
struct session;

struct agent {
	struct channel ch;
	struct proc *procs; /* processes whose EXIT is not sent yet */
	int sigfd; /* signalfd for SIGCHLD */
	const char *device; /* port to (re)open; NULL with --fd */
	int64_t reopen_at; /* device mode: when to retry opening the port */
	int open_failing; /* device mode: the last open failed (logged once) */
	/* Client sessions (sessions.c): `docker` in the guest. */
	struct session *sessions;
	int docker_fd; /* listening socket, -1 if none */
	char *docker_path;
	uint32_t session_n; /* the last n of a session id BR_SESSION_BIT | n */
	int64_t accept_resume; /* accept() failed for lack of fds: retry then */
};

/* What a pollfd slot filled by a module's *_poll_fill() refers to. */
struct pollref {
	void *p; /* struct proc * (exec.c) or struct session * (sessions.c) */
	int kind;
};

#endif

/* The agent's whole state: one struct, passed around explicitly. */
#ifndef BERTH_AGENT_H
#define BERTH_AGENT_H

#include <stdint.h>

#include "channel.h"

struct proc;

struct agent {
	struct channel ch;
	struct proc *procs; /* processes whose EXIT is not sent yet */
	int sigfd; /* signalfd for SIGCHLD */
	const char *device; /* port to (re)open; NULL with --fd */
	int64_t reopen_at; /* device mode: when to retry opening the port */
	int open_failing; /* device mode: the last open failed (logged once) */
};

#endif

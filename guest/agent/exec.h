/* Processes: EXEC, their stdio, stdin queues, signals, terminals, console
 * sockets, reaping and EXIT reporting. */
#ifndef BERTH_EXEC_H
#define BERTH_EXEC_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "agent.h"

#define EXEC_POLLS_PER_PROC 6

void exec_start(struct agent *ag, uint32_t id, const uint8_t *p, uint32_t len);
void exec_stdin(struct agent *ag, uint32_t id, const uint8_t *p, uint32_t len);
void exec_stdin_eof(struct agent *ag, uint32_t id);
void exec_signal(struct agent *ag, uint32_t id, const uint8_t *p, uint32_t len);
void exec_resize(struct agent *ag, uint32_t id, const uint8_t *p, uint32_t len);

size_t exec_count(const struct agent *ag);
/* Fill pollfds for all processes; output fds only if read_output (the send
 * buffer is not too full). Returns the number of slots used. */
size_t exec_poll_fill(struct agent *ag, struct pollfd *pfd, struct pollref *ref, size_t max,
		      int read_output, int64_t now);
void exec_poll_handle(struct agent *ag, const struct pollfd *pfd, const struct pollref *ref,
		      size_t n, int64_t now);
/* SIGCHLD arrived: reap every child (we are subreaper, maybe PID 1). */
void exec_reap(struct agent *ag, int64_t now);
/* Send EXIT for processes that exited and whose output is drained. Returns
 * the next time (ms) this must run again, or -1. */
int64_t exec_finish(struct agent *ag, int64_t now);
/* Agent shutdown (--fd mode only): SIGKILL every process group. */
void exec_kill_all(struct agent *ag);

#endif

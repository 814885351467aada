/* Client sessions, the agent's side: `docker` in the guest (client.c)
 * connects to a Unix socket; each connection is one session, relayed to the
 * host under the id BR_SESSION_BIT | n (docs/protocol.md, "Client sessions"). */
#ifndef BERTH_SESSIONS_H
#define BERTH_SESSIONS_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "agent.h"

/* Listen on path (parent dirs created, a stale socket removed, mode 0666).
 * Returns 0 or -errno; the agent goes on without client sessions then. */
int sessions_listen(struct agent *ag, const char *path);
/* Agent exit (--fd mode): remove the socket file. */
void sessions_shutdown(struct agent *ag);
/* The port was lost (device mode): disconnect every client. */
void sessions_drop_all(struct agent *ag);

/* A CLIENT_STDOUT/STDERR/EXIT/RAW frame from the host. */
void sessions_host_frame(struct agent *ag, uint8_t type, uint32_t id, const uint8_t *p, uint32_t len);

/* Upper bound of the slots sessions_poll_fill() uses. */
size_t sessions_poll_count(const struct agent *ag);
/* Fill pollfds: the listener and clients' input only if read_clients (the
 * port is open and its send buffer not too full); output to clients always. */
size_t sessions_poll_fill(struct agent *ag, struct pollfd *pfd, struct pollref *ref, size_t max,
			  int read_clients, int64_t now);
void sessions_poll_handle(struct agent *ag, const struct pollfd *pfd, const struct pollref *ref,
			  size_t n, int64_t now);
/* Close clients whose CLIENT_EXIT was written, free dropped ones. Returns
 * when the loop must run again (ms), or -1. */
int64_t sessions_finish(struct agent *ag, int64_t now);

#endif

/* Berth agent control protocol: mirrors docs/protocol.md (the contract) and
 * src/vm/protocol.ts. Change all three together.
 *
 * Readings of the spec this agent makes where docs/protocol.md is silent or
 * ambiguous (the simplest sensible choice each time):
 *  - "Parsing resumes one byte after the bad frame's magic": resume at the
 *    magic's first byte + 1 (the 'R' cannot start a magic, so this is the same
 *    as skipping the 2-byte magic and never skips a following 'B').
 *  - "Unknown type" means not a host-to-guest type (PING, EXEC, STDIN,
 *    STDIN_EOF, SIGNAL, RESIZE, MOUNT, UMOUNT); it is checked on the header,
 *    so garbage is rejected without waiting for a payload. Flags are ignored.
 *  - Bytes skipped while looking for a magic are reported with one EBADFRAME
 *    per burst: no error while resyncing after an already reported bad frame.
 *  - A truncated frame (2 s without a byte) is dropped like a bad frame: one
 *    ETRUNCATED, then parsing resumes one byte after its magic, so a complete
 *    frame it swallowed is still found.
 *  - STDIN, STDIN_EOF, SIGNAL, RESIZE for an id with no process get ERROR
 *    `ESRCH` on that id. EXEC with id 0 or without `a` gets `EINVAL`.
 *  - STDIN that cannot be delivered (stdin is /dev/null, closed by the
 *    process, or after STDIN_EOF) is discarded and still acknowledged with
 *    STDIN_ACK, so the host's window never stalls. STDIN beyond a 4 MiB
 *    queue (a host ignoring its window) is dropped with ERROR `ENOBUFS`.
 *  - STDIN_EOF on a `t` pty writes the terminal's EOF character, as for a
 *    console socket (closing the master would hang the terminal up). With `s`
 *    it also closes the process's own stdin pipe.
 *  - `s` and `t` together: `s` wins, `t` only gives the received terminal's
 *    initial size; the process's own stdio stays pipes.
 *  - SIGNAL, RESIZE and STDIN get no reply on success, only ERROR on failure.
 *    RESIZE on a process without a terminal gets `ENOTTY`.
 *  - MOUNT without `s` uses "none" as the source; `o` is passed verbatim as
 *    mount(2) data with no mount flags (so "ro" works only where the
 *    filesystem parses it from data). MOUNT/UMOUNT reply OK with no text.
 *  - Every process gets its own session (setsid), so SIGNAL is kill(-pid).
 *    EXIT code is the exit status, or 128+N when killed by signal N.
 *  - Payloads longer than a fixed-size field (PING aside) are accepted; the
 *    extra bytes are ignored. Shorter ones get `EINVAL`.
 *  - HELLO is sent each time the channel is (re)opened: in device mode the
 *    agent (PID 1) reopens the port if it ever reads EOF, instead of exiting.
 *
 * Client sessions (`docker` in the guest, sessions.c and client.c):
 *  - The socket listens by default in device mode only; with --fd (tests)
 *    only when --docker-socket PATH is given. If it cannot listen, the agent
 *    logs that and serves the host without it.
 *  - Clients are accepted and read only while the port is open; when the
 *    port is lost (device mode) every client is disconnected (it prints "lost
 *    connection", exit 125): the host that would answer them is gone.
 *  - Session ids are 0x80000000 | n, n = 1, 2, ... (wrapping to 1 after
 *    0x7fffffff), skipping ids still in use.
 *  - From a client the agent takes CLIENT_OPEN (first and once), then
 *    CLIENT_STDIN, STDIN_EOF, RESIZE, SIGNAL, relayed verbatim; the client's
 *    id field is ignored. Anything else (other types, a second OPEN,
 *    anything before OPEN, bad magic/CRC/length) drops the client.
 *  - A client that disconnects before its CLIENT_OPEN costs the host
 *    nothing: CLIENT_SIGNAL 1 + CLIENT_STDIN_EOF only follow a relayed OPEN.
 *  - Host frames for a session that is unknown, gone, or already got its
 *    CLIENT_EXIT are dropped silently.
 *  - The client reads its stdin only after CLIENT_WANT_STDIN (the command
 *    reads it: run -i, load, login); until then it leaves it unread, for
 *    whoever reads it next (the shell's type-ahead, a `while read` loop).
 *  - The client: a signal while its terminal is raw cannot be ^C (ISIG is
 *    off), so it came from kill(1) or a hangup: the client restores the
 *    terminal and exits 128+N (the agent then tells the host SIGHUP). A
 *    CLIENT_EXIT status outside 0..255 exits 255. Unknown types from the
 *    agent are ignored; a bad frame from it is treated like a lost
 *    connection (message, exit 125).
 */
#ifndef BERTH_PROTOCOL_H
#define BERTH_PROTOCOL_H

#define BR_MAGIC0 0x42 /* 'B' */
#define BR_MAGIC1 0x52 /* 'R' */
#define BR_HEADER_SIZE 16
#define BR_MAX_PAYLOAD 65536
#define BR_TRUNCATE_MS 2000

/* Host-side flow control numbers, for reference (the agent does not enforce them). */
#define BR_HOST_CHUNK 4096
#define BR_HOST_CHUNKS_IN_FLIGHT 8
#define BR_STDIN_WINDOW 65536

enum br_type {
	BR_HELLO = 0x01,
	BR_PING = 0x02,
	BR_PONG = 0x03,
	BR_ACK = 0x04,
	BR_EXEC = 0x10,
	BR_STARTED = 0x11,
	BR_STDIN = 0x12,
	BR_STDIN_EOF = 0x13,
	BR_STDOUT = 0x14,
	BR_STDERR = 0x15,
	BR_EXIT = 0x16,
	BR_SIGNAL = 0x17,
	BR_RESIZE = 0x18,
	BR_STDIN_ACK = 0x19,
	BR_MOUNT = 0x20,
	BR_UMOUNT = 0x21,
	/* Client sessions: `docker` in the guest, relayed by the agent. */
	BR_CLIENT_OPEN = 0x30,
	BR_CLIENT_STDIN = 0x31,
	BR_CLIENT_STDIN_EOF = 0x32,
	BR_CLIENT_STDOUT = 0x33,
	BR_CLIENT_STDERR = 0x34,
	BR_CLIENT_EXIT = 0x35,
	BR_CLIENT_RESIZE = 0x36,
	BR_CLIENT_RAW = 0x37,
	BR_CLIENT_SIGNAL = 0x38,
	BR_CLIENT_WANT_STDIN = 0x39,
	BR_OK = 0x7E,
	BR_ERROR = 0x7F,
};

/* ERROR codes that are not errno names. */
#define BR_EBADFRAME "EBADFRAME"
#define BR_ETRUNCATED "ETRUNCATED"
#define BR_EBUSYID "EBUSYID"

#define BR_AGENT_VERSION "berth-agent 1"

#define BR_DOCKER_SOCKET "/run/berth/docker.sock"
#define BR_SESSION_BIT 0x80000000u /* session ids: BR_SESSION_BIT | n */

#endif

/* `berth-agent net ...`: the guest half of container networking, run by the
 * engine through EXEC (the engine decides addresses and names; this only
 * applies them), and net_uplink() for init.
 *
 *   net bridge NAME CIDR MTU             bridge with the gateway address, up (idempotent)
 *   net attach NETNS BRIDGE VETH IFNAME CIDR GATEWAY|- MTU
 *                                        namespace at NETNS (created if missing, lo up),
 *                                        a veth pair VETH (here, on BRIDGE) / IFNAME (in it),
 *                                        the address, and the default route if GATEWAY
 *   net detach NETNS IFNAME              removes IFNAME (and so its peer)
 *   net netns-del NETNS                  unmounts and removes a namespace
 *   net link-del NAME                    removes a link (a bridge)
 *   net proxy PORT ADDR TARGETPORT       listens on 0.0.0.0:PORT, relays each connection
 *                                        to ADDR:TARGETPORT; prints "ready" once listening
 *
 * Errors go to stderr as "berth-net: WHAT: REASON" with exit status 1. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <net/if.h>
#include <unistd.h>

#include "net.h"
#include "netlink.h"
#include "util.h"

static int fail(const char *what, int err)
{
	fprintf(stderr, "berth-net: %s: %s\n", what, strerror(-err));
	return 1;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*end || end == s || v < lo || v > hi)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

static int write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), r = 0;
	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) < 0)
		r = -errno;
	close(fd);
	return r;
}

static int cmd_bridge(char **a)
{
	struct nl nl;
	struct in_addr addr;
	int prefix, mtu, r;

	if (parse_cidr(a[1], &addr, &prefix) < 0 || parse_int(a[2], 68, 65535, &mtu) < 0)
		return fail("bridge: bad address or mtu", -EINVAL);
	if ((r = nl_open(&nl)) < 0)
		return fail("netlink", r);
	r = nl_link_add_bridge(&nl, a[0], mtu);
	if (r == -EEXIST)
		r = 0;
	if (r == 0)
		r = nl_addr_add(&nl, a[0], addr, prefix);
	if (r == 0)
		r = nl_link_up(&nl, a[0], 0, 0);
	nl_close(&nl);
	return r < 0 ? fail(a[0], r) : 0;
}

struct inside {
	const char *ifname;
	struct in_addr addr, gw;
	int prefix, has_gw;
};

/* In the container's namespace: lo and the new interface up, address, route. */
static int configure_inside(void *p)
{
	struct inside *in = p;
	struct nl nl;
	int r = nl_open(&nl);

	if (r < 0)
		return r;
	r = nl_link_up(&nl, "lo", 0, 0);
	if (r == 0)
		r = nl_addr_add(&nl, in->ifname, in->addr, in->prefix);
	if (r == 0)
		r = nl_link_up(&nl, in->ifname, 0, 0);
	if (r == 0 && in->has_gw)
		r = nl_route_add_default(&nl, in->gw);
	nl_close(&nl);
	return r;
}

static int cmd_attach(char **a)
{
	struct inside in = { .ifname = a[3] };
	struct nl nl;
	int mtu, r, nsfd, master;

	if (parse_cidr(a[4], &in.addr, &in.prefix) < 0 || parse_int(a[6], 68, 65535, &mtu) < 0)
		return fail("attach: bad address or mtu", -EINVAL);
	in.has_gw = strcmp(a[5], "-") != 0;
	if (in.has_gw && inet_pton(AF_INET, a[5], &in.gw) != 1)
		return fail("attach: bad gateway", -EINVAL);
	if ((master = (int)if_nametoindex(a[1])) == 0)
		return fail(a[1], -ENODEV);
	if (access(a[0], F_OK) < 0) {
		char dir[256];
		char *slash;
		snprintf(dir, sizeof(dir), "%s", a[0]);
		if ((slash = strrchr(dir, '/')) && slash != dir) {
			*slash = 0;
			mkdir_p(dir);
		}
		if ((r = netns_create(a[0])) < 0)
			return fail(a[0], r);
	}
	if ((nsfd = open(a[0], O_RDONLY | O_CLOEXEC)) < 0)
		return fail(a[0], -errno);
	if ((r = nl_open(&nl)) < 0)
		return fail("netlink", r);
	r = nl_link_add_veth(&nl, a[2], a[3], nsfd, mtu);
	if (r == 0 && (r = nl_link_up(&nl, a[2], master, 0)) < 0)
		nl_link_del(&nl, a[2]);
	if (r == 0 && (r = netns_run(nsfd, configure_inside, &in)) < 0)
		nl_link_del(&nl, a[2]);
	nl_close(&nl);
	close(nsfd);
	return r < 0 ? fail(a[3], r) : 0;
}

static int delete_inside(void *p)
{
	struct nl nl;
	int r = nl_open(&nl);
	if (r < 0)
		return r;
	r = nl_link_del(&nl, p);
	nl_close(&nl);
	return r;
}

static int cmd_detach(char **a)
{
	int nsfd = open(a[0], O_RDONLY | O_CLOEXEC), r;
	if (nsfd < 0)
		return fail(a[0], -errno);
	r = netns_run(nsfd, delete_inside, a[1]);
	close(nsfd);
	return r < 0 ? fail(a[1], r) : 0;
}

static int cmd_link_del(char **a)
{
	struct nl nl;
	int r = nl_open(&nl);
	if (r < 0)
		return fail("netlink", r);
	r = nl_link_del(&nl, a[0]);
	nl_close(&nl);
	return r < 0 && r != -ENODEV ? fail(a[0], r) : 0;
}

static int cmd_netns_del(char **a)
{
	int r = netns_delete(a[0]);
	return r < 0 && r != -ENOENT && r != -EINVAL ? fail(a[0], r) : 0;
}

/* --- proxy: one poll loop; each connection is two sockets and two buffers --- */

#define PROXY_BUF 65536
#define PROXY_MAX 256

struct half {
	int from, to;
	char buf[PROXY_BUF];
	size_t off, len;
	int eof; /* `from` reached EOF: shut `to` down once buf drains */
};

struct pair {
	struct half up, down; /* client -> target, target -> client */
	int connecting;
};

static void pair_close(struct pair **slot)
{
	struct pair *p = *slot;
	close(p->up.from);
	close(p->up.to);
	free(p);
	*slot = NULL;
}

/* Moves bytes along one direction; returns -1 when the pair should close. */
static int half_pump(struct half *h, short rev_from, short rev_to)
{
	if ((rev_from & (POLLIN | POLLHUP | POLLERR)) && !h->eof && h->len == 0) {
		ssize_t n = read(h->from, h->buf, sizeof(h->buf));
		if (n > 0)
			h->off = 0, h->len = n;
		else if (n == 0 || (errno != EAGAIN && errno != EINTR))
			h->eof = 1;
	}
	if (h->len && (rev_to & POLLOUT || rev_from)) {
		ssize_t n = write(h->to, h->buf + h->off, h->len);
		if (n > 0)
			h->off += n, h->len -= n;
		else if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
	}
	if (h->eof == 1 && h->len == 0) {
		shutdown(h->to, SHUT_WR);
		h->eof = 2;
	}
	return 0;
}

static int cmd_proxy(char **a)
{
	struct sockaddr_in listen_addr = { .sin_family = AF_INET }, target = { .sin_family = AF_INET };
	struct pair *pairs[PROXY_MAX] = { 0 };
	struct pollfd pfd[1 + 2 * PROXY_MAX];
	int port, tport, one = 1, lfd;

	if (parse_int(a[0], 1, 65535, &port) < 0 || parse_int(a[2], 1, 65535, &tport) < 0 ||
	    inet_pton(AF_INET, a[1], &target.sin_addr) != 1)
		return fail("proxy: bad port or address", -EINVAL);
	listen_addr.sin_port = htons(port);
	target.sin_port = htons(tport);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return fail("socket", -errno);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&listen_addr, sizeof(listen_addr)) < 0 || listen(lfd, 64) < 0)
		return fail(a[0], -errno);
	printf("ready\n");
	fflush(stdout);

	for (;;) {
		size_t n = 1;
		pfd[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		for (int i = 0; i < PROXY_MAX; i++) {
			struct pair *p = pairs[i];
			if (!p)
				continue;
			pfd[n++] = (struct pollfd){ .fd = p->up.from,
				.events = (!p->up.eof && !p->up.len && !p->connecting ? POLLIN : 0) | (p->down.len ? POLLOUT : 0) };
			pfd[n++] = (struct pollfd){ .fd = p->up.to,
				.events = (!p->down.eof && !p->down.len && !p->connecting ? POLLIN : 0) |
					  (p->up.len || p->connecting ? POLLOUT : 0) };
		}
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			return fail("poll", -errno);
		}
		n = 1;
		for (int i = 0; i < PROXY_MAX; i++) {
			struct pair *p = pairs[i];
			short rc, rt;
			if (!p)
				continue;
			rc = pfd[n].revents, rt = pfd[n + 1].revents;
			n += 2;
			if (p->connecting) {
				int err = 0;
				socklen_t len = sizeof(err);
				if (!rt)
					continue;
				getsockopt(p->up.to, SOL_SOCKET, SO_ERROR, &err, &len);
				if (err) {
					pair_close(&pairs[i]);
					continue;
				}
				p->connecting = 0;
				rt &= ~POLLOUT;
			}
			if (half_pump(&p->up, rc, rt) < 0 || half_pump(&p->down, rt, rc) < 0 ||
			    (p->up.eof == 2 && p->down.eof == 2) || (rc & POLLERR) || (rt & POLLERR))
				pair_close(&pairs[i]);
		}
		if (pfd[0].revents & POLLIN) {
			int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), slot = -1, t;
			struct pair *p;
			if (c < 0)
				continue;
			for (int i = 0; i < PROXY_MAX && slot < 0; i++)
				if (!pairs[i])
					slot = i;
			t = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
			p = slot >= 0 && t >= 0 ? calloc(1, sizeof(*p)) : NULL;
			if (!p || (connect(t, (struct sockaddr *)&target, sizeof(target)) < 0 && errno != EINPROGRESS)) {
				close(c);
				if (t >= 0)
					close(t);
				free(p);
				continue;
			}
			p->up.from = p->down.to = c;
			p->up.to = p->down.from = t;
			p->connecting = 1;
			pairs[slot] = p;
		}
	}
}

static const struct {
	const char *name;
	int args;
	int (*fn)(char **);
} commands[] = {
	{ "bridge", 3, cmd_bridge },
	{ "attach", 7, cmd_attach },
	{ "detach", 2, cmd_detach },
	{ "netns-del", 1, cmd_netns_del },
	{ "link-del", 1, cmd_link_del },
	{ "proxy", 3, cmd_proxy },
};

int net_main(int argc, char **argv)
{
	for (size_t i = 0; argc >= 2 && i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name)) {
			if (argc - 2 != commands[i].args)
				break;
			return commands[i].fn(argv + 2);
		}
	fprintf(stderr, "usage: berth-agent net bridge|attach|detach|netns-del|link-del|proxy ARGS (see guest/agent/net.c)\n");
	return 2;
}

/* The guest's own link to the host: eth0 with the address and gateway the
 * host put on the kernel command line as berth.ip=ADDR/PREFIX,GATEWAY.
 * No such parameter (or no eth0): nothing to do. */
int net_uplink(void)
{
	char cmdline[4096], *p, *comma;
	struct in_addr addr, gw;
	struct nl nl;
	int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC), prefix, r;
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, cmdline, sizeof(cmdline) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	cmdline[n] = 0;
	if (!(p = strstr(cmdline, "berth.ip=")))
		return 0;
	p += strlen("berth.ip=");
	p[strcspn(p, " \n")] = 0;
	if (!(comma = strchr(p, ',')))
		return -EINVAL;
	*comma = 0;
	if (parse_cidr(p, &addr, &prefix) < 0 || inet_pton(AF_INET, comma + 1, &gw) != 1)
		return -EINVAL;
	if (!if_nametoindex("eth0"))
		return -ENODEV;
	if ((r = nl_open(&nl)) < 0)
		return r;
	r = nl_addr_add(&nl, "eth0", addr, prefix);
	if (r == 0)
		r = nl_link_up(&nl, "eth0", 0, 0);
	if (r == 0)
		r = nl_route_add_default(&nl, gw);
	nl_close(&nl);
	/* Containers reach the host's network through the guest: route, no NAT
	 * (v86's network answers whatever source address asks). */
	if (r == 0)
		r = write_text("/proc/sys/net/ipv4/ip_forward", "1\n");
	return r;
}

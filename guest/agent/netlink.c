/* Minimal rtnetlink client (see netlink.h). One request at a time, each
 * acknowledged (NLM_F_ACK) before the next: simple, and fast enough for a
 * handful of messages per container. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netlink.h"

#define MSG_CAP 1024

struct msg {
	union {
		struct nlmsghdr h;
		char raw[MSG_CAP];
	};
};

int nl_open(struct nl *nl)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };

	nl->seq = 0;
	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (nl->fd < 0)
		return -errno;
	if (bind(nl->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(nl->fd);
		nl->fd = -1;
		return -e;
	}
	return 0;
}

void nl_close(struct nl *nl)
{
	if (nl->fd >= 0)
		close(nl->fd);
	nl->fd = -1;
}

static void *msg_init(struct msg *m, int type, int flags, size_t body)
{
	memset(m, 0, sizeof(*m));
	m->h.nlmsg_type = type;
	m->h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	m->h.nlmsg_len = NLMSG_LENGTH(body);
	return NLMSG_DATA(&m->h);
}

static struct rtattr *attr(struct msg *m, int type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)(m->raw + NLMSG_ALIGN(m->h.nlmsg_len));
	size_t total = NLMSG_ALIGN(m->h.nlmsg_len) + RTA_ALIGN(RTA_LENGTH(len));

	if (total > sizeof(m->raw))
		abort(); /* fixed, small messages: a bug, not an input */
	a->rta_type = type;
	a->rta_len = RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(a), data, len);
	m->h.nlmsg_len = total;
	return a;
}

static struct rtattr *nest_begin(struct msg *m, int type) { return attr(m, type, NULL, 0); }
static void nest_end(struct msg *m, struct rtattr *a) { a->rta_len = m->raw + m->h.nlmsg_len - (char *)a; }

static int transact(struct nl *nl, struct msg *m)
{
	char reply[4096];
	ssize_t n;

	m->h.nlmsg_seq = ++nl->seq;
	if (send(nl->fd, m, m->h.nlmsg_len, 0) < 0)
		return -errno;
	for (;;) {
		n = recv(nl->fd, reply, sizeof(reply), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)reply; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != nl->seq)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR)
				return ((struct nlmsgerr *)NLMSG_DATA(h))->error; /* 0 is the ACK */
		}
	}
}

static int link_index(const char *name)
{
	unsigned i = if_nametoindex(name);
	return i ? (int)i : -ENODEV;
}

static int link_new(struct nl *nl, const char *name, const char *kind, struct msg *m, struct rtattr **data)
{
	struct rtattr *info;

	(void)nl;
	if (strlen(name) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	msg_init(m, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(struct ifinfomsg));
	attr(m, IFLA_IFNAME, name, strlen(name) + 1);
	info = nest_begin(m, IFLA_LINKINFO);
	attr(m, IFLA_INFO_KIND, kind, strlen(kind));
	*data = info;
	return 0;
}

int nl_link_add_bridge(struct nl *nl, const char *name, int mtu)
{
	struct msg m;
	struct rtattr *info;
	int r = link_new(nl, name, "bridge", &m, &info);

	if (r < 0)
		return r;
	nest_end(&m, info);
	if (mtu > 0)
		attr(&m, IFLA_MTU, &mtu, sizeof(mtu));
	return transact(nl, &m);
}

int nl_link_add_veth(struct nl *nl, const char *name, const char *peer, int peer_nsfd, int mtu)
{
	struct msg m;
	struct rtattr *info, *data, *peer_attr;
	struct ifinfomsg peer_ifi = { .ifi_family = AF_UNSPEC };
	int r = link_new(nl, name, "veth", &m, &info);

	if (r < 0)
		return r;
	if (strlen(peer) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	data = nest_begin(&m, IFLA_INFO_DATA);
	peer_attr = attr(&m, VETH_INFO_PEER, &peer_ifi, sizeof(peer_ifi));
	attr(&m, IFLA_IFNAME, peer, strlen(peer) + 1);
	if (peer_nsfd >= 0)
		attr(&m, IFLA_NET_NS_FD, &peer_nsfd, sizeof(peer_nsfd));
	if (mtu > 0)
		attr(&m, IFLA_MTU, &mtu, sizeof(mtu));
	nest_end(&m, peer_attr);
	nest_end(&m, data);
	nest_end(&m, info);
	if (mtu > 0)
		attr(&m, IFLA_MTU, &mtu, sizeof(mtu));
	return transact(nl, &m);
}

int nl_link_up(struct nl *nl, const char *name, int master, int mtu)
{
	struct msg m;
	struct ifinfomsg *ifi = msg_init(&m, RTM_NEWLINK, 0, sizeof(*ifi));
	int index = link_index(name);

	if (index < 0)
		return index;
	ifi->ifi_index = index;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	if (master > 0)
		attr(&m, IFLA_MASTER, &master, sizeof(master));
	if (mtu > 0)
		attr(&m, IFLA_MTU, &mtu, sizeof(mtu));
	return transact(nl, &m);
}

int nl_link_del(struct nl *nl, const char *name)
{
	struct msg m;
	struct ifinfomsg *ifi = msg_init(&m, RTM_DELLINK, 0, sizeof(*ifi));
	int index = link_index(name);

	if (index < 0)
		return index;
	ifi->ifi_index = index;
	return transact(nl, &m);
}

int nl_addr_add(struct nl *nl, const char *name, struct in_addr addr, int prefix)
{
	struct msg m;
	struct ifaddrmsg *ifa = msg_init(&m, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, sizeof(*ifa));
	int index = link_index(name);
	struct in_addr bcast = addr;

	if (index < 0)
		return index;
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = prefix;
	ifa->ifa_index = index;
	attr(&m, IFA_LOCAL, &addr, sizeof(addr));
	attr(&m, IFA_ADDRESS, &addr, sizeof(addr));
	if (prefix < 31) {
		bcast.s_addr |= htonl(prefix ? 0xffffffffu >> prefix : 0xffffffffu);
		attr(&m, IFA_BROADCAST, &bcast, sizeof(bcast));
	}
	return transact(nl, &m);
}

int nl_route_add_default(struct nl *nl, struct in_addr gw)
{
	struct msg m;
	struct rtmsg *rt = msg_init(&m, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, sizeof(*rt));

	rt->rtm_family = AF_INET;
	rt->rtm_table = RT_TABLE_MAIN;
	rt->rtm_protocol = RTPROT_BOOT;
	rt->rtm_scope = RT_SCOPE_UNIVERSE;
	rt->rtm_type = RTN_UNICAST;
	attr(&m, RTA_GATEWAY, &gw, sizeof(gw));
	return transact(nl, &m);
}

int parse_cidr(const char *s, struct in_addr *addr, int *prefix)
{
	char ip[INET_ADDRSTRLEN], *end;
	const char *slash = strchr(s, '/');
	long p;

	if (!slash || (size_t)(slash - s) >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, s, slash - s);
	ip[slash - s] = 0;
	p = strtol(slash + 1, &end, 10);
	if (*end || end == slash + 1 || p < 0 || p > 32 || inet_pton(AF_INET, ip, addr) != 1)
		return -EINVAL;
	*prefix = (int)p;
	return 0;
}

int netns_create(const char *path)
{
	int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), fd, r = 0;

	if (home < 0)
		return -errno;
	fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	if (fd < 0) {
		r = -errno;
		close(home);
		return r;
	}
	close(fd);
	if (unshare(CLONE_NEWNET) < 0 || mount("/proc/self/ns/net", path, NULL, MS_BIND, NULL) < 0)
		r = -errno;
	if (setns(home, CLONE_NEWNET) < 0 && !r)
		r = -errno;
	close(home);
	if (r < 0)
		unlink(path);
	return r;
}

int netns_delete(const char *path)
{
	int r = umount2(path, MNT_DETACH) < 0 ? -errno : 0;
	if (unlink(path) < 0 && !r)
		r = -errno;
	return r;
}

int netns_run(int nsfd, int (*fn)(void *), void *arg)
{
	int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), r;

	if (home < 0)
		return -errno;
	if (setns(nsfd, CLONE_NEWNET) < 0) {
		r = -errno;
		close(home);
		return r;
	}
	r = fn(arg);
	if (setns(home, CLONE_NEWNET) < 0 && r >= 0)
		r = -errno;
	close(home);
	return r;
}

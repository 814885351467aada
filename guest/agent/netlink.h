/* Just enough rtnetlink to wire container networks: bridges, veth pairs,
 * addresses, routes, network namespaces. Every function returns 0 or a
 * negative errno (util.h's convention). */
#ifndef BERTH_NETLINK_H
#define BERTH_NETLINK_H

#include <netinet/in.h>

struct nl {
	int fd;
	unsigned seq;
};

int nl_open(struct nl *nl);
void nl_close(struct nl *nl);

int nl_link_add_bridge(struct nl *nl, const char *name, int mtu);
/* A veth pair: `name` here, `peer` created directly in the namespace `peer_nsfd`. */
int nl_link_add_veth(struct nl *nl, const char *name, const char *peer, int peer_nsfd, int mtu);
/* Sets master (0: leave), mtu (0: leave) and brings the link up. */
int nl_link_up(struct nl *nl, const char *name, int master, int mtu);
int nl_link_del(struct nl *nl, const char *name);
int nl_addr_add(struct nl *nl, const char *name, struct in_addr addr, int prefix);
int nl_route_add_default(struct nl *nl, struct in_addr gw);

/* "10.1.2.3/16" -> addr, prefix; 0 or -EINVAL. */
int parse_cidr(const char *s, struct in_addr *addr, int *prefix);

/* A network namespace kept alive by a bind mount at `path` (like `ip netns add`). */
int netns_create(const char *path);
int netns_delete(const char *path);
/* Runs fn(arg) inside the namespace at `path` (or the one open as nsfd), then returns home. */
int netns_run(int nsfd, int (*fn)(void *), void *arg);

#endif

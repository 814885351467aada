/* Container networking in the guest: `berth-agent net ...` (net.c). */
#ifndef BERTH_NET_H
#define BERTH_NET_H

int net_main(int argc, char **argv);
/* eth0 from the kernel command line's berth.ip=ADDR/PREFIX,GATEWAY; 0 if absent. */
int net_uplink(void);

#endif

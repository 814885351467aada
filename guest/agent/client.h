/* `docker` in the guest: the agent binary run under that name is a thin
 * client of the agent's docker socket (docs/protocol.md, "Client sessions"). */
#ifndef BERTH_CLIENT_H
#define BERTH_CLIENT_H

int client_main(int argc, char **argv);

#endif

/* MOUNT and UMOUNT requests. */
#ifndef BERTH_MOUNTS_H
#define BERTH_MOUNTS_H

#include <stdint.h>

#include "agent.h"

void mounts_mount(struct agent *ag, uint32_t id, const uint8_t *p, uint32_t len);
void mounts_umount(struct agent *ag, uint32_t id, const uint8_t *p, uint32_t len);

#endif

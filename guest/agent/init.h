#ifndef BERTH_INIT_H
#define BERTH_INIT_H

/*
 * PID 1 set-up, when the agent binary is run as /init. Returns 0 when the
 * system is ready for the agent, or -errno after reporting on the console.
 */
int init_system(void);

#endif

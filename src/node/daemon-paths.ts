import { join } from 'node:path';
import { cacheDir } from './host.js';

/** Where the daemon listens and writes: all in the cache folder. */
export function daemonPaths(dir = cacheDir()) {
  return {
    socket: join(dir, 'daemon.sock'),
    log: join(dir, 'daemon.log'),
    pid: join(dir, 'daemon.pid'),
  };
}

import { chmodSync, copyFileSync, fchmodSync, mkdirSync, openSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from './host.js';

/**
 * Where the daemon listens and writes: all in the cache folder, which is the
 * user's alone (0700). The socket and every file in it are 0600 whatever the
 * umask: there is no peer-credential check on the socket (Node has no
 * SO_PEERCRED without a native addon), so the modes are the access control.
 */
export function daemonPaths(dir = cacheDir()) {
  return {
    dir,
    socket: join(dir, 'daemon.sock'),
    log: join(dir, 'daemon.log'),
    /** The previous log, after a rotation at daemon start. */
    oldLog: join(dir, 'daemon.log.1'),
    /** The daemon's lock: held (created exclusively, with its pid) from its start to its exit. */
    pid: join(dir, 'daemon.pid'),
  };
}

/** A file mode for the cache folder's own files: the user's only. */
export const PRIVATE_FILE = 0o600;
export const PRIVATE_DIR = 0o700;

/**
 * Creates the cache folder if needed and makes it the user's only (0700, also
 * when it existed with wider modes). A folder of someone else's (a shared
 * BERTH_CACHE) cannot be changed: the returned warning says so.
 */
export function prepareCacheDir(dir = cacheDir()): string | undefined {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR });
  try {
    if ((statSync(dir).mode & 0o777) !== PRIVATE_DIR) chmodSync(dir, PRIVATE_DIR);
    return undefined;
  } catch (e) {
    return `cannot make ${dir} private (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): other users may reach the daemon and its files`;
  }
}

/** Opens the daemon log for appending (O_APPEND, so a rotation's truncation is safe), 0600 also when it existed. */
export function openLogForAppend(path: string): number {
  const fd = openSync(path, 'a', PRIVATE_FILE);
  try {
    fchmodSync(fd, PRIVATE_FILE);
  } catch {
    // not ours: leave it
  }
  return fd;
}

/** Rotated when bigger than this at daemon start. */
export const LOG_ROTATE_BYTES = 1024 * 1024;

/**
 * Keeps the log under LOG_ROTATE_BYTES: when bigger, its content moves to
 * `daemon.log.1` (replacing the one before) and the log is emptied in place
 * (copy and truncate: the daemon's stdout and stderr already point at it, opened
 * with O_APPEND, so their next writes land at the new start). Called by the
 * daemon once it holds the lock, so only one process rotates.
 */
export function rotateLog(log: string, old: string, limit = LOG_ROTATE_BYTES): boolean {
  let size: number;
  try {
    size = statSync(log).size;
  } catch {
    return false;
  }
  if (size <= limit) return false;
  copyFileSync(log, old);
  chmodSync(old, PRIVATE_FILE);
  truncateSync(log, 0);
  return true;
}

/** Makes an existing file the user's only; false when it is not there (or not ours). */
export function makePrivate(path: string): boolean {
  try {
    chmodSync(path, PRIVATE_FILE);
    return true;
  } catch {
    return false;
  }
}


/** `daemon run`'s exit status when another daemon already owns the cache folder (its clients wait for that one). */
export const DAEMON_RUNNING_EXIT = 3;

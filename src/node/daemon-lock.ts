import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, fchmodSync, linkSync, openSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { basename, resolve } from 'node:path';

/**
 * The daemon's lock: one daemon per cache folder.
 *
 * The lock file (`daemon.pid`) is created exclusively (written aside, then
 * hard-linked into place, so it never exists half written) by the daemon
 * when it starts and removed when it exits. It holds three lines: the pid,
 * the process's start time (/proc/PID/stat, so a reused pid is told apart),
 * and the cache folder (so a copied folder's lock is not taken for its own).
 *
 * A lock whose owner is gone, or is no longer a `berth daemon run` process,
 * is stale: it is moved aside (rename, atomic), checked to be the very file
 * judged stale, and deleted; a fresh lock moved aside by a racing start is put
 * back. A pid is signalled only after the same checks (daemon-client.ts).
 */

/** 0600, as daemon-paths.ts's PRIVATE_FILE (not imported: this module stays free of the engine's imports). */
const PRIVATE_FILE = 0o600;

export interface LockOwner {
  pid: number;
  /** Start time of the process (clock ticks since boot on Linux), when known. */
  start?: string;
  /** The cache folder it was taken for (real path). */
  dir?: string;
}

export function formatLock(o: LockOwner): string {
  return `${o.pid}\n${o.start ?? '-'}\n${o.dir ?? ''}\n`;
}

/** The owner a lock file names; undefined for an empty or garbled file (never pid 0 or below: no process groups). */
export function parseLock(text: string): LockOwner | undefined {
  const [pidLine = '', start = '', dir = ''] = text.split('\n').map((l) => l.trim());
  if (!/^[0-9]{1,10}$/.test(pidLine)) return undefined;
  const pid = Number(pidLine);
  if (!Number.isSafeInteger(pid) || pid < 1) return undefined;
  return { pid, ...(start && start !== '-' ? { start } : {}), ...(dir ? { dir } : {}) };
}

const hasProc = () => existsSync('/proc/self/cmdline');

/** The process's start time, to tell it from a later process given the same pid; undefined when gone or unknown. */
export function processStartTime(pid: number): string | undefined {
  if (hasProc()) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Field 22; fields start after the command name, which may hold spaces and parentheses.
      return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    } catch {
      return undefined;
    }
  }
  return ps(pid, 'lstart');
}

/** A process's command line: /proc/PID/cmdline, or `ps` (split on spaces) where there is no /proc. */
export function processCommandLine(pid: number): string[] | undefined {
  if (hasProc()) {
    try {
      const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return raw ? raw.replace(/\0$/, '').split('\0') : undefined;
    } catch {
      return undefined;
    }
  }
  return ps(pid, 'command')?.split(/\s+/);
}

function ps(pid: number, field: string): string | undefined {
  try {
    const out = execFileSync('ps', ['-o', `${field}=`, '-p', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return out || undefined;
  } catch {
    return undefined;
  }
}

/** `berth daemon run`: bin/berth.js (or the npm bin link `berth`) followed, later, by `daemon run`. */
export function isDaemonCommandLine(argv: string[]): boolean {
  for (let i = 1; i + 1 < argv.length; i++) {
    if (argv[i] === 'daemon' && argv[i + 1] === 'run') {
      return argv.slice(0, i).some((a) => /^berth(\.js)?$/.test(basename(a)));
    }
  }
  return false;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * What a lock's owner is now: a berth daemon (the very process that took it),
 * some other process (the pid was reused), gone, or, with neither /proc nor
 * `ps`, alive but unknown.
 */
export type OwnerState = 'berth-daemon' | 'other' | 'gone' | 'unknown';

export function ownerState(owner: LockOwner, dir?: string): OwnerState {
  if (!isAlive(owner.pid)) return 'gone';
  if (dir !== undefined && owner.dir !== undefined && owner.dir !== realDir(dir)) return 'other';
  const argv = processCommandLine(owner.pid);
  if (argv === undefined) return hasProc() ? 'gone' : 'unknown';
  if (!isDaemonCommandLine(argv)) return 'other';
  if (owner.start !== undefined) {
    const start = processStartTime(owner.pid);
    if (start !== undefined && start !== owner.start) return 'other';
  }
  return 'berth-daemon';
}

/** Whether the lock's owner may still be a daemon: a verified one, or one this system cannot check. */
export const ownerMayBeDaemon = (s: OwnerState) => s === 'berth-daemon' || s === 'unknown';

function realDir(dir: string): string {
  try {
    return realpathSync(dir);
  } catch {
    return resolve(dir);
  }
}

const errCode = (e: unknown) => (e as NodeJS.ErrnoException).code;

function readIfThere(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    if (errCode(e) === 'ENOENT') return undefined;
    throw e;
  }
}

/** Reads the lock: its owner, the raw text (to remove it only if unchanged), or nothing when there is none. */
export function readLock(file: string): { raw: string; owner: LockOwner | undefined } | undefined {
  const raw = readIfThere(file);
  return raw === undefined ? undefined : { raw, owner: parseLock(raw) };
}

/** Creates the lock with this content unless it exists; 0600 whatever the umask. */
function createExclusive(file: string, content: string): boolean {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(tmp, content, { flag: 'wx', mode: PRIVATE_FILE });
  try {
    chmodSync(tmp, PRIVATE_FILE);
    linkSync(tmp, file);
    return true;
  } catch (e) {
    if (errCode(e) === 'EEXIST') return false;
    if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK'].includes(errCode(e) ?? '')) throw e;
  } finally {
    rmSync(tmp, { force: true });
  }
  // A file system without hard links: O_EXCL, then the content (readers wait for a young empty file).
  let fd: number;
  try {
    fd = openSync(file, 'wx', PRIVATE_FILE);
  } catch (e) {
    if (errCode(e) === 'EEXIST') return false;
    throw e;
  }
  try {
    fchmodSync(fd, PRIVATE_FILE);
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Removes a stale lock, but only the file whose content was judged stale: it
 * is renamed aside first (atomic), so a lock another process took meanwhile
 * is never deleted; such a one is linked back into place.
 */
export function removeStaleLock(file: string, judged: string): void {
  const aside = `${file}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    renameSync(file, aside);
  } catch (e) {
    if (errCode(e) === 'ENOENT') return;
    throw e;
  }
  try {
    if (readFileSync(aside, 'utf8') !== judged) {
      try {
        linkSync(aside, file);
      } catch {
        // a third start took the lock meanwhile: its lock stands (the one put aside notices before listening)
      }
    }
  } finally {
    rmSync(aside, { force: true });
  }
}

export type LockResult =
  | { acquired: true; owner: LockOwner; owns: () => boolean; release: () => void }
  | { acquired: false; owner: LockOwner };

/** A lock file without a pid younger than this may be one being written (no hard links); older, it is stale. */
const YOUNG_MS = 2000;

/**
 * Takes the daemon lock for this process, or names the live daemon that holds
 * it. Stale locks (owner gone, not a berth daemon, empty or garbled) are
 * removed on the way.
 */
export async function acquireDaemonLock(file: string, dir: string): Promise<LockResult> {
  const me: LockOwner = { pid: process.pid, dir: realDir(dir) };
  const start = processStartTime(process.pid);
  if (start !== undefined) me.start = start;
  const content = formatLock(me);
  const owns = () => readIfThere(file) === content;
  for (let attempt = 0; attempt < 100; attempt++) {
    if (createExclusive(file, content)) {
      return { acquired: true, owner: me, owns, release: () => (owns() ? rmSync(file, { force: true }) : undefined) };
    }
    const lock = readLock(file);
    if (!lock) continue;
    if (lock.owner) {
      if (ownerMayBeDaemon(ownerState(lock.owner, dir))) return { acquired: false, owner: lock.owner };
    } else if (Date.now() - (statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0) < YOUNG_MS) {
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    removeStaleLock(file, lock.raw);
  }
  throw new Error(`could not take the daemon lock ${file}`);
}

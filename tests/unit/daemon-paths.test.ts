import { chmodSync, closeSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { daemonPaths, openLogForAppend, prepareCacheDir, rotateLog } from '../../src/node/daemon-paths.js';

const mode = (p: string) => statSync(p).mode & 0o777;

describe('daemon paths', () => {
  it('makes the cache folder 0700, new or existing', () => {
    const parent = mkdtempSync(join(tmpdir(), 'berth-paths-'));
    const fresh = join(parent, 'a', 'cache');
    expect(prepareCacheDir(fresh)).toBeUndefined();
    expect(mode(fresh)).toBe(0o700);
    chmodSync(parent, 0o755);
    expect(prepareCacheDir(parent)).toBeUndefined();
    expect(mode(parent)).toBe(0o700);
  });

  it('opens the log for appending, 0600 also when it was 0644', () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-paths-'));
    const { log } = daemonPaths(dir);
    writeFileSync(log, 'before\n', { mode: 0o644 });
    chmodSync(log, 0o644);
    const fd = openLogForAppend(log);
    writeSync(fd, 'after\n');
    closeSync(fd);
    expect(mode(log)).toBe(0o600);
    expect(readFileSync(log, 'utf8')).toBe('before\nafter\n');
  });

  it('rotates a log over the limit into daemon.log.1 (0600), emptied in place so appenders carry on', () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-paths-'));
    const { log, oldLog } = daemonPaths(dir);
    const fd = openLogForAppend(log);
    writeSync(fd, 'x'.repeat(100));
    expect(rotateLog(log, oldLog, 100)).toBe(false);
    expect(existsSync(oldLog)).toBe(false);
    writeSync(fd, 'y');
    expect(rotateLog(log, oldLog, 100)).toBe(true);
    expect(readFileSync(oldLog, 'utf8')).toBe(`${'x'.repeat(100)}y`);
    expect(mode(oldLog)).toBe(0o600);
    writeSync(fd, 'new\n'); // the same descriptor, as the daemon's stderr
    closeSync(fd);
    expect(readFileSync(log, 'utf8')).toBe('new\n');
    expect(rotateLog(join(dir, 'none'), oldLog)).toBe(false);
  });
});

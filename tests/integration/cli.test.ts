import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const BIN = join(import.meta.dirname, '../../bin/berth.js');
const STORE = mkdtempSync(join(tmpdir(), 'berth-cli-store-'));

function berth(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, BERTH_STORE: STORE, ...env },
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('berth run', () => {
  it('prints hello, PID 1 and the container hostname, and exits 0', () => {
    const r = berth(['run', '--rm', 'busybox', 'sh', '-c', 'echo hello; echo $$; hostname']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [hello, pid, host] = r.stdout.trim().split('\n');
    expect(hello).toBe('hello');
    expect(pid).toBe('1');
    expect(host).toMatch(/^[0-9a-f]{12}$/);
  });

  it('exits with the container’s exit code', () => {
    expect(berth(['run', '--rm', 'busybox', 'sh', '-c', 'exit 7']).code).toBe(7);
  });

  it('passes -e and -w through and keeps flags after the image for the command', () => {
    const r = berth(['run', '--rm', '-e', 'A=1', '-w', '/etc', 'busybox', 'sh', '-c', 'echo $A; pwd; printf "%s," "$@"', 'x', '-e', 'B']);
    expect(r.stdout).toBe('1\n/etc\n-e,B,');
  });

  it('reports a missing command with exit 127', () => {
    const r = berth(['run', '--rm', 'busybox', 'nosuchcommand']);
    expect(r.code).toBe(127);
    expect(r.stderr).toMatch(/executable file not found in \$PATH/);
  });

  it('reports an unknown image with exit 125', () => {
    const r = berth(['run', '--rm', 'nosuchimage']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^Unable to find image 'nosuchimage:latest' locally/);
  });

  it('names the build command when the guest is not built', () => {
    const empty = mkdtempSync(join(tmpdir(), 'berth-noguest-'));
    const r = berth(['run', '--rm', 'busybox', 'true'], { BERTH_GUEST_DIR: empty });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/guest is not built.*npm run build:guest/);
  });
});

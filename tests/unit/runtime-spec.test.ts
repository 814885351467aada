import { describe, expect, it } from 'vitest';
import { buildRuntimeSpec, containerArgs, containerEnv } from '../../src/engine/runtime-spec.js';

const root = { uid: 0, gid: 0, additionalGids: [] };

describe('containerArgs', () => {
  it('uses Entrypoint + Cmd and lets run arguments replace Cmd', () => {
    const image = { Entrypoint: ['/entry'], Cmd: ['default'] };
    expect(containerArgs(image, {})).toEqual(['/entry', 'default']);
    expect(containerArgs(image, { cmd: ['x', 'y'] })).toEqual(['/entry', 'x', 'y']);
  });
  it('drops the image Cmd when --entrypoint is given', () => {
    expect(containerArgs({ Entrypoint: ['/a'], Cmd: ['b'] }, { entrypoint: ['/c'] })).toEqual(['/c']);
  });
  it('fails without any command', () => {
    expect(() => containerArgs({}, {})).toThrow('No command specified');
  });
});

describe('containerEnv', () => {
  it('layers run env over image env, unsets bare names, adds HOSTNAME and HOME', () => {
    const env = containerEnv({ Env: ['PATH=/img', 'A=1', 'B=2'] }, { env: ['A=9', 'B', 'C=3'] }, 'h1', root);
    expect(env).toContain('PATH=/img');
    expect(env).toContain('A=9');
    expect(env).toContain('C=3');
    expect(env).toContain('HOSTNAME=h1');
    expect(env).toContain('HOME=/root');
    expect(env.some((e) => e.startsWith('B='))).toBe(false);
  });
  it('sets TERM for a tty unless given', () => {
    expect(containerEnv({}, { tty: true }, 'h', root)).toContain('TERM=xterm');
  });
});

describe('buildRuntimeSpec', () => {
  it('carries limits, user, cwd, hostname and the Docker namespaces', () => {
    const spec = buildRuntimeSpec({
      id: 'c1',
      rootfs: '/r',
      image: { Cmd: ['sh'], WorkingDir: '/srv', Env: ['X=1'] },
      run: { memory: 16 << 20, pidsLimit: 20, tty: true },
      user: { uid: 1000, gid: 100, additionalGids: [10] },
      hostname: 'box',
      etcFiles: { hosts: '/b/hosts', hostname: '/b/hostname', resolvConf: '/b/resolv.conf' },
      network: 'none',
      cgroupsPath: '/berth/c1',
    }) as any;
    expect(spec.process.user).toEqual({ uid: 1000, gid: 100, additionalGids: [10] });
    expect(spec.process.cwd).toBe('/srv');
    expect(spec.process.terminal).toBe(true);
    expect(spec.hostname).toBe('box');
    expect(spec.linux.resources.memory).toEqual({ limit: 16 << 20 });
    expect(spec.linux.resources.pids).toEqual({ limit: 20 });
    expect(spec.linux.cgroupsPath).toBe('/berth/c1');
    expect(spec.linux.namespaces.map((n: { type: string }) => n.type).sort()).toEqual(
      ['cgroup', 'ipc', 'mount', 'network', 'pid', 'uts'],
    );
    expect(spec.mounts.find((m: { destination: string }) => m.destination === '/etc/hostname').source).toBe('/b/hostname');
  });
});

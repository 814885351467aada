import { describe, expect, it } from 'vitest';
import { FolderArtifactSource, v86WasmPath } from '../../src/node/folder-artifacts.js';
import { AgentGoneError } from '../../src/vm/agent-client.js';
import { DEFAULT_CMDLINE, GuestDiedError, GuestVM } from '../../src/vm/guest-vm.js';

const boot = (extra: Partial<Parameters<typeof GuestVM.boot>[0]> = {}) =>
  GuestVM.boot({ artifacts: new FolderArtifactSource(), wasmPath: v86WasmPath(), ...extra });

describe('GuestVM', () => {
  it('reports boot progress in order and the agent’s HELLO', async () => {
    const stages: string[] = [];
    const vm = await boot({ onProgress: (p) => stages.push(p.stage) });
    try {
      expect(stages[0]).toBe('artifacts');
      expect(stages.at(-1)).toBe('ready');
      expect(vm.agent.agentVersion).toMatch(/berth-agent/);
    } finally {
      await vm.stop();
    }
  });

  it('reports a kernel panic during boot (init exits) instead of hanging', async () => {
    const err = await boot({ cmdline: `${DEFAULT_CMDLINE} rdinit=/bin/false`, bootTimeoutMs: 60_000 }).catch((e) => e);
    expect(err).toBeInstanceOf(GuestDiedError);
    expect(err.message).toMatch(/kernel panicked/);
    expect(err.serialLog).toMatch(/Kernel panic/);
  });

  it('reports a guest whose agent never comes up, after the boot timeout', async () => {
    // No such init in the initramfs: the kernel then waits for a root disk that never appears.
    const err = await boot({ cmdline: `${DEFAULT_CMDLINE} rdinit=/absent root=/dev/vda rootwait`, bootTimeoutMs: 8_000 }).catch((e) => e);
    expect(err).toBeInstanceOf(GuestDiedError);
    expect(err.message).toMatch(/did not become ready within 8 s/);
  });

  it('fails running processes and later requests when the kernel panics after boot', async () => {
    const vm = await boot();
    try {
      const sleeper = await vm.agent.exec({ argv: ['/bin/sleep', '60'] });
      const died = new Promise<Error>((resolve) => vm.onDeath(resolve));
      await vm.agent.exec({ argv: ['/bin/sh', '-c', 'echo c > /proc/sysrq-trigger'] }).catch(() => {});
      const reason = await died;
      expect(reason.message).toMatch(/kernel panicked/);
      await expect(sleeper.exit).rejects.toBeInstanceOf(AgentGoneError);
      await expect(vm.agent.ping()).rejects.toBeInstanceOf(AgentGoneError);
      expect(vm.alive).toBe(false);
    } finally {
      await vm.stop();
    }
  });
});

describe('snapshots', () => {
  it('restores a guest that runs containers, and refuses corrupt and stale snapshots', async () => {
    const { bootEngine } = await import('../helpers/engine.js');
    const { Engine } = await import('../../src/engine/engine.js');
    const { GuestVM: VM, SnapshotError } = await import('../../src/vm/guest-vm.js');
    const opts = { artifacts: new FolderArtifactSource(), wasmPath: v86WasmPath() };
    const cold = await bootEngine();
    const snap = await cold.vm.snapshot();
    const raw = await cold.vm.captureSnapshot();
    await cold.vm.stop();
    // Stored compressed: a zstd frame after the header line, a third of the captured size or less.
    const state = snap.subarray(snap.indexOf(10) + 1);
    expect([...state.subarray(0, 4)]).toEqual([0x28, 0xb5, 0x2f, 0xfd]);
    expect(snap.length).toBeLessThan(raw.length / 2);
    const vm = await VM.restore({ ...opts, snapshot: snap });
    try {
      const engine = new Engine(vm, cold.images);
      const out: string[] = [];
      const { status } = await engine.run('busybox', { rm: true, cmd: ['echo', 'after-restore'] }, { onStdout: (d) => out.push(new TextDecoder().decode(d)) });
      expect(status.code).toBe(0);
      expect(out.join('')).toBe('after-restore\n');
    } finally {
      await vm.stop();
    }
    const corrupt = snap.slice();
    corrupt[snap.length >> 1] = corrupt[snap.length >> 1]! ^ 0xff;
    const e1 = await VM.restore({ ...opts, snapshot: corrupt }).catch((e) => e);
    expect(e1).toBeInstanceOf(SnapshotError);
    expect(e1.reason).toBe('corrupt');
    const e2 = await VM.restore({ ...opts, memoryMiB: 128, snapshot: snap }).catch((e) => e);
    expect(e2.reason).toBe('stale');
    // Raw snapshots (what Node stores) have no gzip CRC: their checksum catches a damaged byte.
    const damaged = raw.slice();
    damaged[raw.length - 1000] = damaged[raw.length - 1000]! ^ 0x01;
    const e3 = await VM.restore({ ...opts, snapshot: damaged }).catch((e) => e);
    expect(e3).toBeInstanceOf(SnapshotError);
    expect(e3.message).toMatch(/checksum/);
  });

  it('leaves the system image out of snapshots; the restored guest reads it from the artifact', async () => {
    const { readManifest } = await import('../../src/vm/artifacts.js');
    const artifacts = new FolderArtifactSource();
    const manifest = await readManifest(artifacts);
    const image = await artifacts.read('system.img');
    const cold = await boot();
    const raw = await cold.captureSnapshot();
    await cold.stop();
    // Any 4 KiB of the image would be in the state if v86 kept its bytes there.
    const state = Buffer.from(raw.buffer, raw.byteOffset, raw.length);
    for (const at of [0.25, 0.5, 0.75]) {
      let offset = Math.floor((image.length * at) / 4096) * 4096;
      while (new Set(image.subarray(offset, offset + 4096)).size < 16) offset += 4096; // not a run of zeros
      expect(state.indexOf(image.subarray(offset, offset + 4096))).toBe(-1);
    }
    const vm = await GuestVM.restore({ artifacts, wasmPath: v86WasmPath(), snapshot: raw });
    try {
      const out = await vm.agent.runChecked(['/bin/sh', '-c', 'sha256sum /berth/guest/system.img']);
      expect(new TextDecoder().decode(out).split(' ')[0]).toBe(manifest.artifacts['system.img']!.sha256);
    } finally {
      await vm.stop();
    }

    // Without its image the restored guest cannot go on: it stops and says why.
    const noImage = { location: artifacts.location, read: (path: string) => (path === 'system.img' ? Promise.reject(new Error('ENOENT')) : artifacts.read(path)) };
    const died = await GuestVM.restore({ artifacts: noImage, wasmPath: v86WasmPath(), snapshot: raw }).then(
      (g) => new Promise<Error>((resolve) => g.onDeath(resolve)),
      (e: Error) => e,
    );
    expect(died.message).toMatch(/system image \(system\.img\) could not be read/);
  });
});

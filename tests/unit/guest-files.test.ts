import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { guestClientFiles } from '../../src/engine/docker-cli/serve.js';
import type { Engine } from '../../src/engine/engine.js';
import { dirAndBase, GuestFiles, normalizeAbsolute } from '../../src/engine/guest-files.js';

/**
 * The guest's programs are run here, on the host's sh, cat and tar, in a
 * temporary folder that plays the guest's tree: the scripts are the ones
 * the guest runs.
 */
function hostAgent() {
  const scripts: string[][] = [];
  return {
    scripts,
    runChecked(argv: string[], opts: { stdin?: Uint8Array } = {}): Promise<Uint8Array> {
      scripts.push(argv);
      return new Promise((resolve, reject) => {
        const p = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
        const out: Buffer[] = [];
        let err = '';
        p.stdout.on('data', (d: Buffer) => out.push(d));
        p.stderr.on('data', (d: Buffer) => (err += d.toString()));
        p.on('error', reject);
        // A script that exits without reading its stdin (mkdir -p, a failed test) closes the pipe first.
        p.stdin.on('error', () => {});
        p.on('close', (code) => (code === 0 ? resolve(new Uint8Array(Buffer.concat(out))) : reject(new Error(err.trim() || `exit ${code}`))));
        p.stdin.end(opts.stdin ? Buffer.from(opts.stdin) : undefined);
      });
    },
  };
}

let dir: string;
let files: GuestFiles;
let agent: ReturnType<typeof hostAgent>;
const containers = new Map<string, { name: string; shortId: string; state: string; paths: { guestRootfs: string } }>();
const text = (d: Uint8Array) => new TextDecoder().decode(d);
const bytes = (s: string) => new TextEncoder().encode(s);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'berth-guest-files-'));
  agent = hostAgent();
  containers.clear();
  mkdirSync(join(dir, 'rootfs/etc'), { recursive: true });
  writeFileSync(join(dir, 'rootfs/etc/hostname'), 'box\n');
  containers.set('box', { name: 'box', shortId: 'b0b0b0b0b0b0', state: 'running', paths: { guestRootfs: join(dir, 'rootfs') } });
  const engine = {
    vm: { agent },
    get: (name: string) => {
      const c = containers.get(name);
      if (!c) throw new Error(`No such container: ${name}`);
      return c;
    },
  };
  files = new GuestFiles(engine as unknown as Engine);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('paths', () => {
  it('normalizes absolute paths and refuses others', () => {
    expect(normalizeAbsolute('/a/./b//c/')).toBe('/a/b/c');
    expect(normalizeAbsolute('/')).toBe('/');
    expect(() => normalizeAbsolute('a/b')).toThrow('a/b: the path must be absolute');
    expect(() => normalizeAbsolute('/a/../b')).toThrow('/a/../b: ".." is not allowed here');
  });
  it('splits a path as tar wants it', () => {
    expect(dirAndBase('/a/b/')).toEqual({ dir: '/a', base: 'b' });
    expect(dirAndBase('/a')).toEqual({ dir: '/', base: 'a' });
    expect(dirAndBase('/')).toEqual({ dir: '/', base: '.' });
    expect(dirAndBase('x')).toEqual({ dir: '.', base: 'x' });
    expect(dirAndBase('x/y')).toEqual({ dir: 'x', base: 'y' });
  });
  it('resolves a target: the guest as is, a container under its root', () => {
    expect(files.resolve({ kind: 'guest' }, '/etc/')).toEqual({ full: '/etc', where: '/etc' });
    expect(files.resolve({ kind: 'container', id: 'box' }, '/etc')).toEqual({ full: join(dir, 'rootfs/etc'), where: 'box:/etc' });
    expect(files.resolve({ kind: 'container', id: 'box' }, '/')).toEqual({ full: join(dir, 'rootfs'), where: 'box:/' });
  });
  it('refuses a container being removed', () => {
    containers.get('box')!.state = 'removing';
    expect(() => files.resolve({ kind: 'container', id: 'box' }, '/etc')).toThrow('container b0b0b0b0b0b0 is being removed');
  });
});

describe('files', () => {
  it('reads and writes relative to a folder, making parents when asked', async () => {
    await files.write('a.txt', bytes('one\n'), { cwd: dir });
    expect(readFileSync(join(dir, 'a.txt'), 'utf8')).toBe('one\n');
    expect(text(await files.read('a.txt', dir))).toBe('one\n');
    expect(text(await files.read(join(dir, 'a.txt')))).toBe('one\n');
    await expect(files.write(join(dir, 'new/deep/b.txt'), bytes('two'))).rejects.toThrow();
    await files.write(join(dir, 'new/deep/b.txt'), bytes('two'), { parents: true });
    expect(readFileSync(join(dir, 'new/deep/b.txt'), 'utf8')).toBe('two');
    await expect(files.read('missing', dir)).rejects.toThrow(/missing: No such file or directory/);
  });
  it('tells folders, files and nothing apart', async () => {
    expect(await files.kind(join(dir, 'rootfs'))).toBe('dir');
    expect(await files.kind(join(dir, 'rootfs/etc/hostname'))).toBe('file');
    expect(await files.kind(join(dir, 'nope'))).toBe('none');
  });
  it('packs and places as cp does: into a folder, or as a new name', async () => {
    const tar = await files.pack(join(dir, 'rootfs/etc'), 'hostname');
    mkdirSync(join(dir, 'out'));
    await files.place('out', tar, 'hostname', { cwd: dir });
    expect(readFileSync(join(dir, 'out/hostname'), 'utf8')).toBe('box\n');
    await files.place('out/renamed', tar, 'hostname', { cwd: dir });
    expect(readFileSync(join(dir, 'out/renamed'), 'utf8')).toBe('box\n');
    await expect(files.place('nodir/x', tar, 'hostname', { cwd: dir })).rejects.toThrow('no such directory: nodir');
  });
  it('places below a root, and packs a folder as its contents', async () => {
    await files.place('/etc/copy', await files.pack(join(dir, 'rootfs/etc'), 'hostname'), 'hostname', { root: join(dir, 'rootfs') });
    expect(readFileSync(join(dir, 'rootfs/etc/copy'), 'utf8')).toBe('box\n');
    mkdirSync(join(dir, 'out'));
    await files.extractInto(join(dir, 'out/all'), await files.pack(join(dir, 'rootfs'), '.'));
    expect(readFileSync(join(dir, 'out/all/etc/copy'), 'utf8')).toBe('box\n');
  });
  it('puts files and folders under a destination, made as needed', async () => {
    const r = await files.put({ kind: 'container', id: 'box' }, '/srv/app', [
      { path: 'README', file: new Blob(['read me\n']) },
      { path: 'src' },
      { path: './src/main.sh', file: new Blob(['echo main\n']) },
    ]);
    expect(r).toEqual({ files: 2, dirs: 1, dest: 'box:/srv/app' });
    expect(readFileSync(join(dir, 'rootfs/srv/app/README'), 'utf8')).toBe('read me\n');
    expect(readFileSync(join(dir, 'rootfs/srv/app/src/main.sh'), 'utf8')).toBe('echo main\n');
    await expect(files.put({ kind: 'guest' }, dir, [{ path: '../evil', file: new Blob(['x']) }])).rejects.toThrow('../evil: not a usable file name');
    expect(existsSync(join(dir, '../evil'))).toBe(false);
  });
  it('reads a path for a download: a file, or a folder as a tar of its contents', async () => {
    const file = await files.readPath({ kind: 'container', id: 'box' }, '/etc/hostname');
    expect({ ...file, data: text(file.data) }).toEqual({ name: 'hostname', kind: 'file', data: 'box\n' });
    const folder = await files.readPath({ kind: 'container', id: 'box' }, '/etc');
    expect(folder.name).toBe('etc.tar');
    expect(folder.kind).toBe('tar');
    expect(new TextDecoder('latin1').decode(folder.data)).toContain('./hostname');
    expect((await files.readPath({ kind: 'container', id: 'box' }, '/')).name).toBe('rootfs.tar');
    await expect(files.readPath({ kind: 'container', id: 'box' }, '/nope')).rejects.toThrow('box:/nope: no such file or directory');
    await expect(files.readPath({ kind: 'guest' }, '/')).rejects.toThrow(/choose a folder below \//);
  });
});

describe("a guest client's files (docker in the guest terminal)", () => {
  it('works at the client cwd and names a file it cannot open', async () => {
    const client = guestClientFiles({ vm: { agent }, get: () => { throw new Error('no'); } } as unknown as Engine);
    await client.write('saved.tar', bytes('data'), dir);
    expect(text(await client.read('saved.tar', dir))).toBe('data');
    await expect(client.read('nope.tar', dir)).rejects.toThrow(/^open nope\.tar: .*No such file or directory/);
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub/f.txt'), 'f\n');
    const tar = await client.packTar('sub/f.txt', dir);
    await client.extractTar('g.txt', tar, 'f.txt', dir);
    expect(readFileSync(join(dir, 'g.txt'), 'utf8')).toBe('f\n');
    await client.extractTar('.', await client.packTar('sub', dir), 'sub', join(dir, 'rootfs'));
    expect(readFileSync(join(dir, 'rootfs/sub/f.txt'), 'utf8')).toBe('f\n');
  });
});

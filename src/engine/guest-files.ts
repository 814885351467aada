import { packTar, type TarEntry } from 'modern-tar';
import type { Container } from './container.js';
import type { Engine } from './engine.js';
import { conflict } from './errors.js';

/**
 * Files in the guest, read and written by small programs run there through
 * the agent (sh, cat, tar): the one place that knows how. Its users:
 *
 * - the docker CLI: the files of the `docker` client in the guest terminal
 *   (`load -i`, `save -o`, `cp`, `--env-file`; paths relative to the
 *   client's cwd), and a container's own files (`cp`, `export`);
 * - the page (src/ui/engine-worker.ts): the files panel, drag and drop and
 *   the embed API, in the guest or in a container.
 *
 * A container's files are its root as the guest sees it (the overlay at its
 * rootfs path); volumes and tmpfs mounted inside the container are not part of it.
 */

/** The guest's own tree, or a container's root. */
export type FilesTarget = { kind: 'guest' } | { kind: 'container'; id: string };

/** A file (or a folder: no `file`) to put under a destination, at a path relative to it. */
export interface PutEntry {
  path: string;
  file?: Blob;
}

/** A path read for a download: a file as it is, a folder as a tar of its contents. */
export interface ReadPath {
  /** The file's own name, or `NAME.tar` for a folder. */
  name: string;
  kind: 'file' | 'tar';
  data: Uint8Array;
}

/** `/a/./b//c/` → `/a/b/c`; refuses relative paths and `..` (nothing may leave the chosen root). */
export function normalizeAbsolute(path: string): string {
  if (!path.startsWith('/')) throw new Error(`${path}: the path must be absolute`);
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new Error(`${path}: ".." is not allowed here`);
  return `/${parts.join('/')}`;
}

/** A path's folder and last component, as tar wants them (`/a/b/` → `/a`, `b`; `/` → `/`, `.`). */
export function dirAndBase(path: string): { dir: string; base: string } {
  const clean = path.replace(/\/+$/, '') || '/';
  const i = clean.lastIndexOf('/');
  return { dir: i <= 0 ? (clean.startsWith('/') ? '/' : '.') : clean.slice(0, i), base: clean.slice(i + 1) || '.' };
}

export class GuestFiles {
  constructor(private readonly engine: Pick<Engine, 'vm' | 'get'>) {}

  /** Runs a shell script in the guest (`$1`... are `args`), optionally fed `stdin`; its stdout, or its stderr as the error. */
  private sh(script: string, args: string[], stdin?: Uint8Array): Promise<Uint8Array> {
    return this.engine.vm.agent.runChecked(['/bin/sh', '-c', script, 'sh', ...args], stdin ? { stdin } : {});
  }

  /** A container's root in the guest; refused while the container is being removed. */
  containerRoot(c: Container): string {
    if (c.state === 'removing') throw conflict(`container ${c.shortId} is being removed`);
    return c.paths.guestRootfs;
  }

  /** The guest path of an absolute path of a target, and how to name it to a person (`box:/etc`). */
  resolve(target: FilesTarget, path: string): { full: string; where: string } {
    const p = normalizeAbsolute(path);
    if (target.kind === 'guest') return { full: p, where: p };
    const c = this.engine.get(target.id);
    const root = this.containerRoot(c);
    return { full: p === '/' ? root : root + p, where: `${c.name}:${p}` };
  }

  /** A file's bytes (`path` relative to `cwd`). */
  read(path: string, cwd = '/'): Promise<Uint8Array> {
    return this.sh('cd "$1" && cat -- "$2"', [cwd, path]);
  }

  /** Writes a file (`path` relative to `cwd`); `parents` creates its folder first. */
  async write(path: string, data: Uint8Array, o: { cwd?: string; parents?: boolean } = {}): Promise<void> {
    const script = o.parents ? 'cd "$1" && mkdir -p -- "$(dirname -- "$2")" && cat > "$2"' : 'cd "$1" && cat > "$2"';
    await this.sh(script, [o.cwd ?? '/', path], data);
  }

  /** Whether a path is a folder, something else, or nothing. */
  async kind(path: string): Promise<'dir' | 'file' | 'none'> {
    const out = await this.sh('if [ -d "$1" ]; then echo dir; elif [ -e "$1" ]; then echo file; else echo none; fi', [path]);
    return new TextDecoder().decode(out).trim() as 'dir' | 'file' | 'none';
  }

  /** A tar of `name` in folder `dir` (`.` for the folder's contents), with `name` at its top; `dir` relative to `cwd`. */
  pack(dir: string, name: string, cwd = '/'): Promise<Uint8Array> {
    return this.sh('cd "$1" && tar -C "$2" -cf - "$3"', [cwd, dir, name]);
  }

  /** Unpacks a tar into a folder, made first with its parents. */
  async extractInto(dir: string, tar: Uint8Array): Promise<void> {
    await this.sh('mkdir -p -- "$1" && tar -xf - -C "$1"', [dir], tar);
  }

  /**
   * Puts the tar of one entry, `name` at its top, at `dest` as `cp` does:
   * into `dest` when it is a folder, else as `dest` (renamed). `dest` is
   * relative to `cwd` and below `root` (a container's root, or none).
   */
  async place(dest: string, tar: Uint8Array, name: string, o: { cwd?: string; root?: string } = {}): Promise<void> {
    const script = `set -e; cd "$1"; t="$2$3"; b="$4"
if [ -d "$t" ]; then tar -xf - -C "$t"
else d=$(dirname "$t"); [ -d "$d" ] || { echo "no such directory: $(dirname "$3")" >&2; exit 1; }
  tmp="$d/.berth-cp.$$"; mkdir "$tmp"; tar -xf - -C "$tmp"; mv "$tmp/$b" "$t"; rmdir "$tmp"; fi`;
    await this.sh(script, [o.cwd ?? '/', o.root ?? '', dest, name], tar);
  }

  /** Puts files and folders under `dest` of a target (folders made as needed). */
  async put(target: FilesTarget, dest: string, entries: PutEntry[]): Promise<{ files: number; dirs: number; dest: string }> {
    const { full, where } = this.resolve(target, dest);
    const tar: TarEntry[] = [];
    let files = 0;
    let dirs = 0;
    for (const e of entries) {
      const parts = e.path.split('/').filter((p) => p !== '' && p !== '.');
      if (parts.length === 0 || parts.includes('..')) throw new Error(`${e.path}: not a usable file name`);
      const name = parts.join('/');
      if (e.file) {
        tar.push({ header: { name, size: e.file.size, type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: new Date() }, body: e.file });
        files++;
      } else {
        tar.push({ header: { name: `${name}/`, size: 0, type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: new Date() } });
        dirs++;
      }
    }
    await this.extractInto(full, await packTar(tar));
    return { files, dirs, dest: where };
  }

  /** Reads a path of a target for a download: a file, or a folder as a tar of its contents. */
  async readPath(target: FilesTarget, path: string): Promise<ReadPath> {
    const { full, where } = this.resolve(target, path);
    if (target.kind === 'guest' && full === '/') throw new Error('choose a folder below / (the whole guest includes /proc and the engine’s own tree)');
    const kind = await this.kind(full);
    if (kind === 'none') throw new Error(`${where}: no such file or directory`);
    const baseName = normalizeAbsolute(path).split('/').pop() || 'rootfs';
    return kind === 'dir' ? { name: `${baseName}.tar`, kind: 'tar', data: await this.pack(full, '.') } : { name: baseName, kind: 'file', data: await this.read(full) };
  }
}

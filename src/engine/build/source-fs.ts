import { unpackTar } from 'modern-tar';
import type { GuestFs } from '../../vm/guest-fs.js';

/**
 * Read-only file trees a build copies from and into, seen the same way: the
 * build context (a tar from the client) and an image's merged layers (the
 * unpacked trees in the 9p tree). Paths are absolute within the tree's own
 * root; symlinks resolve inside that root, never out of it (`..` stops at /).
 */

export type NodeType = 'file' | 'dir' | 'symlink' | 'other';

export interface SourceNode {
  type: NodeType;
  /** Permission bits with setuid/setgid/sticky. */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds. */
  mtime: number;
  linkname?: string;
}

export interface SourceFs {
  /** The node at a path whose parents are real directories (no symlink followed), or undefined. */
  lstat(path: string): SourceNode | undefined;
  /** Names in a directory (real path), sorted. */
  readdir(path: string): string[];
  read(path: string): Promise<Uint8Array>;
}

const MAX_LINKS = 40;

export function splitPath(path: string): string[] {
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return out;
}

export const joinPath = (parts: string[]) => `/${parts.join('/')}`;

function strip(name: string, top: boolean): string[] {
  return splitPath(top ? name.split('/').slice(1).join('/') : name);
}

/**
 * The real path of `path` in `fs`, symlinks resolved inside its root: the
 * last component too when `followLast`. Components that do not exist are kept
 * as they are (a destination about to be made). Too many links is an error.
 */
export function realPath(fs: SourceFs, path: string, followLast = true): string {
  const pending = path.split('/').reverse();
  const done: string[] = [];
  let hops = 0;
  while (pending.length) {
    const name = pending.pop()!;
    if (name === '' || name === '.') continue;
    if (name === '..') {
      done.pop();
      continue;
    }
    const node = fs.lstat(joinPath([...done, name]));
    const last = !pending.some((p) => p !== '' && p !== '.');
    if (node?.type === 'symlink' && (!last || followLast)) {
      if (++hops > MAX_LINKS) throw new Error(`${path}: too many levels of symbolic links`);
      const target = node.linkname ?? '';
      if (target.startsWith('/')) done.length = 0;
      pending.push(...target.split('/').reverse());
      continue;
    }
    done.push(name);
  }
  return joinPath(done);
}

/** The build context: the client's tar, held in memory. */
export class ContextFs implements SourceFs {
  private readonly nodes = new Map<string, SourceNode & { data?: Uint8Array }>([['/', { type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 0 }]]);
  private readonly children = new Map<string, Set<string>>([['/', new Set()]]);

  /** An empty context (`build - < Dockerfile`). */
  static empty(): ContextFs {
    return new ContextFs();
  }

  /**
   * Reads a context tar. With `stripTop`, each name's first component goes
   * (a client packs its folder under the folder's name, or `.`).
   */
  static async fromTar(tar: Uint8Array, stripTop = false): Promise<ContextFs> {
    const ctx = new ContextFs();
    const links: Array<[string, string]> = [];
    // The whole tar is in memory: unpackTar reads it in one pass (about 5x the streaming decoder's speed).
    for (const { header: h, data } of await unpackTar(tar, { strict: true })) {
      const parts = strip(h.name, stripTop);
      const type = h.type ?? 'file';
      if (parts.length === 0) continue;
      const path = joinPath(parts);
      const meta = { mode: (h.mode ?? 0o644) & 0o7777, uid: h.uid ?? 0, gid: h.gid ?? 0, mtime: Math.floor((h.mtime?.getTime() ?? 0) / 1000) };
      if (type === 'file') ctx.add(path, { type: 'file', size: data?.length ?? 0, data: data ?? new Uint8Array(0), ...meta });
      else if (type === 'directory') ctx.add(path, { type: 'dir', size: 0, ...meta });
      else if (type === 'symlink') ctx.add(path, { type: 'symlink', size: 0, linkname: h.linkname ?? '', ...meta });
      else if (type === 'link') links.push([path, joinPath(strip(h.linkname ?? '', stripTop))]);
      else ctx.add(path, { type: 'other', size: 0, ...meta });
    }
    // A hard link in the context is another copy of its file (Docker copies contents, not links).
    for (const [path, target] of links) {
      const t = ctx.nodes.get(target);
      if (t) ctx.add(path, { ...t });
    }
    return ctx;
  }

  /** A context from a folder read directly (a client's readTree), entries parents first. */
  static fromEntries(entries: Array<{ path: string; type: 'file' | 'dir' | 'symlink'; mode: number; uid: number; gid: number; mtime: number; linkname?: string; data?: Uint8Array }>): ContextFs {
    const ctx = new ContextFs();
    for (const e of entries) {
      const meta = { mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime };
      if (e.type === 'file') ctx.add(`/${e.path}`, { type: 'file', size: e.data?.length ?? 0, data: e.data ?? new Uint8Array(0), ...meta });
      else if (e.type === 'dir') ctx.add(`/${e.path}`, { type: 'dir', size: 0, ...meta });
      else ctx.add(`/${e.path}`, { type: 'symlink', size: 0, linkname: e.linkname ?? '', ...meta });
    }
    return ctx;
  }

  /**
   * A context without the paths `keep` refuses (relative, no leading `/`;
   * .dockerignore). A directory stays when it is kept itself or holds a kept
   * path (an exception `!dir/file` under an excluded `dir`).
   */
  filter(keep: (relPath: string) => boolean): ContextFs {
    const kept = new Set<string>();
    for (const path of this.nodes.keys()) {
      if (path === '/' || !keep(path.slice(1))) continue;
      const parts = splitPath(path);
      for (let i = parts.length; i > 0 && !kept.has(joinPath(parts.slice(0, i))); i--) kept.add(joinPath(parts.slice(0, i)));
    }
    const out = new ContextFs();
    for (const path of [...kept].sort()) out.add(path, this.nodes.get(path)!);
    return out;
  }

  /** Adds a node (a file made from a heredoc, a downloaded file); parents are made as needed. */
  add(path: string, node: SourceNode & { data?: Uint8Array }): void {
    const parts = splitPath(path);
    for (let i = 1; i < parts.length; i++) {
      const p = joinPath(parts.slice(0, i));
      if (!this.nodes.has(p)) this.add(p, { type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 0 });
    }
    const full = joinPath(parts);
    const parent = joinPath(parts.slice(0, -1));
    this.nodes.set(full, node);
    this.children.get(parent)!.add(parts[parts.length - 1]!);
    if (node.type === 'dir' && !this.children.has(full)) this.children.set(full, new Set());
  }

  lstat(path: string): SourceNode | undefined {
    return this.nodes.get(joinPath(splitPath(path)));
  }

  readdir(path: string): string[] {
    return [...(this.children.get(joinPath(splitPath(path))) ?? [])].sort();
  }

  async read(path: string): Promise<Uint8Array> {
    const n = this.nodes.get(joinPath(splitPath(path)));
    if (!n || n.type !== 'file') throw new Error(`${path}: not a file in the build context`);
    return n.data ?? new Uint8Array(0);
  }

  /** Bytes of file data in the context. */
  get size(): number {
    let n = 0;
    for (const node of this.nodes.values()) n += node.size;
    return n;
  }
}

/**
 * An image's file system as a container sees it: its unpacked layer trees in
 * the 9p tree merged as overlayfs merges them (the topmost layer's entry wins;
 * a whiteout, char 0:0, hides what is below; a directory merges with the
 * directories below it down to the first layer where the path is no
 * directory). The trees have no opaque markers: LayerUnpacker turned them
 * into whiteouts.
 */
export class MergedFs implements SourceFs {
  /** `layers`: 9p paths of the trees, top first. */
  constructor(
    private readonly fs: GuestFs,
    private readonly layers: string[],
  ) {}

  /** The layers that hold the directory at `parts` as a directory, top first (empty if it is none). */
  private dirLayers(parts: string[]): string[] {
    let layers = this.layers;
    for (let i = 0; i < parts.length; i++) {
      const sub = joinPath(parts.slice(0, i + 1));
      const next: string[] = [];
      for (const l of layers) {
        const st = this.fs.stat(l + sub);
        if (!st) continue;
        const type = st.mode & 0o170000;
        if (type === 0o040000) next.push(l);
        else break; // a whiteout or a non-directory hides the layers below
      }
      layers = next;
      if (!layers.length) return [];
    }
    return layers;
  }

  lstat(path: string): SourceNode | undefined {
    const parts = splitPath(path);
    if (parts.length === 0) return this.node(this.layers.map((l) => this.fs.stat(l)).find(Boolean)) ?? { type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 0 };
    for (const l of this.dirLayers(parts.slice(0, -1))) {
      const st = this.fs.stat(l + joinPath(parts));
      if (!st) continue;
      if ((st.mode & 0o170000) === 0o020000 && st.major === 0 && st.minor === 0) return undefined;
      return this.node(st);
    }
    return undefined;
  }

  private node(st: ReturnType<GuestFs['stat']>): SourceNode | undefined {
    if (!st) return undefined;
    const t = st.mode & 0o170000;
    const type: NodeType = t === 0o040000 ? 'dir' : t === 0o100000 ? 'file' : t === 0o120000 ? 'symlink' : 'other';
    return { type, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: type === 'file' ? st.size : 0, mtime: st.mtime, ...(type === 'symlink' ? { linkname: st.symlink } : {}) };
  }

  readdir(path: string): string[] {
    const parts = splitPath(path);
    const names = new Map<string, boolean>();
    for (const l of this.dirLayers(parts)) {
      for (const name of this.fs.list(l + joinPath(parts))) {
        if (names.has(name)) continue;
        const st = this.fs.stat(`${l}${joinPath([...parts, name])}`)!;
        names.set(name, !((st.mode & 0o170000) === 0o020000 && st.major === 0 && st.minor === 0));
      }
    }
    return [...names].filter(([, visible]) => visible).map(([n]) => n).sort();
  }

  async read(path: string): Promise<Uint8Array> {
    const parts = splitPath(path);
    for (const l of this.dirLayers(parts.slice(0, -1))) {
      if (this.fs.stat(l + joinPath(parts))) return this.fs.readFile(l + joinPath(parts));
    }
    throw new Error(`${path}: no such file`);
  }
}

import { createSHA256 } from 'hash-wasm';
import type { TarEntry } from 'modern-tar';
import { goMatch, hasMeta, BadPatternError } from './go-match.js';
import { joinPath, realPath, splitPath, type SourceFs, type SourceNode } from './source-fs.js';

/**
 * COPY and ADD, done on the host: the sources are picked from a SourceFs (the
 * context, a stage, an image) by Docker's rules, placed into the target
 * image's merged tree, and what changes becomes the layer's tar. No container
 * runs: the target is read through its unpacked layers (MergedFs), so
 * symlinks on the way (`/bin -> usr/bin`) resolve inside the image as the
 * kernel would resolve them in a container.
 */

export class CopyError extends Error {
  override readonly name = 'CopyError';
}

export interface CopySource {
  fs: SourceFs;
  /** Files of the context are root's unless --chown says otherwise; files of a stage or image keep their owners. */
  keepOwners: boolean;
}

export interface CopyRequest {
  /** Source paths as expanded (globs allowed), relative to the source's root. */
  sources: string[];
  /** Absolute destination in the image (WORKDIR already applied); a trailing `/` means a directory. */
  dest: string;
  owner?: { uid: number; gid: number };
  /** --chmod, octal. */
  mode?: number;
  /** ADD: local tar archives (plain, gzip, zstd) are unpacked at the destination. */
  extractArchives?: (data: Uint8Array) => Promise<ArchiveEntry[] | undefined>;
  /** Seconds, for directories this copy makes. */
  now: number;
}

/** An entry of an archive ADD unpacks. */
export interface ArchiveEntry {
  path: string;
  node: SourceNode;
  data?: Uint8Array;
}

interface Placed {
  node: SourceNode;
  read?: () => Promise<Uint8Array>;
}

/** The target's tree with what this copy has placed so far on top. */
class PendingFs implements SourceFs {
  readonly placed = new Map<string, Placed>();
  constructor(private readonly base: SourceFs) {}
  lstat(path: string): SourceNode | undefined {
    return this.placed.get(joinPath(splitPath(path)))?.node ?? this.base.lstat(path);
  }
  readdir(path: string): string[] {
    return this.base.readdir(path);
  }
  read(path: string): Promise<Uint8Array> {
    return this.base.read(path);
  }
}

/** Expands one source pattern against the source tree: the matching paths, or none. */
export function expandSource(fs: SourceFs, pattern: string): string[] {
  const parts = splitPath(pattern);
  let found = ['/'];
  for (const part of parts) {
    const next: string[] = [];
    for (const dir of found) {
      if (!hasMeta(part)) {
        const p = joinPath([...splitPath(dir), part]);
        if (fs.lstat(realPath(fs, p)) || fs.lstat(p)) next.push(p);
        continue;
      }
      const real = realPath(fs, dir);
      if (fs.lstat(real)?.type !== 'dir') continue;
      for (const name of fs.readdir(real)) {
        let ok: boolean;
        try {
          ok = goMatch(part, name);
        } catch (e) {
          if (e instanceof BadPatternError) throw new CopyError(`${pattern}: ${e.message}`);
          throw e;
        }
        if (ok) next.push(joinPath([...splitPath(dir), name]));
      }
    }
    found = next;
  }
  return found;
}

/**
 * Plans a COPY or ADD: the tar entries of the layer it makes (parents the
 * image already has are carried up with their metadata, as an overlay's copy-up
 * does) and a digest of what it copies (paths, metadata, contents; not mtimes)
 * for the build cache.
 */
export async function planCopy(source: CopySource, target: SourceFs, req: CopyRequest): Promise<{ entries: TarEntry[]; digest: string }> {
  const pending = new PendingFs(target);
  const matches: string[] = [];
  for (const s of req.sources) {
    const found = expandSource(source.fs, s);
    if (found.length === 0) throw new CopyError(`"${joinPath(splitPath(s))}": not found`);
    matches.push(...found);
  }
  const destIsDir = req.dest.endsWith('/') || req.sources.length > 1 || matches.length > 1;
  if (destIsDir && !req.dest.endsWith('/') && matches.length > 1 && !isDir(target, req.dest)) {
    throw new CopyError('When using COPY with more than one source file, the destination must be a directory and end with a /');
  }
  const owner = (n: SourceNode) => req.owner ?? (source.keepOwners ? { uid: n.uid, gid: n.gid } : { uid: 0, gid: 0 });
  const newDirOwner = req.owner ?? { uid: 0, gid: 0 };

  const ensureDir = (dir: string): string => {
    const real = realPath(pending, dir);
    const parts = splitPath(real);
    for (let i = 1; i <= parts.length; i++) {
      const p = joinPath(parts.slice(0, i));
      if (pending.placed.has(p)) continue;
      const existing = target.lstat(p);
      if (existing?.type === 'dir') pending.placed.set(p, { node: existing });
      else if (!existing) pending.placed.set(p, { node: { type: 'dir', mode: 0o755, ...newDirOwner, size: 0, mtime: req.now } });
      else throw new CopyError(`mkdir ${p}: not a directory`);
    }
    return real;
  };

  const place = (path: string, node: SourceNode, read?: () => Promise<Uint8Array>) => {
    const parent = ensureDir(joinPath(splitPath(path).slice(0, -1)));
    const name = splitPath(path).pop();
    if (!name) throw new CopyError(`cannot copy to the root directory itself as a file`);
    let at = joinPath([...splitPath(parent), name]);
    const existing = pending.lstat(at);
    if (node.type === 'dir' && existing?.type === 'symlink') {
      // Into the directory a link already there points to, as tar --keep-directory-symlink does.
      const resolved = realPath(pending, at);
      if (pending.lstat(resolved)?.type === 'dir') at = resolved;
    } else if (node.type !== 'dir' && existing?.type === 'dir') {
      throw new CopyError(`cannot copy to ${at}: it is a directory in the image`);
    }
    pending.placed.set(at, read ? { node, read } : { node });
    return at;
  };

  const copyTree = async (fs: SourceFs, from: string, to: string) => {
    const node = fs.lstat(from)!;
    const meta = { ...node, ...owner(node), ...(req.mode !== undefined ? { mode: req.mode } : {}) };
    if (node.type === 'dir') {
      place(to, meta);
      for (const name of fs.readdir(from)) await copyTree(fs, joinPath([...splitPath(from), name]), joinPath([...splitPath(to), name]));
    } else if (node.type === 'file') {
      place(to, meta, () => fs.read(from));
    } else if (node.type === 'symlink') {
      place(to, { ...meta, mode: 0o777 });
    }
    // Devices, FIFOs and sockets in a context are left out, as Docker's client leaves them out.
  };

  for (const match of matches) {
    // The source path itself is followed if it is a link (inside its tree); what is under it is copied as it is.
    const real = realPath(source.fs, match);
    const node = source.fs.lstat(real);
    if (!node) throw new CopyError(`"${match}": not found`);
    const base = splitPath(match).pop() ?? '';
    if (node.type === 'dir') {
      // A directory's contents go into the destination, not the directory itself. A destination
      // made here is a new directory (0755 or --chmod's mode, root's or --chown's), not a copy of the
      // source directory: BuildKit makes it (fsutil's prepareTargetDir) and leaves its metadata.
      const destDir = ensureDir(req.dest);
      if (destDir !== '/' && !target.lstat(destDir) && req.mode !== undefined) pending.placed.set(destDir, { node: { ...pending.lstat(destDir)!, mode: req.mode } });
      for (const name of source.fs.readdir(real)) await copyTree(source.fs, joinPath([...splitPath(real), name]), joinPath([...splitPath(destDir), name]));
      continue;
    }
    const archive = node.type === 'file' && req.extractArchives ? await req.extractArchives(await source.fs.read(real)) : undefined;
    if (archive) {
      const destDir = ensureDir(req.dest);
      for (const e of archive) {
        const to = joinPath([...splitPath(destDir), ...splitPath(e.path)]);
        const meta = { ...e.node, ...(req.owner ?? {}) };
        if (e.node.type === 'dir') place(to, meta);
        else place(to, meta, e.data ? async () => e.data! : undefined);
      }
      continue;
    }
    const into = destIsDir || isDir(pending, req.dest);
    const to = into ? joinPath([...splitPath(req.dest), base]) : req.dest;
    await copyTree(source.fs, real, to);
  }
  return finish(pending.placed);
}

/**
 * WORKDIR: the directory and its missing parents, made 0755 and owned by
 * `owner`; no entries when it exists already (no layer, as mkdir -p changes
 * nothing).
 */
export async function planMkdir(target: SourceFs, dir: string, owner: { uid: number; gid: number }, now: number): Promise<TarEntry[]> {
  const real = realPath(target, dir);
  const existing = target.lstat(real);
  if (existing?.type === 'dir') return [];
  const placed = new Map<string, Placed>();
  const parts = splitPath(real);
  for (let i = 1; i <= parts.length; i++) {
    const p = joinPath(parts.slice(0, i));
    const node = target.lstat(p);
    if (node?.type === 'dir') placed.set(p, { node });
    else if (!node) placed.set(p, { node: { type: 'dir', mode: 0o755, ...owner, size: 0, mtime: now } });
    else throw new CopyError(`mkdir ${p}: not a directory`);
  }
  return (await finish(placed)).entries;
}

function isDir(fs: SourceFs, path: string): boolean {
  return fs.lstat(realPath(fs, path))?.type === 'dir';
}

async function finish(placed: Map<string, Placed>): Promise<{ entries: TarEntry[]; digest: string }> {
  const hash = await createSHA256();
  hash.init();
  const entries: TarEntry[] = [];
  for (const path of [...placed.keys()].sort()) {
    const { node, read } = placed.get(path)!;
    const name = path.slice(1) + (node.type === 'dir' ? '/' : '');
    const data = node.type === 'file' && read ? await read() : undefined;
    const type = node.type === 'dir' ? 'directory' : node.type === 'symlink' ? 'symlink' : 'file';
    entries.push({
      header: {
        name,
        type,
        size: data?.length ?? 0,
        mode: node.mode,
        uid: node.uid,
        gid: node.gid,
        mtime: new Date(node.mtime * 1000),
        ...(node.linkname !== undefined ? { linkname: node.linkname } : {}),
      },
      ...(data ? { body: data } : {}),
    });
    hash.update(`${name}\0${type}\0${node.mode}\0${node.uid}:${node.gid}\0${node.linkname ?? ''}\0${data?.length ?? 0}\0`);
    if (data) hash.update(data);
  }
  return { entries, digest: `sha256:${hash.digest('hex')}` };
}

/**
 * The guest's 9p tree, which lives in JS memory inside v86. A typed, path-based
 * wrapper over v86's `fs9p` (lib/filesystem.js), whose calls take inode ids.
 */

import { STATUS_ON_STORAGE, type V86FileStorage } from './host-files.js';

/** The part of v86's FS object we use. */
export interface V86FileSystem {
  SearchPath(path: string): { id: number; parentid: number; name: string };
  Search(parentid: number, name: string): number;
  CreateDirectory(name: string, parentid: number): number;
  CreateFile(name: string, parentid: number): number;
  CreateBinaryFile(name: string, parentid: number, data: Uint8Array): Promise<number>;
  CreateSymlink(name: string, parentid: number, target: string): number;
  CreateNode(name: string, parentid: number, major: number, minor: number): number;
  Link(parentid: number, targetid: number, name: string): number;
  Unlink(parentid: number, name: string): number;
  Rename(olddirid: number, oldname: string, newdirid: number, newname: string): Promise<number>;
  GetInode(id: number): V86Inode;
  IsDirectory(id: number): boolean;
  DeleteData(id: number): Promise<void>;
  ChangeSize(id: number, size: number): Promise<void>;
  Write(id: number, offset: number, count: number, data: Uint8Array): Promise<void>;
  read_file(path: string): Promise<Uint8Array | null>;
  /** Where the bytes of "on storage" inodes are (host-files.ts replaces it). */
  storage: V86FileStorage;
}

export interface V86Inode {
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  atime: number;
  ctime: number;
  size: number;
  nlinks: number;
  symlink: string;
  major: number;
  minor: number;
  direntries: Map<string, number>;
  status: number;
  sha256sum: string;
}

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;

export interface FileMeta {
  mode?: number; // permission bits (with setuid/setgid/sticky), no type bits
  uid?: number;
  gid?: number;
  mtime?: number; // seconds
}

export class GuestFsError extends Error {
  override readonly name = 'GuestFsError';
  constructor(
    readonly code: 'ENOENT' | 'EEXIST' | 'ENOTDIR' | 'EINVAL',
    readonly path: string,
    message: string,
  ) {
    super(`${message}: ${path}`);
  }
}

function splitPath(path: string): string[] {
  if (!path.startsWith('/')) throw new GuestFsError('EINVAL', path, 'guest path must be absolute');
  const parts = path.split('/').filter((p) => p.length > 0 && p !== '.');
  // Callers join names they were given (layer entries, volume names): `..` would leave the folder they meant.
  if (parts.includes('..')) throw new GuestFsError('EINVAL', path, 'a guest path may not contain ".."');
  return parts;
}

export class GuestFs {
  constructor(readonly raw: V86FileSystem) {}

  /** Inode id of an existing path (symlinks are not followed), or -1. */
  lookup(path: string): number {
    let id = 0;
    for (const name of splitPath(path)) {
      if (!this.raw.IsDirectory(id)) return -1;
      id = this.raw.Search(id, name);
      if (id === -1) return -1;
    }
    return id;
  }

  exists(path: string): boolean {
    return this.lookup(path) !== -1;
  }

  stat(path: string): V86Inode | undefined {
    const id = this.lookup(path);
    return id === -1 ? undefined : this.raw.GetInode(id);
  }

  /** Creates a directory and its missing parents; returns its inode id. */
  mkdirp(path: string, meta: FileMeta = {}): number {
    let id = 0;
    for (const name of splitPath(path)) {
      let next = this.raw.Search(id, name);
      if (next === -1) {
        next = this.raw.CreateDirectory(name, id);
        this.applyMeta(next, S_IFDIR, { mode: 0o755, uid: 0, gid: 0, ...meta });
      } else if (!this.raw.IsDirectory(next)) {
        throw new GuestFsError('ENOTDIR', path, 'not a directory');
      }
      id = next;
    }
    return id;
  }

  /** Parent directory id and the last name of a path whose parent must exist. */
  private parentOf(path: string): { parent: number; name: string } {
    const parts = splitPath(path);
    const name = parts.pop();
    if (!name) throw new GuestFsError('EINVAL', path, 'no file name in path');
    const parent = this.lookup('/' + parts.join('/'));
    if (parent === -1) throw new GuestFsError('ENOENT', path, 'parent directory does not exist');
    if (!this.raw.IsDirectory(parent)) throw new GuestFsError('ENOTDIR', path, 'parent is not a directory');
    return { parent, name };
  }

  async writeFile(path: string, data: Uint8Array, meta: FileMeta = {}): Promise<number> {
    const { parent, name } = this.parentOf(path);
    await this.removeEntry(parent, name);
    const id = await this.raw.CreateBinaryFile(name, parent, data);
    this.applyMeta(id, S_IFREG, { mode: 0o644, uid: 0, gid: 0, ...meta });
    return id;
  }

  /**
   * A regular file whose bytes v86 reads from its file storage by `sha256`
   * (host-files.ts) instead of keeping them in its state.
   */
  async writeStoredFile(path: string, sha256: string, size: number, meta: FileMeta = {}): Promise<number> {
    const { parent, name } = this.parentOf(path);
    await this.removeEntry(parent, name);
    const id = this.raw.CreateFile(name, parent);
    const inode = this.raw.GetInode(id);
    inode.status = STATUS_ON_STORAGE;
    inode.sha256sum = sha256;
    inode.size = size;
    this.applyMeta(id, S_IFREG, { mode: 0o644, uid: 0, gid: 0, ...meta });
    return id;
  }

  /**
   * Replaces a regular file's contents keeping its inode, so a guest bind
   * mount of the file (a container's /etc/hosts) sees the new contents.
   */
  async overwrite(path: string, data: Uint8Array): Promise<void> {
    const id = this.lookup(path);
    if (id === -1) throw new GuestFsError('ENOENT', path, 'no such file');
    await this.raw.ChangeSize(id, 0);
    if (data.length) await this.raw.Write(id, 0, data.length, data);
  }

  symlink(path: string, target: string, meta: FileMeta = {}): number {
    const { parent, name } = this.parentOf(path);
    if (this.raw.Search(parent, name) !== -1) throw new GuestFsError('EEXIST', path, 'file exists');
    const id = this.raw.CreateSymlink(name, parent, target);
    this.applyMeta(id, S_IFLNK, { mode: 0o777, uid: 0, gid: 0, ...meta });
    return id;
  }

  /** A character device node; (0, 0) is an overlayfs whiteout. */
  mknodChar(path: string, major: number, minor: number, meta: FileMeta = {}): number {
    const { parent, name } = this.parentOf(path);
    if (this.raw.Search(parent, name) !== -1) throw new GuestFsError('EEXIST', path, 'file exists');
    const id = this.raw.CreateNode(name, parent, major, minor);
    // v86 leaves the file type bits unset on CreateNode.
    this.applyMeta(id, S_IFCHR, { mode: 0o000, uid: 0, gid: 0, ...meta });
    return id;
  }

  /** A hard link at `path` to the existing non-directory `existing`. */
  link(existing: string, path: string): void {
    const target = this.lookup(existing);
    if (target === -1) throw new GuestFsError('ENOENT', existing, 'hard link target does not exist');
    if (this.raw.IsDirectory(target)) throw new GuestFsError('EINVAL', existing, 'cannot hard link a directory');
    const { parent, name } = this.parentOf(path);
    if (this.raw.Search(parent, name) !== -1) throw new GuestFsError('EEXIST', path, 'file exists');
    const rc = this.raw.Link(parent, target, name);
    if (rc < 0) throw new GuestFsError('EINVAL', path, `link failed (${rc})`);
  }

  async rename(from: string, to: string): Promise<void> {
    const a = this.parentOf(from);
    const b = this.parentOf(to);
    const rc = await this.raw.Rename(a.parent, a.name, b.parent, b.name);
    if (rc < 0) throw new GuestFsError('EINVAL', from, `rename to ${to} failed (${rc})`);
  }

  /** Removes a file or a whole tree; no error if it does not exist. Frees file data. */
  async remove(path: string): Promise<void> {
    const { parent, name } = this.parentOf(path);
    await this.removeEntry(parent, name);
  }

  private async removeEntry(parent: number, name: string): Promise<void> {
    const id = this.raw.Search(parent, name);
    if (id === -1) return;
    const inode = this.raw.GetInode(id);
    if (this.raw.IsDirectory(id)) {
      for (const child of [...inode.direntries.keys()]) {
        if (child !== '.' && child !== '..') await this.removeEntry(id, child);
      }
    }
    this.raw.Unlink(parent, name);
    // v86 keeps an unlinked file's data around; free it once no name is left.
    if (!this.raw.IsDirectory(id) && inode.nlinks === 0) await this.raw.DeleteData(id);
  }

  list(path: string): string[] {
    const id = this.lookup(path);
    if (id === -1) throw new GuestFsError('ENOENT', path, 'no such directory');
    return [...this.raw.GetInode(id).direntries.keys()].filter((n) => n !== '.' && n !== '..');
  }

  async readFile(path: string): Promise<Uint8Array> {
    if (!this.exists(path)) throw new GuestFsError('ENOENT', path, 'no such file');
    const data = await this.raw.read_file(path);
    if (!data) throw new GuestFsError('ENOENT', path, 'no such file');
    return data;
  }

  setMeta(path: string, meta: FileMeta): void {
    const id = this.lookup(path);
    if (id === -1) throw new GuestFsError('ENOENT', path, 'no such file');
    const inode = this.raw.GetInode(id);
    this.applyMeta(id, inode.mode & S_IFMT, meta);
  }

  private applyMeta(id: number, type: number, meta: FileMeta): void {
    const inode = this.raw.GetInode(id);
    if (meta.mode !== undefined) inode.mode = type | (meta.mode & 0o7777);
    else inode.mode = type | (inode.mode & 0o7777);
    if (meta.uid !== undefined) inode.uid = meta.uid;
    if (meta.gid !== undefined) inode.gid = meta.gid;
    if (meta.mtime !== undefined) inode.mtime = inode.ctime = inode.atime = meta.mtime;
  }
}

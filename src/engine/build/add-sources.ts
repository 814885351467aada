import { Decompress } from 'fzstd';
import { unpackTar } from 'modern-tar';
import { sha256Hex } from '../../oci/digest.js';
import type { ArchiveEntry } from './copy.js';
import { CopyError } from './copy.js';
import { joinPath, splitPath } from './source-fs.js';

/**
 * What ADD does beyond COPY: a local tar archive (plain, gzip or zstd) is
 * unpacked at the destination, and a URL is downloaded.
 */

const startsWith = (d: Uint8Array, sig: number[]) => sig.every((b, i) => d[i] === b);

function looksLikeTar(d: Uint8Array): boolean {
  if (d.length < 512) return false;
  const magic = new TextDecoder().decode(d.subarray(257, 262));
  if (magic === 'ustar') return true;
  // A v7 tar has no magic: check the header's checksum.
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : d[i]!;
  const stored = parseInt(new TextDecoder().decode(d.subarray(148, 156)).replace(/\0.*$/, '').trim(), 8);
  return stored === sum;
}

async function gunzip(d: Uint8Array): Promise<Uint8Array> {
  const s = new Blob([d as BlobPart]).stream().pipeThrough(new DecompressionStream('gzip') as unknown as TransformStream<Uint8Array, Uint8Array>);
  return new Uint8Array(await new Response(s).arrayBuffer());
}

function unzstd(d: Uint8Array): Uint8Array {
  const chunks: Uint8Array[] = [];
  const z = new Decompress((c) => chunks.push(c));
  z.push(d, true);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/**
 * A tar, plain or gzip/zstd-compressed, as an uncompressed tar; undefined
 * for data that is no tar (ADD copies such a file as it is; `build -` then
 * reads it as a Dockerfile).
 */
export async function tarOf(data: Uint8Array): Promise<Uint8Array | undefined> {
  let tar = data;
  try {
    if (startsWith(data, [0x1f, 0x8b])) tar = await gunzip(data);
    else if (startsWith(data, [0x28, 0xb5, 0x2f, 0xfd])) tar = unzstd(data);
    else if (startsWith(data, [0x42, 0x5a, 0x68]) || startsWith(data, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) {
      throw new CopyError('bzip2 and xz archives are not supported here: recompress it with gzip or zstd');
    }
  } catch (e) {
    if (e instanceof CopyError) throw e;
    return undefined; // compressed, but not a stream we can read: Docker copies such a file as it is
  }
  return looksLikeTar(tar) ? tar : undefined;
}

/** The entries of a local archive ADD unpacks, or undefined for a file that is no archive (copied as it is). */
export async function archiveEntries(data: Uint8Array): Promise<ArchiveEntry[] | undefined> {
  const tar = await tarOf(data);
  if (!tar) return undefined;
  const out: ArchiveEntry[] = [];
  const links: Array<[string, string]> = [];
  let entries;
  try {
    entries = await unpackTar(tar, { strict: true });
  } catch (e) {
    throw new CopyError(`the archive could not be unpacked: ${(e as Error).message}`);
  }
  for (const { header: h, data } of entries) {
    const path = joinPath(splitPath(h.name));
    const type = h.type ?? 'file';
    const node = { mode: (h.mode ?? 0o644) & 0o7777, uid: h.uid ?? 0, gid: h.gid ?? 0, size: 0, mtime: Math.floor((h.mtime?.getTime() ?? 0) / 1000) };
    if (path === '/') continue;
    if (type === 'file') out.push({ path, node: { ...node, type: 'file', size: data?.length ?? 0 }, data: data ?? new Uint8Array(0) });
    else if (type === 'directory') out.push({ path, node: { ...node, type: 'dir' } });
    else if (type === 'symlink') out.push({ path, node: { ...node, type: 'symlink', linkname: h.linkname ?? '' } });
    else if (type === 'link') links.push([path, joinPath(splitPath(h.linkname ?? ''))]);
  }
  for (const [path, target] of links) {
    const t = out.find((e) => e.path === target);
    if (t) out.push({ ...t, path });
  }
  return out;
}

/** ADD URL: the file's bytes, name (the URL's last path segment) and mtime (Last-Modified). */
export async function download(url: string, checksum?: string): Promise<{ name: string; data: Uint8Array; mtime: number }> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new CopyError(`failed to load ${url}: ${(e as Error).message}`);
  }
  if (!res.ok) throw new CopyError(`failed to load ${url}: invalid response status ${res.status}`);
  const data = new Uint8Array(await res.arrayBuffer());
  if (checksum) {
    const got = `sha256:${await sha256Hex(data)}`;
    if (got !== checksum) throw new CopyError(`digest mismatch for ${url}: expected ${checksum}, got ${got}`);
  }
  const name = decodeURIComponent(new URL(url).pathname.split('/').filter(Boolean).pop() ?? '') || '__unnamed__';
  const modified = res.headers.get('last-modified');
  return { name, data, mtime: modified ? Math.floor(Date.parse(modified) / 1000) || 0 : 0 };
}

import { joinPath, splitPath, type SourceFs } from './source-fs.js';

/**
 * A RUN step's layer as BuildKit's overlay differ writes it: a directory that
 * is in the upper directory only because the kernel copied it up (the
 * runtime made a mount point in it, as it does /etc/hostname, or a file was
 * made and removed again) is left out when nothing under it changed and its
 * mode and owner are the lower layers' (moby/buildkit util/overlay: Changes
 * skips such an entry, `sameDirent`; the mtime is not compared). The parents
 * of a change stay, as containerd's tar writer puts them in. So a RUN that
 * changes no file makes an empty layer, as BuildKit's does.
 *
 * Works on the tar's headers only (ustar, PAX 'x' and GNU 'L' extensions, as
 * `berth-agent layer-tar` writes them); the bytes of the entries kept are
 * copied as they are.
 */

const BLOCK = 512;

interface Entry {
  /** Offset of its first header (an extension header's, if any) and the end of its data, padded. */
  start: number;
  end: number;
  path: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
}

const text = (b: Uint8Array, from: number, len: number) => {
  const s = b.subarray(from, from + len);
  const nul = s.indexOf(0);
  return new TextDecoder().decode(nul < 0 ? s : s.subarray(0, nul));
};

function number(b: Uint8Array, from: number, len: number): number {
  if (b[from]! & 0x80) {
    // GNU base-256: big-endian, the high bit of the first byte a marker.
    let n = b[from]! & 0x7f;
    for (let i = 1; i < len; i++) n = n * 256 + b[from + i]!;
    return n;
  }
  const s = text(b, from, len).trim();
  return s ? parseInt(s, 8) : 0;
}

/** PAX records (`LEN key=value\n`) as a map. */
function paxRecords(data: Uint8Array): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) break;
    const len = parseInt(new TextDecoder().decode(data.subarray(i, sp)), 10);
    if (!(len > 0)) break;
    const record = new TextDecoder().decode(data.subarray(sp + 1, i + len - 1));
    const eq = record.indexOf('=');
    if (eq > 0) out.set(record.slice(0, eq), record.slice(eq + 1));
    i += len;
  }
  return out;
}

function entries(tar: Uint8Array): Entry[] | undefined {
  const out: Entry[] = [];
  let o = 0;
  let start = -1;
  let pax = new Map<string, string>();
  let longName: string | undefined;
  while (o + BLOCK <= tar.length) {
    const h = tar.subarray(o, o + BLOCK);
    if (h.every((x) => x === 0)) return out;
    const type = String.fromCharCode(h[156] || 0x30);
    const size = Number(type === 'x' || type === 'L' ? number(h, 124, 12) : (pax.get('size') ?? number(h, 124, 12)));
    const dataEnd = o + BLOCK + Math.ceil(size / BLOCK) * BLOCK;
    if (dataEnd > tar.length) return undefined;
    if (start < 0) start = o;
    const data = tar.subarray(o + BLOCK, o + BLOCK + size);
    if (type === 'x') {
      pax = new Map([...pax, ...paxRecords(data)]);
    } else if (type === 'L') {
      longName = text(data, 0, data.length);
    } else if (type !== 'g' && type !== 'K') {
      const prefix = text(h, 345, 155);
      const name = pax.get('path') ?? longName ?? (prefix ? `${prefix}/${text(h, 0, 100)}` : text(h, 0, 100));
      out.push({
        start,
        end: dataEnd,
        path: joinPath(splitPath(name)),
        type,
        mode: number(h, 100, 8) & 0o7777,
        uid: Number(pax.get('uid') ?? number(h, 108, 8)),
        gid: Number(pax.get('gid') ?? number(h, 116, 8)),
      });
      start = -1;
      pax = new Map();
      longName = undefined;
    }
    o = dataEnd;
  }
  return out;
}

/** The layer tar without the directories BuildKit's differ would not record; `tar` itself when there are none (or it cannot be read). */
export function dropUnchangedDirs(tar: Uint8Array, lower: SourceFs): Uint8Array {
  const all = entries(tar);
  if (!all) return tar;
  // How many entries kept lie under each directory.
  const under = new Map<string, number>();
  const count = (path: string, by: number) => {
    const parts = splitPath(path);
    for (let i = 0; i < parts.length; i++) {
      const dir = joinPath(parts.slice(0, i));
      under.set(dir, (under.get(dir) ?? 0) + by);
    }
  };
  for (const e of all) count(e.path, 1);
  const dropped = new Set<Entry>();
  // Deepest first, so a directory whose only children were dropped can go too.
  const dirs = all.filter((e) => e.type === '5' && e.path !== '/').sort((a, b) => splitPath(b.path).length - splitPath(a.path).length);
  for (const d of dirs) {
    if (under.get(d.path)) continue;
    const node = lower.lstat(d.path);
    if (node?.type !== 'dir' || (node.mode & 0o7777) !== d.mode || node.uid !== d.uid || node.gid !== d.gid) continue;
    dropped.add(d);
    count(d.path, -1);
  }
  if (!dropped.size) return tar;
  const kept = all.filter((e) => !dropped.has(e));
  const out = new Uint8Array(kept.reduce((n, e) => n + e.end - e.start, 0) + 2 * BLOCK);
  let o = 0;
  for (const e of kept) {
    out.set(tar.subarray(e.start, e.end), o);
    o += e.end - e.start;
  }
  return out;
}

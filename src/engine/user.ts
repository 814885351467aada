import type { GuestFs } from '../vm/guest-fs.js';
import { invalidArgument } from './errors.js';
import type { ResolvedUser } from './runtime-spec.js';

/**
 * Resolves Docker's `--user` forms (`uid`, `uid:gid`, `name`, `name:group`)
 * against the image's /etc/passwd and /etc/group, read from its layers in the
 * 9p tree, top layer first, as the overlay would show them.
 */
export async function resolveUser(fs: GuestFs, layerDirsTopFirst: string[], spec: string | undefined): Promise<ResolvedUser> {
  const passwd = parseColonFile(await readMerged(fs, layerDirsTopFirst, '/etc/passwd'));
  const group = parseColonFile(await readMerged(fs, layerDirsTopFirst, '/etc/group'));
  const [userPart = '', groupPart] = (spec ?? '').split(':', 2);

  let uid = 0;
  let gid: number | undefined;
  let home: string | undefined;
  let name: string | undefined;
  if (userPart === '') {
    uid = 0;
  } else if (/^\d+$/.test(userPart)) {
    uid = Number(userPart);
    const entry = passwd.find((p) => Number(p[2]) === uid);
    if (entry) {
      gid = Number(entry[3]);
      home = entry[5];
      name = entry[0];
    }
  } else {
    const entry = passwd.find((p) => p[0] === userPart);
    if (!entry) throw invalidArgument(`unable to find user ${userPart}: no matching entries in passwd file`);
    uid = Number(entry[2]);
    gid = Number(entry[3]);
    home = entry[5];
    name = entry[0];
  }
  if (uid === 0 && !home) {
    const root = passwd.find((p) => p[2] === '0');
    home = root?.[5] ?? '/root';
    gid = gid ?? (root ? Number(root[3]) : 0);
    name = name ?? root?.[0];
  }
  if (groupPart !== undefined && groupPart !== '') {
    if (/^\d+$/.test(groupPart)) gid = Number(groupPart);
    else {
      const g = group.find((x) => x[0] === groupPart);
      if (!g) throw invalidArgument(`unable to find group ${groupPart}: no matching entries in group file`);
      gid = Number(g[2]);
    }
  }
  const additionalGids = name
    ? group.filter((g) => (g[3] ?? '').split(',').includes(name!)).map((g) => Number(g[2])).filter((g) => g !== gid)
    : [];
  return { uid, gid: gid ?? 0, additionalGids, ...(home ? { home } : {}) };
}

function parseColonFile(text: string | undefined): string[][] {
  if (!text) return [];
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(':'));
}

async function readMerged(fs: GuestFs, layersTopFirst: string[], path: string): Promise<string | undefined> {
  for (const layer of layersTopFirst) {
    const st = fs.stat(layer + path);
    if (!st) continue;
    if ((st.mode & 0o170000) !== 0o100000) return undefined; // whiteout or not a file
    return new TextDecoder().decode(await fs.readFile(layer + path));
  }
  return undefined;
}

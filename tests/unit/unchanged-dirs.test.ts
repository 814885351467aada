import { packTar, unpackTar, type TarEntry } from 'modern-tar';
import { describe, expect, it } from 'vitest';
import { dropUnchangedDirs } from '../../src/engine/build/unchanged-dirs.js';
import { ContextFs, type SourceNode } from '../../src/engine/build/source-fs.js';

/** A RUN layer without the directories only copied up (BuildKit's overlay differ leaves them out). */

const dir = (extra: Partial<SourceNode> = {}): SourceNode => ({ type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 1000, ...extra });
const d = (name: string, mode = 0o755, uid = 0, gid = 0): TarEntry => ({ header: { name: `${name}/`, type: 'directory', mode, uid, gid, size: 0 } });
const f = (name: string, text = 'x'): TarEntry => ({ header: { name, type: 'file', mode: 0o644, uid: 0, gid: 0, size: text.length }, body: text });

/** The lower layers: /etc, /var, /var/lib (0755 root), /home/app (0700, 1000:1000). */
function lower(): ContextFs {
  const t = ContextFs.empty();
  for (const [p, n] of Object.entries({ '/etc': dir(), '/var': dir(), '/var/lib': dir(), '/home': dir(), '/home/app': dir({ mode: 0o700, uid: 1000, gid: 1000 }) })) t.add(p, n);
  return t;
}

const names = async (tar: Uint8Array) => (await unpackTar(tar)).map((e) => e.header.name);

describe('dropUnchangedDirs', () => {
  it('leaves out directories only copied up, keeps the parents of a change and changed directories', async () => {
    const tar = await packTar([d('etc'), d('var'), d('var/lib'), d('var/lib/new'), d('home'), d('home/app', 0o755, 1000, 1000), d('tmp2'), d('usr'), f('usr/x')]);
    const out = dropUnchangedDirs(tar, lower());
    // etc, var/lib's parent var and var/lib: unchanged and empty; var/lib/new and tmp2: new; home/app: its mode changed; usr: a parent.
    expect(await names(out)).toEqual(['var/', 'var/lib/', 'var/lib/new/', 'home/', 'home/app/', 'tmp2/', 'usr/', 'usr/x']);
  });

  it('a layer of unchanged directories alone becomes an empty tar', async () => {
    const out = dropUnchangedDirs(await packTar([d('etc'), d('var'), d('var/lib')]), lower());
    expect(out).toEqual(new Uint8Array(1024));
  });

  it('keeps a tar with nothing to leave out as it is, and reads PAX headers', async () => {
    const long = `var/${'x'.repeat(120)}`;
    const tar = await packTar([d('var'), f(long, 'data')]);
    expect(dropUnchangedDirs(tar, lower())).toBe(tar);
    const noParent = await packTar([d('etc'), f(long, 'data')]);
    expect(await names(dropUnchangedDirs(noParent, lower()))).toEqual([long]);
  });
});

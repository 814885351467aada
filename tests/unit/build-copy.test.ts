import { describe, expect, it } from 'vitest';
import { planCopy, CopyError, type CopyRequest } from '../../src/engine/build/copy.js';
import { goMatch, BadPatternError } from '../../src/engine/build/go-match.js';
import { ContextFs, realPath, type SourceNode } from '../../src/engine/build/source-fs.js';

/** COPY's rules (Docker's), planned against small trees: a context and an image's tree. */

const file = (text: string, extra: Partial<SourceNode> = {}) => ({ type: 'file' as const, mode: 0o644, uid: 501, gid: 20, size: text.length, mtime: 1000, data: new TextEncoder().encode(text), ...extra });
const dir = (extra: Partial<SourceNode> = {}) => ({ type: 'dir' as const, mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 1000, ...extra });
const link = (target: string) => ({ type: 'symlink' as const, mode: 0o777, uid: 0, gid: 0, size: 0, mtime: 1000, linkname: target });

function tree(nodes: Record<string, ReturnType<typeof file> | ReturnType<typeof dir> | ReturnType<typeof link>>): ContextFs {
  const t = ContextFs.empty();
  for (const [p, n] of Object.entries(nodes)) t.add(p, n);
  return t;
}

/** An image with /bin -> usr/bin, /etc (0755), /home/app owned by 1000 (0700). */
const image = () =>
  tree({
    '/usr/bin': dir(),
    '/bin': link('usr/bin'),
    '/etc': dir(),
    '/etc/passwd': file('root:x:0:0::/root:/bin/sh\n', { uid: 0, gid: 0 }),
    '/home/app': dir({ uid: 1000, gid: 1000, mode: 0o700 }),
  });

const context = () =>
  tree({
    '/hello.txt': file('hello\n'),
    '/a.txt': file('a'),
    '/b.txt': file('b'),
    '/src/main.c': file('int main;'),
    '/src/lib/util.c': file('util'),
    '/escape': link('/etc/passwd'),
  });

async function plan(req: Partial<CopyRequest> & { sources: string[]; dest: string }, src = context(), target = image()) {
  const { entries, digest } = await planCopy({ fs: src, keepOwners: false }, target, { now: 2000, ...req });
  return { digest, entries: entries.map((e) => `${e.header.name} ${e.header.type} ${e.header.mode!.toString(8)} ${e.header.uid}:${e.header.gid}${e.header.linkname ? ` -> ${e.header.linkname}` : ''}`) };
}

describe('COPY into an image', () => {
  it('a file into an existing directory keeps its name; parents are carried up with their metadata', async () => {
    expect((await plan({ sources: ['hello.txt'], dest: '/home/app/' })).entries).toEqual(['home/ directory 755 0:0', 'home/app/ directory 700 1000:1000', 'home/app/hello.txt file 644 0:0']);
  });

  it('a file to a new path takes that name; missing parents are made 0755, owned by --chown', async () => {
    expect((await plan({ sources: ['hello.txt'], dest: '/opt/app/greeting', owner: { uid: 7, gid: 8 } })).entries).toEqual([
      'opt/ directory 755 7:8',
      'opt/app/ directory 755 7:8',
      'opt/app/greeting file 644 7:8',
    ]);
  });

  it('a destination through a symlink lands where the link points, inside the image', async () => {
    expect((await plan({ sources: ['hello.txt'], dest: '/bin/' })).entries).toEqual(['usr/ directory 755 0:0', 'usr/bin/ directory 755 0:0', 'usr/bin/hello.txt file 644 0:0']);
  });

  it("a directory's contents are copied, not the directory; --chmod applies to what is copied", async () => {
    expect((await plan({ sources: ['src'], dest: '/app', mode: 0o750 })).entries).toEqual([
      'app/ directory 750 0:0',
      'app/lib/ directory 750 0:0',
      'app/lib/util.c file 750 0:0',
      'app/main.c file 750 0:0',
    ]);
  });

  it('globs and several sources need a directory destination ending in /', async () => {
    expect((await plan({ sources: ['*.txt'], dest: '/x/' })).entries).toEqual(['x/ directory 755 0:0', 'x/a.txt file 644 0:0', 'x/b.txt file 644 0:0', 'x/hello.txt file 644 0:0']);
    await expect(plan({ sources: ['a.txt', 'b.txt'], dest: '/x' })).rejects.toThrow('When using COPY with more than one source file, the destination must be a directory and end with a /');
  });

  it('a missing source names the path; a link named as a source resolves inside the context only', async () => {
    await expect(plan({ sources: ['missing.txt'], dest: '/' })).rejects.toThrow(new CopyError('"/missing.txt": not found'));
    await expect(plan({ sources: ['../../hello.txt'], dest: '/x' })).resolves.toMatchObject({ entries: ['x file 644 0:0'] });
    await expect(plan({ sources: ['escape'], dest: '/x' })).rejects.toThrow(/not found/);
  });

  it('links inside a copied tree stay links', async () => {
    expect((await plan({ sources: ['.'], dest: '/c/' }, tree({ '/l': link('/etc/passwd'), '/up': link('../../..') }))).entries).toEqual([
      'c/ directory 755 0:0',
      'c/l symlink 777 0:0 -> /etc/passwd',
      'c/up symlink 777 0:0 -> ../../..',
    ]);
  });

  it('the digest changes with content and not with mtimes', async () => {
    const a = await plan({ sources: ['hello.txt'], dest: '/' });
    const b = await plan({ sources: ['hello.txt'], dest: '/' }, tree({ '/hello.txt': file('hello\n', { mtime: 5 }) }));
    const c = await plan({ sources: ['hello.txt'], dest: '/' }, tree({ '/hello.txt': file('HELLO\n') }));
    expect(a.digest).toBe(b.digest);
    expect(a.digest).not.toBe(c.digest);
  });

  it('refuses to put a file where the image has a directory', async () => {
    await expect(plan({ sources: ['hello.txt'], dest: '/etc/passwd/x' })).rejects.toThrow(/not a directory/);
  });
});

describe('symlinks resolve inside their tree', () => {
  it('absolute and relative links, and .. that stops at the root', () => {
    const t = tree({ '/usr/bin': dir(), '/bin': link('/usr/bin'), '/rel': link('usr/../bin'), '/loop': link('/loop') });
    expect(realPath(t, '/bin/sh')).toBe('/usr/bin/sh');
    expect(realPath(t, '/rel/x')).toBe('/usr/bin/x');
    expect(realPath(t, '/../../bin')).toBe('/usr/bin');
    expect(() => realPath(t, '/loop/x')).toThrow(/too many levels of symbolic links/);
    expect(realPath(t, '/bin', false)).toBe('/bin');
  });
});

describe("Go's filepath.Match (COPY sources)", () => {
  it.each([
    ['*.txt', 'a.txt', true],
    ['*.txt', '.hidden.txt', true],
    ['*', 'a/b', false],
    ['a?c', 'abc', true],
    ['[a-c]x', 'bx', true],
    ['[^a-c]x', 'bx', false],
    ['\\*', '*', true],
    ['{a,b}', 'a', false],
  ])('%s matches %s: %s', (pattern, name, expected) => {
    expect(goMatch(pattern, name)).toBe(expected);
  });

  it('a malformed class is an error', () => {
    expect(() => goMatch('[a-', 'a')).toThrow(BadPatternError);
    expect(() => goMatch('[]', 'a')).toThrow(BadPatternError);
  });
});

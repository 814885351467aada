import { describe, expect, it } from 'vitest';
import { isBerthError } from '../../src/engine/errors.js';
import { DockerIgnore, DockerIgnoreError } from '../../src/engine/build/dockerignore.js';

/** The paths of `paths` the .dockerignore text leaves out. */
const ignored = (text: string, paths: string[]): string[] => {
  const ig = new DockerIgnore(text);
  return paths.filter((p) => ig.ignores(p));
};

const refusal = (text: string): DockerIgnoreError => {
  try {
    new DockerIgnore(text);
  } catch (e) {
    if (e instanceof DockerIgnoreError) return e;
    throw e;
  }
  throw new Error('accepted');
};

describe('DockerIgnore: reading the file', () => {
  it('comments, blank lines, blanks around patterns; a # after blanks is a pattern', () => {
    const ig = new DockerIgnore('# comment\n\n   \n  secret.txt  \n\t# not a comment\n#also a comment\n');
    expect(ig.patterns).toEqual(['secret.txt', '# not a comment']);
    expect(ig.ignores('secret.txt')).toBe(true);
    expect(ig.ignores('# not a comment')).toBe(true);
    expect(ig.ignores('comment')).toBe(false);
  });

  it('patterns are relative to the root and cleaned: leading / and ./, trailing /, // and ..', () => {
    const ig = new DockerIgnore('/abs\n./dot\ntrailing/\na//b/../c\n! /keep/me/\n../outside\n');
    expect(ig.patterns).toEqual(['abs', 'dot', 'trailing', 'a/c', '!keep/me', '../outside']);
    expect(ignored('/abs\n./dot\ntrailing/\na//b/../c\n', ['abs', 'dot', 'trailing/x', 'a/c', 'a/b'])).toEqual(['abs', 'dot', 'trailing/x', 'a/c']);
  });

  it('paths are read the same way: /a, ./a, a/ are a', () => {
    const ig = new DockerIgnore('a\n');
    expect(['a', '/a', './a', 'a/', 'a/x', '/a/x/y'].map((p) => ig.ignores(p))).toEqual([true, true, true, true, true, true]);
    expect(ig.ignores('.')).toBe(false);
    expect(ig.ignores('')).toBe(false);
  });

  it('a byte order mark and CRLF line endings', () => {
    expect(new DockerIgnore('\uFEFFa\r\nb\r\n').patterns).toEqual(['a', 'b']);
  });

  it('an empty file ignores nothing', () => {
    expect(ignored('', ['a', 'Dockerfile', '.git/HEAD'])).toEqual([]);
  });
});

describe('DockerIgnore: matching', () => {
  const tree = ['README.md', 'docs', 'docs/README.md', 'docs/guide.md', 'docs/img/a.png', 'src', 'src/main.go', 'src/pkg/util.go', 'src/pkg/util_test.go', 'temp', 'tempa', 'temp.txt', 'a/temp', 'a/tempdir/x', 'a/b/temp.log', 'node_modules/x/index.js', '.git/HEAD', 'Dockerfile', '.dockerignore'];

  it('* and ? stay within one path element', () => {
    expect(ignored('*.md', tree)).toEqual(['README.md']);
    expect(ignored('temp?', tree)).toEqual(['tempa']);
    expect(ignored('*/temp*', tree)).toEqual(['a/temp', 'a/tempdir/x']);
    expect(ignored('*/*/temp*', tree)).toEqual(['a/b/temp.log']);
  });

  it('a pattern matching a directory excludes everything under it', () => {
    expect(ignored('node_modules\n.git\ndocs/img', tree)).toEqual(['docs/img/a.png', 'node_modules/x/index.js', '.git/HEAD']);
    expect(ignored('src/pkg', tree)).toEqual(['src/pkg/util.go', 'src/pkg/util_test.go']);
  });

  it('** matches any number of directories, none included', () => {
    expect(ignored('**/*.go', tree)).toEqual(['src/main.go', 'src/pkg/util.go', 'src/pkg/util_test.go']);
    expect(ignored('**/README.md', tree)).toEqual(['README.md', 'docs/README.md']);
    expect(ignored('src/**/*_test.go', tree)).toEqual(['src/pkg/util_test.go']);
    expect(ignored('docs/**', tree)).toEqual(['docs/README.md', 'docs/guide.md', 'docs/img/a.png']); // not docs itself
    expect(ignored('**', tree)).toEqual(tree);
    // A leading ** is a suffix match (patternmatcher): **temp.log matches a/b/temp.log.
    expect(ignored('**temp.log', tree)).toEqual(['a/b/temp.log']);
  });

  it('character classes, negated classes and escapes', () => {
    expect(ignored('temp[a.]*', tree)).toEqual(['tempa', 'temp.txt']);
    expect(ignored('temp[^a]*', tree)).toEqual(['temp.txt']);
    expect(ignored('src/pkg/util[_\\-]test.go', tree)).toEqual(['src/pkg/util_test.go']);
    expect(ignored('a\\*b\n\\[x]', ['a*b', 'axb', '[x]', 'x'])).toEqual(['a*b', '[x]']);
    expect(ignored('[\\]a]', [']', 'a', 'b'])).toEqual([']', 'a']);
  });

  it('characters that mean something to regular expressions are literal', () => {
    expect(ignored('a+b\n(x|y)\nc.d\n$e\nf^g\n{h}', ['a+b', 'aab', '(x|y)', 'x', 'c.d', 'cxd', '$e', 'f^g', '{h}'])).toEqual(['a+b', '(x|y)', 'c.d', '$e', 'f^g', '{h}']);
    expect(ignored('dist/*.whl', ['dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl'])).toHaveLength(1);
  });

  it('matching is case-sensitive', () => {
    expect(ignored('readme.md', tree)).toEqual([]);
  });

  it('! exceptions: the last matching line wins', () => {
    expect(ignored('*.md\n!README.md', tree)).toEqual([]);
    expect(ignored('*.md\n!README*.md\nREADME-secret.md', ['README.md', 'README-secret.md', 'CHANGES.md'])).toEqual(['README-secret.md', 'CHANGES.md']);
    expect(ignored('!README.md\n*.md', tree)).toEqual(['README.md']); // an exception before the pattern changes nothing
    expect(ignored('**/*.md\n!docs/**', tree)).toEqual(['README.md']);
  });

  it('an exception re-includes a path inside an excluded directory', () => {
    const ig = new DockerIgnore('docs\n!docs/README.md\n');
    expect(['docs', 'docs/README.md', 'docs/guide.md'].map((p) => ig.ignores(p))).toEqual([true, false, true]);
    expect(ignored('**\n!src/pkg', tree)).toEqual(tree.filter((p) => !p.startsWith('src/pkg')));
  });

  it('BuildKit honours it for the Dockerfile and .dockerignore themselves', () => {
    expect(ignored('Dockerfile\n.dockerignore\n', tree)).toEqual(['Dockerfile', '.dockerignore']);
    expect(ignored('*\n!src', ['Dockerfile', '.dockerignore', 'src/main.go'])).toEqual(['Dockerfile', '.dockerignore']);
  });
});

describe('DockerIgnore: skipping a whole directory', () => {
  it('an excluded directory with no exceptions at all is skipped', () => {
    const ig = new DockerIgnore('node_modules\n*.log\n');
    expect(ig.skipsDirectory('node_modules')).toBe(true);
    expect(ig.skipsDirectory('node_modules/x')).toBe(true);
    expect(ig.skipsDirectory('src')).toBe(false); // not excluded
  });

  it('not when an exception names a path inside it', () => {
    const ig = new DockerIgnore('docs\nbuild\n!docs/README.md\n!build/keep/**\n');
    expect(ig.skipsDirectory('docs')).toBe(false);
    expect(ig.skipsDirectory('build')).toBe(false);
    expect(ig.skipsDirectory('build/other')).toBe(true);
    expect(ig.skipsDirectory('build/keep')).toBe(false); // not excluded (re-included)
  });

  it('an exception elsewhere does not stop it', () => {
    const ig = new DockerIgnore('node_modules\n!src/keep.txt\n');
    expect(ig.skipsDirectory('node_modules')).toBe(true);
    expect(ig.skipsDirectory('/node_modules/')).toBe(true);
  });

  it('never while any exception has a wildcard (it could match anything)', () => {
    const ig = new DockerIgnore('node_modules\n!**/*.md\n');
    expect(ig.ignores('node_modules/x/index.js')).toBe(true);
    expect(ig.ignores('node_modules/x/README.md')).toBe(false);
    expect(ig.skipsDirectory('node_modules')).toBe(false);
  });
});

describe('DockerIgnore: patterns Docker refuses', () => {
  it.each([
    ['[', 1],
    ['ok\n# c\nsrc/[abc', 3],
    ['a[', 1],
    ['[^', 1],
    ['[]a]', 1],
    ['[-x]', 1],
    ['[x-]', 1],
    ['[a-b-c]', 1],
    ['[z-a]', 1],
    ['x\\', 1],
    ['ok\n!\\', 2],
  ])('%j: syntax error in pattern, naming its line', (text, line) => {
    const e = refusal(text);
    expect(e.line).toBe(line);
    expect(e.reason).toBe('syntax error in pattern');
    expect(e.message).toBe(`.dockerignore line ${line}: syntax error in pattern: ${JSON.stringify(text.split('\n')[line - 1])}`);
    expect(isBerthError(e, 'invalid-argument')).toBe(true);
  });

  it('a lone !', () => {
    expect(refusal('a\n!\n').message).toBe('.dockerignore line 2: illegal exclusion pattern: "!": "!"');
    expect(refusal('!  ').line).toBe(1);
  });
});

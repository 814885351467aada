/**
 * .dockerignore: which paths of the build context Docker leaves out, by the
 * rules of moby/patternmatcher (`ignorefile.ReadAll`, `New`,
 * `MatchesOrParentMatches`) and tonistiigi/fsutil's walk, which BuildKit
 * sends the context with.
 *
 * - One pattern a line; a line starting with `#` is a comment; blanks around
 *   a pattern are dropped, blank lines skipped; a UTF-8 BOM is dropped.
 * - Patterns are relative to the context root and cleaned as Go's
 *   filepath.Clean does: `/a`, `./a`, `a/` and `a//b/../` mean `a`.
 * - `*` any run of characters but `/`, `?` one character but `/`, `[a-z]`
 *   `[^abc]` a class (filepath.Match's syntax), `\` escapes; `**` any number
 *   of directories, none included (`**` then `/x` matches `x` too; a leading
 *   `**` matches any path ending so, as patternmatcher's suffix match does).
 * - A pattern that matches a directory excludes everything under it.
 * - `!pattern` re-includes what it matches; the last matching line wins.
 *
 * BuildKit applies the patterns to every path, the Dockerfile and
 * `.dockerignore` included: both are still read (the Dockerfile comes in
 * apart from the context) but a `COPY . .` leaves them out when they are
 * listed. (The classic builder kept them: `TrimBuildFilesFromExcludes`.)
 *
 * Not @balena/dockerignore: it needs Node's `path` (the engine runs in a
 * Worker too), matches case-insensitively by default, follows moby 19.03's
 * rules (one parent directory checked), and hands `[`, `+`, `(`, `|` to a
 * RegExp unescaped, so `a+b` is a regular expression and an unclosed `[`
 * throws a SyntaxError on the first path matched.
 */
import { BerthError } from '../errors.js';

/** A pattern Docker refuses: the line (1-based), the pattern, and Docker's reason (`syntax error in pattern`). */
export class DockerIgnoreError extends BerthError {
  constructor(
    readonly line: number,
    readonly pattern: string,
    readonly reason: string,
  ) {
    super('invalid-argument', `.dockerignore line ${line}: ${reason}: ${JSON.stringify(pattern)}`);
  }
}

type Match = { kind: 'exact' | 'prefix' | 'suffix'; text: string } | { kind: 'regexp'; re: RegExp };

interface Rule {
  /** As Docker keeps it: cleaned, without the `!`. */
  pattern: string;
  exclusion: boolean;
  match: Match;
}

export class DockerIgnore {
  /** The patterns as Docker passes them on (cleaned; `!` before an exception), in order. */
  readonly patterns: readonly string[];
  private readonly rules: Rule[] = [];
  /** No exception has a wildcard (besides a trailing `/*` or `/**`): an excluded directory can be skipped whole unless an exception names a path inside it. */
  private readonly onlyPrefixExceptions: boolean;

  /** Reads the text of a .dockerignore; throws DockerIgnoreError for a pattern Docker refuses. */
  constructor(text: string) {
    const patterns: string[] = [];
    const lines = text.replace(/^\uFEFF/, '').split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    lines.forEach((rawLine, i) => {
      const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
      if (line.startsWith('#')) return;
      let pattern = goTrimSpace(line);
      if (pattern === '') return;
      // ignorefile.ReadAll: relative to the root, cleaned, `!` kept in front.
      const invert = pattern.startsWith('!');
      if (invert) pattern = goTrimSpace(pattern.slice(1));
      if (pattern.length > 0) {
        pattern = cleanPath(pattern);
        if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
      }
      const kept = invert ? `!${pattern}` : pattern;
      patterns.push(kept);
      // patternmatcher.New
      const cleaned = cleanPath(kept);
      const exclusion = cleaned.startsWith('!');
      if (exclusion && cleaned.length === 1) throw new DockerIgnoreError(i + 1, line, 'illegal exclusion pattern: "!"');
      const body = exclusion ? cleaned.slice(1) : cleaned;
      let match: Match;
      try {
        match = compile(body);
      } catch (e) {
        if (e instanceof BadPattern) throw new DockerIgnoreError(i + 1, line, 'syntax error in pattern');
        throw e;
      }
      this.rules.push({ pattern: body, exclusion, match });
    });
    this.patterns = patterns;
    this.onlyPrefixExceptions = this.rules.every((r) => !r.exclusion || !/[*[\]?^\\]/.test(withoutTrailingGlob(r.pattern)));
  }

  /**
   * Whether Docker leaves the path out (MatchesOrParentMatches): the last
   * pattern matching it or one of its parent directories decides. The path
   * is relative to the context root (`a/b`; `/a/b` and `./a/b` are read so).
   */
  ignores(path: string): boolean {
    const file = cleanPath(path.replace(/^\/+/, ''));
    if (file === '.' || file === '/') return false;
    // Its parent directories, outermost first: `a`, `a/b` for `a/b/c`.
    const parents: string[] = [];
    for (let i = file.indexOf('/'); i >= 0; i = file.indexOf('/', i + 1)) parents.push(file.slice(0, i));
    let matched = false;
    for (const rule of this.rules) {
      // An exception matters only once something matched, another pattern only while nothing has.
      if (rule.exclusion !== matched) continue;
      const match = matches(rule.match, file) || parents.some((dir) => matches(rule.match, dir));
      if (match) matched = !rule.exclusion;
    }
    return matched;
  }

  /**
   * Whether the context packer may skip the directory without looking
   * inside: it is excluded and no exception could re-include something
   * under it (fsutil's walk: true only when every exception is a plain path,
   * optionally ending in `/*` or `/**`, and none lies inside the directory).
   * When false, the packer walks the directory and asks `ignores` for each
   * entry.
   */
  skipsDirectory(dir: string): boolean {
    if (!this.ignores(dir)) return false;
    if (!this.onlyPrefixExceptions) return false;
    const dirSlash = `${cleanPath(dir.replace(/^\/+/, ''))}/`;
    return !this.rules.some((r) => r.exclusion && `${withoutTrailingGlob(r.pattern)}/`.startsWith(dirSlash));
  }
}

// ---------------------------------------------------------------- paths

/** Go's strings.TrimSpace (ASCII and Unicode blanks). */
function goTrimSpace(s: string): string {
  return s.replace(/^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g, '');
}

/** Go's filepath.Clean with `/` separators. */
function cleanPath(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = (rooted ? '/' : '') + out.join('/');
  return joined === '' ? '.' : joined;
}

function withoutTrailingGlob(pattern: string): string {
  let p = pattern;
  if (p.endsWith('/**')) p = p.slice(0, -3);
  if (p.endsWith('/*')) p = p.slice(0, -2);
  return p;
}

// ---------------------------------------------------------------- patterns

class BadPattern extends Error {}

function matches(m: Match, path: string): boolean {
  switch (m.kind) {
    case 'exact':
      return path === m.text;
    case 'prefix':
      return path.startsWith(m.text);
    case 'suffix':
      // `**/foo` also matches `foo` itself.
      return path.endsWith(m.text) || (m.text.startsWith('/') && path === m.text.slice(1));
    case 'regexp':
      return m.re.test(path);
  }
}

const reEscape = (c: string): string => `\\u{${c.codePointAt(0)!.toString(16)}}`;

/**
 * patternmatcher's compile: a plain pattern compares as a string (whole,
 * a prefix for a trailing `**`, a suffix for a leading `**`), any other
 * becomes a regular expression. Character classes and escapes are read as
 * filepath.Match reads them (patternmatcher passes them to Go's regexp as
 * written, which agrees for ordinary classes; `^` and `\d` outside a class
 * mean filepath.Match's literal characters here, not regexp syntax).
 * Malformed patterns (as filepath.Match finds them) throw BadPattern.
 */
function compile(pattern: string): Match {
  const chars = Array.from(pattern);
  let re = '^';
  let kind: 'exact' | 'prefix' | 'suffix' | 'regexp' = 'exact';
  for (let i = 0; i < chars.length; i++) {
    const start = i;
    const c = chars[i]!;
    if (c === '*') {
      if (chars[i + 1] === '*') {
        i++;
        if (chars[i + 1] === '/') i++; // `**/` is `**`
        if (i + 1 >= chars.length) {
          // A trailing `**` matches everything (as .gitignore).
          if (kind === 'exact') kind = 'prefix';
          else {
            re += '[^\\n]*';
            kind = 'regexp';
          }
        } else {
          re += '(?:[^\\n]*/)?';
          kind = 'regexp';
        }
        if (start === 0) kind = 'suffix';
      } else {
        re += '[^/]*';
        kind = 'regexp';
      }
    } else if (c === '?') {
      re += '[^/]';
      kind = 'regexp';
    } else if (c === '\\') {
      if (i + 1 >= chars.length) throw new BadPattern();
      re += reEscape(chars[++i]!);
      kind = 'regexp';
    } else if (c === '[') {
      const cls = readClass(chars, i + 1);
      re += cls.source;
      i = cls.end;
      kind = 'regexp';
    } else {
      re += reEscape(c);
    }
  }
  switch (kind) {
    case 'exact':
      return { kind, text: pattern };
    case 'prefix':
      return { kind, text: pattern.slice(0, -2) };
    case 'suffix':
      return { kind, text: pattern.slice(2) };
    case 'regexp':
      return { kind, re: new RegExp(`${re}$`, 'u') };
  }
}

/** A `[...]` class from just after its `[`: filepath.Match's grammar (`^` negates, `a-z` ranges, `\` escapes, at least one range). */
function readClass(chars: string[], from: number): { source: string; end: number } {
  let i = from;
  let negated = false;
  if (chars[i] === '^') {
    negated = true;
    i++;
  }
  const ranges: Array<[number, number]> = [];
  const endpoint = (): number => {
    let c = chars[i];
    if (c === undefined || c === '-' || c === ']') throw new BadPattern();
    if (c === '\\') {
      c = chars[++i];
      if (c === undefined) throw new BadPattern();
    }
    i++;
    if (i >= chars.length) throw new BadPattern(); // the class must still close
    return c.codePointAt(0)!;
  };
  for (;;) {
    if (chars[i] === ']' && ranges.length > 0) break;
    const lo = endpoint();
    let hi = lo;
    if (chars[i] === '-') {
      i++;
      hi = endpoint();
    }
    ranges.push([lo, hi]);
  }
  // `[z-a]` matches nothing for filepath.Match; Go's regexp (which Docker matches with) refuses it.
  if (ranges.some(([lo, hi]) => lo > hi)) throw new BadPattern();
  const body = ranges.map(([lo, hi]) => (lo === hi ? reEscape(String.fromCodePoint(lo)) : `${reEscape(String.fromCodePoint(lo))}-${reEscape(String.fromCodePoint(hi))}`)).join('');
  return { source: `[${negated ? '^' : ''}${body}]`, end: i };
}

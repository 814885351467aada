/**
 * Go's `filepath.Match`, which Docker uses for COPY and ADD sources: `*`
 * (any run of characters but `/`), `?`, `[abc]`, `[a-z]`, `[^a]`, and `\`
 * escapes. No `**` and no braces: Docker has neither in sources, so the glob
 * libraries on npm (which add them, and hide dotfiles from `*`) would match
 * what Docker does not.
 */

export class BadPatternError extends Error {
  override readonly name = 'BadPatternError';
}

/** Whether a pattern has glob characters at all. */
export function hasMeta(pattern: string): boolean {
  return /[*?[\\]/.test(pattern);
}

/** Whether `name` (one or more path components) matches `pattern` entirely. */
export function goMatch(pattern: string, name: string): boolean {
  return matchAt(pattern, 0, name, 0);
}

function matchAt(p: string, pi: number, s: string, si: number): boolean {
  while (pi < p.length) {
    const c = p[pi]!;
    if (c === '*') {
      while (p[pi] === '*') pi++;
      if (pi === p.length) return !s.slice(si).includes('/');
      for (let k = si; k <= s.length; k++) {
        if (matchAt(p, pi, s, k)) return true;
        if (s[k] === '/') break;
      }
      return false;
    }
    if (si >= s.length) {
      // Go still reports a malformed rest of the pattern.
      checkRest(p, pi);
      return false;
    }
    if (c === '?') {
      if (s[si] === '/') return false;
      pi++;
      si++;
    } else if (c === '[') {
      const { matched, next } = matchClass(p, pi, s[si]!);
      if (!matched || s[si] === '/') return false;
      pi = next;
      si++;
    } else if (c === '\\') {
      if (pi + 1 >= p.length) throw new BadPatternError('syntax error in pattern');
      if (p[pi + 1] !== s[si]) return false;
      pi += 2;
      si++;
    } else {
      if (c !== s[si]) return false;
      pi++;
      si++;
    }
  }
  return si === s.length;
}

function checkRest(p: string, pi: number): void {
  for (let i = pi; i < p.length; i++) {
    if (p[i] === '[') i = matchClass(p, i, '').next - 1;
    else if (p[i] === '\\') {
      if (i + 1 >= p.length) throw new BadPatternError('syntax error in pattern');
      i++;
    }
  }
}

/** A `[...]` class at p[start]: whether `ch` is in it, and where the pattern goes on. */
function matchClass(p: string, start: number, ch: string): { matched: boolean; next: number } {
  let i = start + 1;
  const negated = p[i] === '^';
  if (negated) i++;
  let matched = false;
  let first = true;
  for (;;) {
    if (i >= p.length) throw new BadPatternError('syntax error in pattern');
    if (p[i] === ']') {
      if (first) throw new BadPatternError('syntax error in pattern');
      i++;
      break;
    }
    first = false;
    let lo = p[i]!;
    if (lo === '-') throw new BadPatternError('syntax error in pattern');
    if (lo === '\\') {
      i++;
      if (i >= p.length) throw new BadPatternError('syntax error in pattern');
      lo = p[i]!;
    }
    i++;
    let hi = lo;
    if (p[i] === '-' && p[i + 1] !== ']') {
      i++;
      if (i >= p.length) throw new BadPatternError('syntax error in pattern');
      hi = p[i]!;
      if (hi === '\\') {
        i++;
        if (i >= p.length) throw new BadPatternError('syntax error in pattern');
        hi = p[i]!;
      }
      i++;
      if (hi < lo) throw new BadPatternError('syntax error in pattern');
    }
    if (ch !== '' && lo <= ch && ch <= hi) matched = true;
  }
  return { matched: matched !== negated, next: i };
}

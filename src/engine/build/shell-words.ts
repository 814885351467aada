/**
 * Docker's word expansion: what BuildKit's Dockerfile frontend does to an
 * instruction's words before it runs it (moby/buildkit
 * `frontend/dockerfile/shell/lex.go`, `ProcessWord` and `ProcessWords`).
 *
 * Not a shell: `$VAR`, `${VAR}` and the modifiers `${VAR:-default}`,
 * `${VAR-default}`, `${VAR:+alt}`, `${VAR+alt}`, `${VAR:?message}`,
 * `${VAR?message}`, `${VAR#glob}`, `${VAR##glob}`, `${VAR%glob}`,
 * `${VAR%%glob}`, `${VAR/glob/repl}`, `${VAR//glob/repl}`; single quotes
 * (literal), double quotes (`$` still expands; the escape character escapes
 * only `"`, `$` and itself), the escape character (`\` or the backtick of
 * `# escape=`) outside quotes escapes any character. Quotes and escapes are
 * removed. An unset variable is empty. No command substitution, no globbing,
 * no tilde. Word splitting (`expandWords`) splits on whitespace outside
 * quotes, including whitespace a variable's value brings.
 *
 * `expandInstruction` applies it where Docker does (see its comment); RUN,
 * CMD, ENTRYPOINT, SHELL and HEALTHCHECK commands are left to the shell in
 * the container.
 */
import { BerthError } from '../errors.js';
import type { Heredoc, Instruction } from './instructions.js';

export type EscapeChar = '\\' | '`';

/** A variable's value, or undefined when it is not set (an empty value is set). */
export type VariableLookup = (name: string) => string | undefined;

/** A word Docker could not expand: `failed to process "${A:?}": A: is not allowed to be unset`. */
export class WordExpansionError extends BerthError {
  constructor(
    readonly word: string,
    /** BuildKit's text for what is wrong: `syntax error: missing '}'`. */
    readonly reason: string,
    /** The Dockerfile line of the instruction, when known. */
    readonly line?: number,
  ) {
    super('invalid-argument', line === undefined ? `failed to process ${goQuote(word)}: ${reason}` : `dockerfile line ${line}: failed to process ${goQuote(word)}: ${reason}`);
  }
}

/** ProcessWord: the word with its variables expanded and its quotes and escapes removed. */
export function expandWord(word: string, lookup: VariableLookup, escape: EscapeChar = '\\'): string {
  return shellLex(word, lookup, { escape }).result;
}

/** ProcessWords: expandWord, then split into words on whitespace outside quotes (EXPOSE `$PORTS`). */
export function expandWords(word: string, lookup: VariableLookup, escape: EscapeChar = '\\'): string[] {
  return shellLex(word, lookup, { escape }).words;
}

export interface LexOptions {
  escape: EscapeChar;
  /** Keep the quote characters in the result (they still group). */
  rawQuotes?: boolean;
  /** Keep the escape characters in the result (they still escape). */
  rawEscapes?: boolean;
  /** Leave `$NAME` and `${NAME...}` of an unset variable as written. */
  skipUnset?: boolean;
  /** Quotes are ordinary characters (a heredoc's body). */
  skipQuotes?: boolean;
}

/**
 * The lexer itself, with BuildKit's switches (the Dockerfile parser finds
 * heredoc words with it). `result` is ProcessWord's string, `words`
 * ProcessWords' list; both come from one pass. Throws WordExpansionError.
 */
export function shellLex(word: string, lookup: VariableLookup, options: LexOptions): { result: string; words: string[] } {
  const lexer = new Lexer(word, lookup, options);
  try {
    return lexer.processStopOn(EOF, options.rawEscapes ?? false);
  } catch (e) {
    if (e instanceof LexError) throw new WordExpansionError(word, e.message);
    throw e;
  }
}

// ---------------------------------------------------------------- the lexer

const EOF = -1;
const cp = (c: string): number => c.codePointAt(0)!;
const DOLLAR = cp('$');
const LT = cp('<');
const SQUOTE = cp("'");
const DQUOTE = cp('"');
const LBRACE = cp('{');
const RBRACE = cp('}');
const COLON = cp(':');
const SLASH = cp('/');

class LexError extends Error {}

/** Go's unicode.IsSpace. */
export function isGoSpace(c: number): boolean {
  if (c <= 0xff) return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0x85 || c === 0xa0;
  return c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000;
}

const LETTER = /\p{L}/u;
const DIGIT = /\p{Nd}/u;
const isLetter = (c: number): boolean => c >= 0 && (c < 0x80 ? (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) : LETTER.test(String.fromCodePoint(c)));
const isDigit = (c: number): boolean => c >= 0 && (c < 0x80 ? c >= 0x30 && c <= 0x39 : DIGIT.test(String.fromCodePoint(c)));
/** POSIX special parameters: never set in a Dockerfile, so they expand to nothing. */
const isSpecialParam = (c: number): boolean => c >= 0 && '@*#?-$!0'.includes(String.fromCodePoint(c));

/** Words as ProcessWords builds them: whitespace from plain text and variables splits, quoted text does not. */
class Words {
  readonly list: string[] = [];
  private buf = '';
  private inWord = false;

  addChar(c: number): void {
    if (isGoSpace(c)) {
      if (this.inWord && this.buf.length > 0) {
        this.list.push(this.buf);
        this.buf = '';
        this.inWord = false;
      }
    } else {
      this.addRawChar(c);
    }
  }
  addRawChar(c: number): void {
    this.buf += String.fromCodePoint(c);
    this.inWord = true;
  }
  addString(s: string): void {
    for (const ch of s) this.addChar(cp(ch));
  }
  addRawString(s: string): void {
    this.buf += s;
    this.inWord = true;
  }
  done(): string[] {
    if (this.buf.length > 0) {
      this.list.push(this.buf);
      this.buf = '';
      this.inWord = false;
    }
    return this.list;
  }
}

class Lexer {
  private readonly chars: number[];
  private pos = 0;
  private readonly escape: number;
  private rawEscapes = false;

  constructor(
    word: string,
    private readonly lookup: VariableLookup,
    private readonly options: LexOptions,
  ) {
    this.chars = Array.from(word, cp);
    this.escape = cp(options.escape);
  }

  private peek(): number {
    return this.pos < this.chars.length ? this.chars[this.pos]! : EOF;
  }
  private next(): number {
    return this.pos < this.chars.length ? this.chars[this.pos++]! : EOF;
  }

  /**
   * Reads to the end, or to `stop` (consumed). BuildKit's version shares one
   * words buffer between nested calls (`${A:-x}` inside a word empties what
   * came before it in ProcessWords); each call has its own here.
   */
  processStopOn(stop: number, rawEscapes: boolean): { result: string; words: string[] } {
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      let result = '';
      const words = new Words();
      while (this.peek() !== EOF) {
        const c = this.peek();
        if (stop !== EOF && c === stop) {
          this.next();
          return { result, words: words.done() };
        }
        if (c === DOLLAR) {
          const value = this.processDollar();
          result += value;
          words.addString(value);
        } else if (c === LT) {
          const value = this.processPossibleHeredoc();
          result += value;
          words.addRawString(value);
        } else if (c === SQUOTE && !this.options.skipQuotes) {
          const value = this.processSingleQuote();
          result += value;
          words.addRawString(value);
        } else if (c === DQUOTE && !this.options.skipQuotes) {
          const value = this.processDoubleQuote();
          result += value;
          words.addRawString(value);
        } else {
          let ch = this.next();
          if (ch === this.escape) {
            if (this.rawEscapes) {
              words.addRawChar(ch);
              result += String.fromCodePoint(ch);
            }
            // The escape character escapes anything; at the very end it is dropped.
            ch = this.next();
            if (ch === EOF) break;
            words.addRawChar(ch);
          } else {
            words.addChar(ch);
          }
          result += String.fromCodePoint(ch);
        }
      }
      if (stop !== EOF) throw new LexError(`unexpected end of statement while looking for matching ${String.fromCodePoint(stop)}`);
      return { result, words: words.done() };
    } finally {
      this.rawEscapes = saved;
    }
  }

  private processSingleQuote(): string {
    // Everything up to the next ' as is; a ' cannot be escaped inside.
    let result = '';
    const open = this.next();
    if (this.options.rawQuotes) result += String.fromCodePoint(open);
    for (;;) {
      const ch = this.next();
      if (ch === EOF) throw new LexError('unexpected end of statement while looking for matching single-quote');
      if (ch === SQUOTE) {
        if (this.options.rawQuotes) result += "'";
        return result;
      }
      result += String.fromCodePoint(ch);
    }
  }

  private processDoubleQuote(): string {
    // Everything up to the next unescaped " as is, except $; the escape
    // character escapes only ", $ and itself and is kept before anything else.
    let result = '';
    const open = this.next();
    if (this.options.rawQuotes) result += String.fromCodePoint(open);
    for (;;) {
      const c = this.peek();
      if (c === EOF) throw new LexError('unexpected end of statement while looking for matching double-quote');
      if (c === DQUOTE) {
        this.next();
        if (this.options.rawQuotes) result += '"';
        return result;
      }
      if (c === DOLLAR) {
        result += this.processDollar();
        continue;
      }
      let ch = this.next();
      if (ch === this.escape) {
        if (this.rawEscapes) result += String.fromCodePoint(ch);
        const after = this.peek();
        if (after === EOF) continue; // the missing " is reported above
        if (after === DQUOTE || after === DOLLAR || after === this.escape) ch = this.next();
      }
      result += String.fromCodePoint(ch);
    }
  }

  private getEnv(name: string): string | undefined {
    return this.lookup(name);
  }

  private processDollar(): string {
    this.next(); // $
    if (this.peek() !== LBRACE) {
      const name = this.processName();
      if (name === '') return '$';
      const value = this.getEnv(name);
      if (value === undefined && this.options.skipUnset) return `$${name}`;
      return value ?? '';
    }
    this.next(); // {
    const first = this.peek();
    if (first === EOF) throw new LexError("syntax error: missing '}'");
    if (first === LBRACE || first === RBRACE || first === COLON) throw new LexError('syntax error: bad substitution');
    const name = this.processName();
    let ch = this.next();
    // BuildKit reports `${NAME` as an unsupported modifier (U+FFFD); the missing brace is what is wrong.
    if (ch === EOF) throw new LexError("syntax error: missing '}'");
    let modifier = String.fromCodePoint(ch);
    if (ch === RBRACE) {
      const value = this.getEnv(name);
      if (value === undefined && this.options.skipUnset) return `\${${name}}`;
      return value ?? '';
    }
    if (ch === SLASH) return this.processReplace(name);
    let nullIsUnset = false;
    if (ch === COLON) {
      nullIsUnset = true;
      ch = this.next();
      modifier += ch === EOF ? '' : String.fromCodePoint(ch);
    } else if (!'+-?#%'.includes(modifier)) {
      throw new LexError(`unsupported modifier (${modifier}) in substitution`);
    }
    const op = ch === EOF ? '' : String.fromCodePoint(ch);
    const rawEscapes = op === '#' || op === '%';
    if (nullIsUnset && rawEscapes) throw new LexError(`unsupported modifier (${modifier}) in substitution`);
    const word = this.readUntil(RBRACE, rawEscapes, "syntax error: missing '}'");

    const value = this.getEnv(name);
    if (value === undefined && this.options.skipUnset) return `\${${name}${modifier}${word}}`;
    const empty = value === undefined || (nullIsUnset && value === '');
    switch (op) {
      case '-':
        return empty ? word : value!;
      case '+':
        return empty ? '' : word;
      case '?':
        if (value === undefined) throw new LexError(`${name}: ${word || 'is not allowed to be unset'}`);
        if (nullIsUnset && value === '') throw new LexError(`${name}: ${word || 'is not allowed to be empty'}`);
        return value;
      case '#':
      case '%': {
        // #/% drop the shortest match, ##/%% the longest.
        let pattern = word;
        let greedy = false;
        if (pattern.startsWith(op)) {
          greedy = true;
          pattern = pattern.slice(1);
        }
        return op === '%' ? trimSuffix(pattern, value ?? '', greedy) : trimPrefix(pattern, value ?? '', greedy);
      }
      default:
        throw new LexError(`unsupported modifier (${modifier}) in substitution`);
    }
  }

  /** `${NAME/pattern/replacement}` and `${NAME//pattern/replacement}` (every match). */
  private processReplace(name: string): string {
    const all = this.peek() === SLASH;
    if (all) this.next();
    const pattern = this.readUntil(SLASH, true, "syntax error: missing '/' in ${}");
    const replacement = this.readUntil(RBRACE, true, "syntax error: missing '}'");
    const value = this.getEnv(name);
    if (value === undefined && this.options.skipUnset) return `\${${name}/${pattern}/${replacement}}`;
    const source = shellPatternSource(pattern, true, false);
    return all ? replaceAll(value ?? '', source, replacement) : replaceFirst(value ?? '', source, replacement);
  }

  private readUntil(stop: number, rawEscapes: boolean, missing: string): string {
    try {
      return this.processStopOn(stop, rawEscapes).result;
    } catch (e) {
      if (e instanceof LexError && this.peek() === EOF) throw new LexError(missing);
      throw e;
    }
  }

  /** A name: letters, digits and _; or one run of digits (positional); or one special parameter. */
  private processName(): string {
    let name = '';
    while (this.peek() !== EOF) {
      const c = this.peek();
      if (name === '' && isDigit(c)) {
        while (this.peek() !== EOF && isDigit(this.peek())) name += String.fromCodePoint(this.next());
        return name;
      }
      if (name === '' && isSpecialParam(c)) return String.fromCodePoint(this.next());
      if (!isLetter(c) && !isDigit(c) && c !== cp('_')) break;
      name += String.fromCodePoint(this.next());
    }
    return name;
  }

  /** `<<` and the blanks after it stay together in one word (heredoc markers: `<< EOF`). */
  private processPossibleHeredoc(): string {
    this.next();
    if (this.peek() !== LT) return '<';
    this.next();
    let result = '<<';
    while (this.peek() === 0x09 || this.peek() === 0x0d || this.peek() === 0x20) result += String.fromCodePoint(this.next());
    return result;
  }
}

// ---------------------------------------------------------------- ${VAR#glob}, ${VAR%glob}, ${VAR/glob/repl}

/** A shell pattern (`*`, `?`, `\` escapes; no brackets) as a regular expression source. */
function shellPatternSource(pattern: string, greedy: boolean, anchored: boolean): string {
  let out = anchored ? '^' : '';
  const star = greedy ? '[^\\n]*' : '[^\\n]*?';
  const chars = Array.from(pattern);
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '*') out += star;
    else if (c === '?') out += '[^\\n]';
    else if (c === '\\') {
      const next = chars[i + 1];
      // `\}` and `\/` are part of ${...}'s syntax, not the pattern.
      if (next === '}' || next === '/') continue;
      if (next !== '*' && next !== '?' && next !== '\\') throw new LexError(`invalid pattern (${pattern}) in substitution: invalid escape '\\${next ?? ''}'`);
      out += `\\${next}`;
      i++;
    } else if ('[]{}.+()|^$'.includes(c)) out += `\\${c}`;
    else out += c;
  }
  return out;
}

function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const m = new RegExp(shellPatternSource(pattern, greedy, true), 'u').exec(value);
  return m ? value.slice(m.index + m[0].length) : value;
}

/** The shortest (or longest) match at the end: both reversed, it is a match at the start. */
function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  const reversed = trimPrefix(reversePattern(pattern), reverse(value), greedy);
  return reverse(reversed);
}

const reverse = (s: string): string => Array.from(s).reverse().join('');

/** Reverses a pattern keeping each escape before the character it escapes (`a\*c` → `c\*a`). */
function reversePattern(pattern: string): string {
  const chars = Array.from(pattern);
  const out: string[] = [];
  for (let i = 0; i < chars.length; ) {
    if (chars[i] === '\\' && i !== chars.length - 1) {
      out.unshift(chars[i]!, chars[i + 1]!);
      i += 2;
    } else {
      out.unshift(chars[i]!);
      i++;
    }
  }
  return out.join('');
}

function replaceFirst(value: string, source: string, replacement: string): string {
  const m = new RegExp(source, 'u').exec(value);
  return m ? value.slice(0, m.index) + replacement + value.slice(m.index + m[0].length) : value;
}

/** Go's Regexp.ReplaceAllString (an empty match right after a match is not replaced), the replacement taken literally. */
function replaceAll(value: string, source: string, replacement: string): string {
  const re = new RegExp(source, 'gu');
  let out = '';
  let lastMatchEnd = 0;
  let searchPos = 0;
  while (searchPos <= value.length) {
    re.lastIndex = searchPos;
    const m = re.exec(value);
    if (!m) break;
    const start = m.index;
    const end = start + m[0].length;
    out += value.slice(lastMatchEnd, start);
    if (end > lastMatchEnd || start === 0) out += replacement;
    lastMatchEnd = end;
    const width = searchPos < value.length ? String.fromCodePoint(value.codePointAt(searchPos)!).length : 1;
    if (searchPos + width > end) searchPos += width;
    else if (searchPos + 1 > end) searchPos++;
    else searchPos = end;
  }
  return out + value.slice(lastMatchEnd);
}

// ---------------------------------------------------------------- instructions

/**
 * The instruction with its words expanded as BuildKit expands them when it
 * dispatches the step (`lookup` gives the variables in force at that step:
 * the stage's ENV and ARG so far, or the global ARGs for FROM; one call
 * sees one set, so all the pairs of one ENV line see the variables as they
 * were before it):
 *
 * - FROM: the image and `--platform` (blank results are errors, as in BuildKit);
 * - COPY, ADD: the source paths, the destination, `--chown`, `--chmod`,
 *   ADD's `--checksum`; a heredoc body whose delimiter was not quoted (with
 *   `\` as escape character and quotes kept, as BuildKit); `--from` is not
 *   expanded: BuildKit refuses a `--from` that would change (`$STAGE`),
 *   so this does too; `--exclude` patterns stay as written;
 * - ENV, LABEL: keys and values; ARG: the defaults (not the names);
 * - EXPOSE: each word, split again on whitespace (`EXPOSE $PORTS`);
 * - STOPSIGNAL, USER, WORKDIR, VOLUME: each word, never split;
 * - RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK, MAINTAINER, ONBUILD: unchanged
 *   (the shell in the container expands commands and RUN heredocs; RUN's
 *   `--mount` values are CSV fields the builder expands one by one, as
 *   BuildKit does, with `expandWord`; an ONBUILD trigger is expanded when
 *   it runs in the build that inherits it).
 *
 * Throws WordExpansionError (with the instruction's line).
 */
export function expandInstruction(inst: Instruction, lookup: VariableLookup, escape: EscapeChar): Instruction {
  try {
    return expandUnlocated(inst, lookup, escape);
  } catch (e) {
    if (e instanceof WordExpansionError && e.line === undefined) throw new WordExpansionError(e.word, e.reason, inst.line);
    throw e;
  }
}

function expandUnlocated(inst: Instruction, lookup: VariableLookup, escape: EscapeChar): Instruction {
  const word = (w: string): string => expandWord(w, lookup, escape);
  const fail = (w: string, reason: string): never => {
    throw new WordExpansionError(w, reason);
  };
  switch (inst.kind) {
    case 'FROM': {
      const image = word(inst.image);
      if (image === '') fail(inst.image, `base name (${inst.image}) should not be blank`);
      const out = { ...inst, image };
      if (inst.platform !== undefined) {
        out.platform = word(inst.platform);
        if (out.platform === '') fail(inst.platform, `empty platform value from expression ${inst.platform}`);
      }
      return out;
    }
    case 'COPY':
    case 'ADD': {
      const heredocSources = new Set(inst.heredocs.map((h) => `<<${h.name}`));
      const out = {
        ...inst,
        sources: inst.sources.map((s) => (heredocSources.has(s) ? s : word(s))),
        dest: word(inst.dest),
        heredocs: inst.heredocs.map((h) => expandHeredoc(h, lookup)),
      };
      if (inst.chown !== undefined) out.chown = word(inst.chown);
      if (inst.chmod !== undefined) out.chmod = word(inst.chmod);
      if (inst.checksum !== undefined) out.checksum = word(inst.checksum);
      if (inst.from !== undefined && expandWord(inst.from, () => undefined, escape) !== inst.from) {
        fail(inst.from, 'variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround');
      }
      return out;
    }
    case 'ENV':
    case 'LABEL':
      return { ...inst, pairs: inst.pairs.map(([k, v]): [string, string] => [word(k), word(v)]) };
    case 'ARG':
      return { ...inst, args: inst.args.map((a) => (a.default === undefined ? a : { ...a, default: word(a.default) })) };
    case 'EXPOSE':
      return { ...inst, ports: inst.ports.flatMap((p) => expandWords(p, lookup, escape)) };
    case 'STOPSIGNAL':
      return { ...inst, signal: word(inst.signal) };
    case 'USER':
      return { ...inst, user: word(inst.user) };
    case 'WORKDIR':
      return { ...inst, path: word(inst.path) };
    case 'VOLUME':
      return { ...inst, paths: inst.paths.map(word) };
    case 'RUN':
    case 'CMD':
    case 'ENTRYPOINT':
    case 'SHELL':
    case 'HEALTHCHECK':
    case 'MAINTAINER':
    case 'ONBUILD':
      return inst;
  }
}

/** A COPY/ADD heredoc body: expanded unless its delimiter was quoted; `\` escapes, quotes are kept (BuildKit's ExpandRaw). */
function expandHeredoc(h: Heredoc, lookup: VariableLookup): Heredoc {
  if (!h.expand) return h;
  return { ...h, content: shellLex(h.content, lookup, { escape: '\\', skipQuotes: true }).result };
}

/** Go's %q for the strings in BuildKit's messages (close enough: JSON's escapes). */
export function goQuote(s: string): string {
  return JSON.stringify(s);
}

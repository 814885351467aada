/**
 * The Dockerfile front end: text → typed instructions, as BuildKit's
 * Dockerfile frontend reads it (moby/buildkit `frontend/dockerfile/parser`
 * and `instructions`), in the same two passes:
 *
 * 1. Lines → nodes: parser directives at the top (`# escape=`, `# syntax=`,
 *    `# check=`), comments, line continuations with the escape character
 *    (comment lines inside them skipped, empty lines inside them a warning),
 *    the keyword and its `--flags`, the arguments as each keyword takes them
 *    (a JSON array or the shell form; words; `k=v` pairs), heredoc bodies
 *    (`RUN <<EOF`, `COPY <<-"EOF" /dst`, several on one line).
 * 2. Nodes → instructions: per keyword, the number of arguments, the flags it
 *    takes, ONBUILD's trigger, and the rule that everything but ARG comes
 *    after a FROM.
 *
 * Errors are DockerfileParseError with the line and BuildKit's text
 * (`dockerfile parse error on line 3: unknown instruction: FOO`). Words
 * keep their quotes and `$VAR`s: shell-words.ts expands them when the
 * builder runs the step.
 *
 * Written here rather than taken from npm: `dockerfile-ast` (rcjsuen, kept)
 * is an editor's syntax tree: it never fails and gives no Docker errors,
 * leaves heredoc bodies, JSON, flags and `k=v` pairs to its caller, and
 * brings vscode-languageserver-types and -textdocument (about 1 MB unpacked
 * together) into a bundle that runs in a Worker; `docker-file-parser`
 * (joyent) is a port of the pre-BuildKit parser, without heredocs.
 */
import { BerthError } from '../errors.js';
import type { CommandForm, Dockerfile, Heredoc, HealthcheckOptions, Instruction, InstructionFlag } from './instructions.js';
import { goQuote, isGoSpace, shellLex, type EscapeChar, WordExpansionError } from './shell-words.js';

/** A Dockerfile Docker would refuse: the line (1-based) and BuildKit's reason. */
export class DockerfileParseError extends BerthError {
  constructor(
    readonly line: number,
    /** BuildKit's text: `unknown instruction: FOO`, `file with no instructions`. */
    readonly reason: string,
  ) {
    super('invalid-argument', line > 0 ? `dockerfile parse error on line ${line}: ${reason}` : reason);
  }
}

/**
 * Parses a Dockerfile. Bytes are checked to be UTF-8; a string must not
 * hold what a lenient decoder leaves for bytes that were not (U+FFFD, lone
 * surrogates). A NUL anywhere is refused too: such a file is not text.
 */
export function parseDockerfile(source: string | Uint8Array): Dockerfile {
  const text = typeof source === 'string' ? source : decodeUtf8(source);
  checkText(text);
  const pass1 = readNodes(text);
  return buildInstructions(pass1);
}

/** Thrown inside a pass; the pass adds the line. */
class Failure extends Error {}
const fail = (reason: string): never => {
  throw new Failure(reason);
};

// ---------------------------------------------------------------- text

/** Go's bufio.Scanner limit, which BuildKit's parser reads lines with. */
const MAX_LINE_BYTES = 64 * 1024;

function decodeUtf8(bytes: Uint8Array): string {
  let line = 1;
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    if (b === 0x0a) line++;
    const need = b < 0x80 ? 0 : b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : -1;
    if (need < 0) throw new DockerfileParseError(line, 'invalid UTF-8');
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      // The second byte's range also excludes overlong forms, surrogates and code points above U+10FFFF.
      const lo = k === 1 && b === 0xe0 ? 0xa0 : k === 1 && b === 0xf0 ? 0x90 : 0x80;
      const hi = k === 1 && b === 0xed ? 0x9f : k === 1 && b === 0xf4 ? 0x8f : 0xbf;
      if (c === undefined || c < lo || c > hi) throw new DockerfileParseError(line, 'invalid UTF-8');
    }
    i += need + 1;
  }
  return new TextDecoder().decode(bytes);
}

const BAD_CHAR = /[\0\uFFFD]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function checkText(text: string): void {
  const m = BAD_CHAR.exec(text);
  if (!m) return;
  const line = lineAt(text, m.index);
  throw new DockerfileParseError(line, m[0] === '\0' ? 'NUL byte: a Dockerfile is text' : 'invalid UTF-8');
}

function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < index; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c <= 0xdfff ? 2 : 3;
  }
  return n;
}

/** The lines with their endings (BuildKit keeps them for heredoc bodies), cut where a line is too long as Go's scanner stops there. */
function splitLines(text: string): { lines: string[]; tooLong?: number } {
  const lines: string[] = [];
  for (let start = 0; start < text.length; ) {
    const nl = text.indexOf('\n', start);
    const end = nl < 0 ? text.length : nl + 1;
    const line = text.slice(start, end);
    if (line.length > MAX_LINE_BYTES / 3 && utf8Length(line) > MAX_LINE_BYTES) return { lines, tooLong: lines.length + 1 };
    lines.push(line);
    start = end;
  }
  return { lines };
}

const isSpaceChar = (c: string): boolean => isGoSpace(c.codePointAt(0)!);
/** bytes.TrimLeftFunc(s, unicode.IsSpace) */
function trimLeft(s: string): string {
  let i = 0;
  while (i < s.length && isGoSpace(s.codePointAt(i)!)) i += s.codePointAt(i)! > 0xffff ? 2 : 1;
  return s.slice(i);
}
/** strings.TrimSpace */
function trimSpace(s: string): string {
  let end = s.length;
  while (end > 0 && isGoSpace(s.charCodeAt(end - 1))) end--;
  return trimLeft(s.slice(0, end));
}
/** The line without its ending (every trailing \r and \n). */
function trimNewline(s: string): string {
  let end = s.length;
  while (end > 0 && (s[end - 1] === '\n' || s[end - 1] === '\r')) end--;
  return s.slice(0, end);
}
const isComment = (line: string): boolean => trimLeft(line).startsWith('#');
/** `[\t\v\f\r ]+`: how BuildKit splits a keyword from its arguments and whitespace-separated arguments. */
const WHITESPACE_RUN = /[\t\v\f\r ]+/;
const splitWhitespace = (s: string): string[] => (s === '' ? [] : s.split(WHITESPACE_RUN));
/** Go regexp's \s. */
const isRegexpSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\f' || c === '\r';

/**
 * A line ending in the escape character continues (the character and the
 * blanks after it removed), unless the escape character is itself escaped
 * (BuildKit's `([^E])E[ \t]*$|^E[ \t]*$`).
 */
function trimContinuation(line: string, escape: EscapeChar): { text: string; continues: boolean } {
  let end = line.length;
  while (end > 0 && (line[end - 1] === ' ' || line[end - 1] === '\t')) end--;
  if (end > 0 && line[end - 1] === escape && (end === 1 || line[end - 2] !== escape)) {
    return { text: line.slice(0, end - 1), continues: true };
  }
  return { text: line, continues: false };
}

// ---------------------------------------------------------------- parser directives

const DIRECTIVE_NAME = /^([a-zA-Z][a-zA-Z0-9]*)/;

/** `# escape=`, `# syntax=`, `# check=`: only before anything else, each once. */
class DirectiveParser {
  private done = false;
  private readonly seen = new Set<string>();

  parseLine(line: string): { name: string; value: string } | undefined {
    if (this.done) return undefined;
    if (!line.startsWith('#')) return this.stop();
    const body = trimLeft(line.slice(1));
    const m = DIRECTIVE_NAME.exec(body);
    if (!m) return this.stop();
    let i = m[0].length;
    while (isRegexpSpace(body[i])) i++;
    if (body[i] !== '=') return this.stop();
    i++;
    const spaceStart = i;
    while (isRegexpSpace(body[i])) i++;
    let end = body.length;
    while (end > i && isRegexpSpace(body[end - 1])) end--;
    // `(.+?)\s*$`: a value of blanks only is its last blank.
    let value = body.slice(i, end);
    if (value === '') {
      if (i === spaceStart) return this.stop();
      value = body[i - 1]!;
    }
    const name = m[1]!.toLowerCase();
    if (name !== 'escape' && name !== 'syntax' && name !== 'check') return this.stop();
    if (this.seen.has(name)) fail(`only one ${name} parser directive can be used`);
    this.seen.add(name);
    return { name, value };
  }

  private stop(): undefined {
    this.done = true;
    return undefined;
  }
}

// ---------------------------------------------------------------- pass 1: lines → nodes

interface LineHeredoc {
  name: string;
  expand: boolean;
  chomp: boolean;
  /** As read: tabs not yet stripped (a COPY source's own `<<-` decides). */
  content: string;
}

interface Node {
  /** The keyword as written. */
  keyword: string;
  /** `--name[=value]` words before the arguments, quotes removed. */
  flags: string[];
  args: string[];
  /** The arguments were a JSON array. */
  json: boolean;
  /** ENV and LABEL: the pairs as written. */
  pairs?: Array<[string, string]>;
  /** ONBUILD: the trigger. */
  child?: Node;
  heredocs: LineHeredoc[];
  /** The logical line: continuations joined, comments out. */
  original: string;
  startLine: number;
}

interface Pass1 {
  escape: EscapeChar;
  nodes: Node[];
  warnings: Array<{ line: number; message: string }>;
}

function readNodes(text: string): Pass1 {
  const { lines, tooLong } = splitLines(text);
  const directives = new DirectiveParser();
  let escape: EscapeChar = '\\';
  const nodes: Node[] = [];
  const warnings: Pass1['warnings'] = [];
  let next = 0;
  let currentLine = 0;

  // processLine: the line without its ending (and leading blanks), checked for a directive, comments emptied.
  const processLine = (raw: string, stripLeft: boolean): string => {
    let line = trimNewline(raw);
    if (stripLeft) line = trimLeft(line);
    let directive: ReturnType<DirectiveParser['parseLine']>;
    try {
      directive = directives.parseLine(line);
    } catch (e) {
      if (e instanceof Failure) throw new DockerfileParseError(currentLine + 1, e.message);
      throw e;
    }
    if (directive?.name === 'escape') {
      if (directive.value !== '\\' && directive.value !== '`') {
        throw new DockerfileParseError(currentLine + 1, `invalid escape token '${directive.value}' does not match \` or \\`);
      }
      escape = directive.value;
    } else if (directive?.name === 'syntax') {
      warnings.push({ line: currentLine + 1, message: `The "# syntax=${directive.value}" directive is ignored: Berth builds with its own Dockerfile frontend` });
    }
    return isComment(line) ? '' : line;
  };

  while (next < lines.length) {
    let raw = lines[next++]!;
    if (currentLine === 0 && raw.startsWith('\uFEFF')) raw = raw.slice(1);
    const first = processLine(raw, true);
    currentLine++;
    const startLine = currentLine;
    let { text: buf, continues } = trimContinuation(first, escape);
    if (!continues && buf === '') continue;

    let emptyContinuation = false;
    while (continues && next < lines.length) {
      const rawNext = lines[next++]!;
      const part = processLine(rawNext, false);
      currentLine++;
      if (isComment(rawNext)) continue;
      if (trimLeft(part) === '') {
        emptyContinuation = true;
        continue;
      }
      const t = trimContinuation(part, escape);
      buf += t.text;
      continues = t.continues;
    }
    if (emptyContinuation) warnings.push({ line: currentLine, message: 'NoEmptyContinuation: Empty continuation line' });

    let node: Node;
    try {
      node = newNode(buf, escape);
    } catch (e) {
      if (e instanceof Failure) throw new DockerfileParseError(startLine, e.message);
      throw e;
    }
    node.startLine = startLine;

    if (canContainHeredoc(node) && buf.includes('<<')) {
      let markers: HeredocMarker[];
      try {
        markers = heredocsFromLine(buf);
      } catch (e) {
        if (e instanceof Failure) throw new DockerfileParseError(startLine, e.message);
        throw e;
      }
      for (const marker of markers) {
        let content = '';
        let terminated = false;
        while (next < lines.length) {
          const body = lines[next++]!;
          currentLine++;
          let candidate = trimNewline(body);
          if (marker.chomp) candidate = candidate.replace(/^\t+/, '');
          if (candidate === marker.name) {
            terminated = true;
            break;
          }
          content += body;
        }
        if (!terminated) throw new DockerfileParseError(startLine, 'unterminated heredoc');
        node.heredocs.push({ ...marker, content });
      }
    }
    nodes.push(node);
  }

  if (nodes.length === 0) throw new DockerfileParseError(currentLine, 'file with no instructions');
  if (tooLong !== undefined) throw new DockerfileParseError(tooLong, `dockerfile line greater than max allowed size of ${MAX_LINE_BYTES - 1}`);
  return { escape, nodes, warnings };
}

/** The keyword, its flags, and its arguments as that keyword takes them. */
function newNode(line: string, escape: EscapeChar): Node {
  const trimmed = trimSpace(line);
  const m = WHITESPACE_RUN.exec(trimmed);
  const keyword = m ? trimmed.slice(0, m.index) : trimmed;
  let rest = '';
  let flags: string[] = [];
  if (m) ({ rest, flags } = extractBuilderFlags(trimmed.slice(m.index + m[0].length), escape));
  rest = trimSpace(rest);
  const node: Node = { keyword, flags, args: [], json: false, heredocs: [], original: line, startLine: 0 };

  switch (keyword.toLowerCase()) {
    case 'add':
    case 'copy':
    case 'volume': {
      const json = parseJson(rest);
      if (json) [node.args, node.json] = [json, true];
      else node.args = splitWhitespace(rest);
      break;
    }
    case 'cmd':
    case 'entrypoint':
    case 'run':
    case 'shell':
      Object.assign(node, parseMaybeJson(rest));
      break;
    case 'arg':
      node.args = parseWords(rest, escape);
      break;
    case 'env':
    case 'label':
      node.pairs = parseNameVal(rest, keyword.toLowerCase() === 'env' ? 'ENV' : 'LABEL', escape);
      break;
    case 'expose':
    case 'from':
      node.args = splitWhitespace(rest);
      break;
    case 'healthcheck':
      Object.assign(node, parseHealthConfig(rest));
      break;
    case 'maintainer':
    case 'stopsignal':
    case 'user':
    case 'workdir':
      node.args = rest === '' ? [] : [rest];
      break;
    case 'onbuild':
      if (rest !== '') {
        node.child = newNode(rest, escape);
        node.args = [node.child.keyword, ...node.child.args];
      }
      break;
    default:
      // An unknown keyword is reported in pass 2, after every line has been read (BuildKit's order).
      break;
  }
  return node;
}

/** BuildKit's extractBuilderFlags: leading `--words` (quotes and escapes processed), a lone `--` ends them. */
function extractBuilderFlags(line: string, escape: EscapeChar): { rest: string; flags: string[] } {
  const flags: string[] = [];
  const chars = Array.from(line);
  let offset = 0; // in UTF-16 units, for slicing `line`
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let word = '';
  let quote = '';
  let blankOK = false;
  for (let i = 0; i <= chars.length; i++) {
    const at = offset;
    const ch = chars[i];
    if (ch !== undefined) offset += ch.length;
    if (phase === 'spaces') {
      if (ch === undefined) break;
      if (isSpaceChar(ch)) continue;
      if (ch !== '-' || chars[i + 1] !== '-') return { rest: line.slice(at), flags };
      phase = 'word';
    }
    if (ch === undefined) {
      if (word !== '--' && (blankOK || word.length > 0)) flags.push(word);
      break;
    }
    if (phase === 'word') {
      if (isSpaceChar(ch)) {
        phase = 'spaces';
        if (word === '--') return { rest: line.slice(at), flags };
        if (blankOK || word.length > 0) flags.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
        continue;
      }
      if (ch === escape) {
        if (i + 1 === chars.length) continue; // an escape at the very end is dropped
        i++;
        offset += chars[i]!.length;
        word += chars[i];
        continue;
      }
      word += ch;
      continue;
    }
    // in quotes
    if (ch === quote) {
      phase = 'word';
      continue;
    }
    if (ch === escape) {
      if (i + 1 === chars.length) {
        phase = 'word';
        continue;
      }
      i++;
      offset += chars[i]!.length;
      word += chars[i];
      continue;
    }
    word += ch;
  }
  return { rest: '', flags };
}

/** A JSON array of strings, or undefined when the text is not JSON (then it is the shell form); an array holding anything else is an error. */
function parseJson(rest: string): string[] | undefined {
  const text = trimLeft(rest);
  if (!text.startsWith('[')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  for (const v of value) if (typeof v !== 'string') fail('when using JSON array syntax, arrays must be comprised of strings only');
  return value as string[];
}

function parseMaybeJson(rest: string): { args: string[]; json: boolean } {
  if (rest === '') return { args: [], json: false };
  const json = parseJson(rest);
  return json ? { args: json, json: true } : { args: [rest], json: false };
}

/** HEALTHCHECK: the type (NONE, CMD), then a command as RUN takes it. */
function parseHealthConfig(rest: string): { args: string[]; json: boolean } {
  const chars = Array.from(rest);
  let sep = 0;
  while (sep < chars.length && !isSpaceChar(chars[sep]!)) sep++;
  if (sep === 0) return { args: [], json: false };
  let next = sep;
  while (next < chars.length && isSpaceChar(chars[next]!)) next++;
  const command = parseMaybeJson(chars.slice(next).join(''));
  return { args: [chars.slice(0, sep).join(''), ...command.args], json: command.json };
}

/**
 * BuildKit's parseWords: words split on blanks outside quotes, quotes and
 * escapes kept (they are removed when the word is expanded).
 */
function parseWords(rest: string, escape: EscapeChar): string[] {
  const words: string[] = [];
  const chars = Array.from(rest);
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let quote = '';
  let blankOK = false;
  let word = '';
  for (let i = 0; i <= chars.length; i++) {
    let ch = chars[i];
    if (phase === 'spaces') {
      if (ch === undefined) break;
      if (isSpaceChar(ch)) continue;
      phase = 'word';
    }
    if (ch === undefined) {
      if (blankOK || word.length > 0) words.push(word);
      break;
    }
    if (phase === 'word') {
      if (isSpaceChar(ch)) {
        phase = 'spaces';
        if (blankOK || word.length > 0) words.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
      }
      if (ch === escape) {
        if (i + 1 === chars.length) continue;
        word += ch;
        ch = chars[++i]!;
      }
      word += ch;
      continue;
    }
    // in quotes: the escape character escapes, except between single quotes
    if (ch === quote) phase = 'word';
    if (ch === escape && quote !== "'") {
      if (i + 1 === chars.length) {
        phase = 'word';
        continue;
      }
      word += ch;
      ch = chars[++i]!;
    }
    word += ch;
  }
  return words;
}

/** ENV and LABEL: `k=v k2="v 2"`, or the legacy `k the rest of the line`. */
function parseNameVal(rest: string, keyword: 'ENV' | 'LABEL', escape: EscapeChar): Array<[string, string]> {
  const words = parseWords(rest, escape);
  if (words.length === 0) return [];
  if (!words[0]!.includes('=')) {
    const m = WHITESPACE_RUN.exec(rest);
    if (!m) fail(`${keyword} must have two arguments`);
    return [[rest.slice(0, m!.index), rest.slice(m!.index + m![0].length)]];
  }
  return words.map((word): [string, string] => {
    const eq = word.indexOf('=');
    if (eq < 0) fail(`Syntax error - can't find = in ${goQuote(word)}. Must be of the form: name=value`);
    return [word.slice(0, eq), word.slice(eq + 1)];
  });
}

// ---------------------------------------------------------------- heredocs

interface HeredocMarker {
  name: string;
  expand: boolean;
  chomp: boolean;
}

function canContainHeredoc(node: Node): boolean {
  const n = node.keyword.toLowerCase() === 'onbuild' && node.child ? node.child : node;
  return ['add', 'copy', 'run'].includes(n.keyword.toLowerCase()) && !n.json;
}

const none = (): undefined => undefined;

/** Every heredoc marker of a line, in order: its words split as a shell would (quotes kept), each tried as `[n]<<[-]WORD`. */
function heredocsFromLine(line: string): HeredocMarker[] {
  let words: string[];
  try {
    words = shellLex(line, none, { escape: '\\', rawQuotes: true, rawEscapes: true, skipUnset: true }).words;
  } catch {
    words = [];
  }
  const markers: HeredocMarker[] = [];
  for (const word of words) {
    const marker = parseHeredocMarker(word);
    if (marker) markers.push(marker);
  }
  return markers;
}

/**
 * `<<EOF`, `<<-EOF`, `<<"EOF"`, `<<'EOF'`, `2<<EOF`, `<< EOF`: the name with
 * quotes removed; any quoting turns expansion of the body off.
 */
function parseHeredocMarker(word: string): HeredocMarker | undefined {
  let i = 0;
  while (word[i] !== undefined && word[i]! >= '0' && word[i]! <= '9') i++;
  if (!word.startsWith('<<', i)) return undefined;
  i += 2;
  const chomp = word[i] === '-';
  if (chomp) i++;
  while (isRegexpSpace(word[i])) i++;
  const rest = word.slice(i);
  if (rest === '' || rest.includes('<')) return undefined;
  let plain: string[];
  let raw: string[];
  try {
    plain = shellLex(rest, none, { escape: '\\', skipUnset: true }).words;
    if (plain.length !== 1) return undefined;
    raw = shellLex(rest, none, { escape: '\\', skipUnset: true, rawQuotes: true }).words;
  } catch (e) {
    if (e instanceof WordExpansionError) fail(e.message);
    throw e;
  }
  if (raw.length !== plain.length) fail(`internal lexing of heredoc produced inconsistent results: ${rest}`);
  const quotes = (s: string): number => s.split(/['"]/).length - 1;
  return { name: plain[0]!, chomp, expand: quotes(plain[0]!) === quotes(raw[0]!) };
}

/** `<<-`: leading tabs off every line. */
const chompTabs = (content: string): string => content.replace(/(^|\n)\t+/g, '$1');

const toHeredoc = (h: LineHeredoc): Heredoc => ({ name: h.name, content: h.chomp ? chompTabs(h.content) : h.content, expand: h.expand });

// ---------------------------------------------------------------- pass 2: nodes → instructions

const INSTRUCTIONS = ['ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'FROM', 'HEALTHCHECK', 'LABEL', 'MAINTAINER', 'ONBUILD', 'RUN', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR'];
const RESERVED_STAGE_NAMES = ['context', 'scratch'];

function buildInstructions({ escape, nodes, warnings }: Pass1): Dockerfile {
  const instructions: Instruction[] = [];
  const stageNames = new Set<string>();
  let inStage = false;
  for (const node of nodes) {
    let inst: Instruction;
    try {
      inst = toInstruction(node, node.original, warnings);
    } catch (e) {
      if (e instanceof Failure) throw new DockerfileParseError(node.startLine, e.message);
      throw e;
    }
    if (inst.kind === 'FROM') {
      inStage = true;
      if (inst.stageName !== undefined) {
        if (stageNames.has(inst.stageName)) {
          warnings.push({ line: inst.line, message: `DuplicateStageName: Duplicate stage name ${goQuote(inst.stageName)}, stage names should be unique` });
        }
        if (RESERVED_STAGE_NAMES.includes(inst.stageName)) {
          warnings.push({ line: inst.line, message: `ReservedStageName: Stage name should not use the same name as reserved stage ${goQuote(inst.stageName)}` });
        }
        stageNames.add(inst.stageName);
      }
    } else if (!inStage && inst.kind !== 'ARG') {
      // Only ARG may come before the first FROM.
      throw new DockerfileParseError(node.startLine, 'no build stage in current context');
    }
    instructions.push(inst);
  }
  warnings.sort((a, b) => a.line - b.line);
  return { escape, instructions, warnings };
}

/** How Docker prints a step: the logical line, keyword upper-case. */
function displayLine(line: string): string {
  const t = trimSpace(line);
  const m = WHITESPACE_RUN.exec(t);
  return m ? t.slice(0, m.index).toUpperCase() + t.slice(m.index) : t.toUpperCase();
}

function toInstruction(node: Node, original: string, warnings: Pass1['warnings']): Instruction {
  // Matched lower-case as BuildKit does (strings.ToLower); messages name the keyword upper-case.
  const lower = node.keyword.toLowerCase();
  const keyword = /^[a-z]+$/.test(lower) ? lower.toUpperCase() : '';
  const line = node.startLine;
  const args = node.args;
  const base = { line, original: displayLine(original) };
  const exactlyOne = (): string => (args.length === 1 ? args[0]! : fail(`${keyword} requires exactly one argument`));
  const atLeastOne = (): void => {
    if (args.length === 0) fail(`${keyword} requires at least one argument`);
  };
  const command = (): CommandForm => (node.json ? { exec: args } : { shell: args.join(' ') });

  switch (keyword) {
    case 'FROM': {
      let stageName: string | undefined;
      if (args.length === 3 && args[1]!.toLowerCase() === 'as') {
        stageName = args[2]!.toLowerCase();
        if (!/^[a-z][a-z0-9\-_.]*$/.test(stageName)) fail(`invalid name for build stage: ${goQuote(args[2]!)}, name can't start with a number or contain symbols`);
        if (args[2] !== stageName) warnings.push({ line, message: `StageNameCasing: Stage name '${args[2]}' should be lowercase` });
        const from = node.keyword;
        const as = args[1]!;
        if ((from === from.toLowerCase() && as !== as.toLowerCase()) || (from === from.toUpperCase() && from !== from.toLowerCase() && as !== as.toUpperCase())) {
          warnings.push({ line, message: `FromAsCasing: '${as}' and '${from}' keywords' casing do not match` });
        }
      } else if (args.length !== 1) {
        fail('FROM requires either one or three arguments');
      }
      const flags = parseFlags(node.flags, { platform: 'string' });
      return { ...base, flags: flags.list, kind: 'FROM', image: args[0]!, ...(stageName !== undefined && { stageName }), ...(flags.has('platform') && { platform: flags.string('platform') }) };
    }
    case 'RUN': {
      const flags = parseFlags(node.flags, { mount: 'strings', network: 'string', security: 'string' });
      const network = flags.has('network') ? flags.string('network') : undefined;
      if (network !== undefined && !['default', 'none', 'host'].includes(network)) fail(`invalid network mode ${goQuote(network)}`);
      const security = flags.has('security') ? flags.string('security') : undefined;
      if (security !== undefined && !['insecure', 'sandbox'].includes(security)) fail(`security ${goQuote(security)} is not valid`);
      return {
        ...base,
        flags: flags.list,
        kind: 'RUN',
        command: command(),
        heredocs: node.heredocs.map(toHeredoc),
        mounts: flags.strings('mount'),
        ...(network !== undefined && { network }),
        ...(security !== undefined && { security }),
      };
    }
    case 'COPY':
    case 'ADD': {
      if (args.length < 2) fail(`${keyword} requires at least two arguments, but only one was provided. Destination could not be determined`);
      const flags = parseFlags(
        node.flags,
        keyword === 'COPY'
          ? { chown: 'string', from: 'string', chmod: 'string', link: 'bool', exclude: 'strings', parents: 'bool' }
          : { chown: 'string', chmod: 'string', link: 'bool', 'keep-git-dir': 'bool', checksum: 'string', exclude: 'strings' },
      );
      const dest = args[args.length - 1]!;
      if (heredocMarker(dest)) fail(`${keyword} cannot accept a heredoc as a destination`);
      // A heredoc source is `<<NAME`; its body is the heredoc of that name (the last one, if a name repeats).
      const bodies = new Map(node.heredocs.map((h) => [h.name, h]));
      const sources: string[] = [];
      const heredocs: Heredoc[] = [];
      for (const src of args.slice(0, -1)) {
        const marker = heredocMarker(src);
        if (!marker) {
          sources.push(src);
          continue;
        }
        const content = bodies.get(marker.name)?.content ?? '';
        sources.push(`<<${marker.name}`);
        heredocs.push({ name: marker.name, content: marker.chomp ? chompTabs(content) : content, expand: marker.expand });
      }
      return {
        ...base,
        flags: flags.list,
        kind: keyword,
        sources,
        dest,
        heredocs,
        ...(flags.has('from') && { from: flags.string('from') }),
        ...(flags.has('chown') && { chown: flags.string('chown') }),
        ...(flags.has('chmod') && { chmod: flags.string('chmod') }),
        link: flags.bool('link'),
        parents: flags.bool('parents'),
        exclude: flags.strings('exclude'),
        ...(flags.has('checksum') && { checksum: flags.string('checksum') }),
        keepGitDir: flags.bool('keep-git-dir'),
      };
    }
    case 'ENV':
    case 'LABEL': {
      const flags = parseFlags(node.flags, {});
      const pairs = node.pairs ?? [];
      if (pairs.length === 0) fail(`${keyword} requires at least one argument`);
      if (pairs.some(([k]) => k === '')) fail(`${keyword} names can not be blank`);
      return { ...base, flags: flags.list, kind: keyword, pairs };
    }
    case 'ARG': {
      atLeastOne();
      const flags = parseFlags(node.flags, {});
      const list = args.map((word) => {
        const eq = word.indexOf('=');
        if (eq < 0) return { name: word };
        if (eq === 0) fail('ARG names can not be blank');
        return { name: word.slice(0, eq), default: word.slice(eq + 1) };
      });
      return { ...base, flags: flags.list, kind: 'ARG', args: list };
    }
    case 'WORKDIR': {
      const path = exactlyOne();
      return { ...base, flags: parseFlags(node.flags, {}).list, kind: 'WORKDIR', path };
    }
    case 'USER': {
      const user = exactlyOne();
      return { ...base, flags: parseFlags(node.flags, {}).list, kind: 'USER', user };
    }
    case 'STOPSIGNAL': {
      const signal = exactlyOne();
      return { ...base, flags: parseFlags(node.flags, {}).list, kind: 'STOPSIGNAL', signal };
    }
    case 'MAINTAINER': {
      const name = exactlyOne();
      const flags = parseFlags(node.flags, {});
      warnings.push({ line, message: 'MaintainerDeprecated: Maintainer instruction is deprecated in favor of using label' });
      return { ...base, flags: flags.list, kind: 'MAINTAINER', name };
    }
    case 'EXPOSE': {
      atLeastOne();
      return { ...base, flags: parseFlags(node.flags, {}).list, kind: 'EXPOSE', ports: args };
    }
    case 'VOLUME': {
      atLeastOne();
      const flags = parseFlags(node.flags, {});
      const paths = args.map((v) => trimSpace(v) || fail('VOLUME specified can not be an empty string'));
      return { ...base, flags: flags.list, kind: 'VOLUME', paths };
    }
    case 'CMD':
    case 'ENTRYPOINT':
      return { ...base, flags: parseFlags(node.flags, {}).list, kind: keyword, command: command() };
    case 'SHELL': {
      const flags = parseFlags(node.flags, {});
      atLeastOne();
      if (!node.json) fail('SHELL requires the arguments to be in JSON form');
      return { ...base, flags: flags.list, kind: 'SHELL', shell: args };
    }
    case 'HEALTHCHECK':
      return healthcheck(node, base);
    case 'ONBUILD': {
      atLeastOne();
      const flags = parseFlags(node.flags, {});
      const child = node.child!;
      const trigger = child.keyword.toUpperCase();
      if (trigger === 'ONBUILD') fail('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
      if (trigger === 'MAINTAINER' || trigger === 'FROM') fail(`${trigger} isn't allowed as an ONBUILD trigger`);
      const triggerNode: Node = { ...child, heredocs: node.heredocs, startLine: line };
      const inst = toInstruction(triggerNode, original.replace(/^[\t\n\f\r ]*onbuild[\t\n\f\r ]*/i, ''), warnings);
      return { ...base, flags: flags.list, kind: 'ONBUILD', trigger: inst };
    }
    default:
      return fail(`unknown instruction: ${node.keyword}${suggest(node.keyword, INSTRUCTIONS, false)}`);
  }
}

function heredocMarker(word: string): HeredocMarker | undefined {
  try {
    return parseHeredocMarker(word);
  } catch {
    return undefined;
  }
}

function healthcheck(node: Node, base: { line: number; original: string }): Instruction {
  const args = node.args;
  if (args.length === 0) fail('HEALTHCHECK requires at least one argument');
  const type = args[0]!.toUpperCase();
  const flags = parseFlags(node.flags, { interval: 'string', timeout: 'string', 'start-period': 'string', 'start-interval': 'string', retries: 'string' });
  if (type === 'NONE') {
    if (args.length !== 1) fail('HEALTHCHECK NONE takes no arguments');
    return { ...base, flags: flags.list, kind: 'HEALTHCHECK', test: 'NONE', options: {} };
  }
  if (type !== 'CMD') fail(`Unknown type ${goQuote(type)} in HEALTHCHECK (try CMD)`);
  const command = args.slice(1);
  if (command.length === 0) fail('Missing command after HEALTHCHECK CMD');
  const options: HealthcheckOptions = {};
  const durations = [
    ['interval', 'interval'],
    ['timeout', 'timeout'],
    ['start-period', 'startPeriod'],
    ['start-interval', 'startInterval'],
  ] as const;
  for (const [flag, key] of durations) {
    // An empty value is no value (BuildKit's 0: the default).
    const value = flags.string(flag);
    if (value === '') continue;
    const ns = goDuration(value);
    if (ns !== 0 && ns < 1e6) fail(`Interval ${goQuote(flag)} cannot be less than 1ms`);
    options[key] = value;
  }
  const retries = flags.string('retries');
  if (retries !== '') {
    if (!/^[+-]?[0-9]+$/.test(retries)) fail(`strconv.ParseInt: parsing ${goQuote(retries)}: invalid syntax`);
    const n = Number(retries);
    if (n > 2 ** 31 - 1 || n < -(2 ** 31)) fail(`strconv.ParseInt: parsing ${goQuote(retries)}: value out of range`);
    if (n < 0) fail(`--retries cannot be negative (${n})`);
    options.retries = retries;
  }
  return { ...base, flags: flags.list, kind: 'HEALTHCHECK', test: node.json ? { exec: command } : { shell: command.join(' ') }, options };
}

// ---------------------------------------------------------------- flags

type FlagKind = 'bool' | 'string' | 'strings';

interface ParsedFlags {
  list: InstructionFlag[];
  has(name: string): boolean;
  string(name: string): string;
  strings(name: string): string[];
  bool(name: string): boolean;
}

/** BuildKit's BFlags.Parse: each flag the instruction takes, once (a list flag any number of times). */
function parseFlags(raw: string[], spec: Record<string, FlagKind>): ParsedFlags {
  const list: InstructionFlag[] = [];
  const values = new Map<string, string[]>();
  for (const word of raw) {
    const eq = word.indexOf('=');
    const flagName = eq < 0 ? word : word.slice(0, eq);
    const value = eq < 0 ? undefined : word.slice(eq + 1);
    const name = flagName.slice(2);
    const kind = Object.hasOwn(spec, name) ? spec[name] : undefined;
    if (kind === undefined) fail(`unknown flag: ${flagName}${suggest(name, Object.keys(spec), true)}`);
    if (values.has(name) && kind !== 'strings') fail(`duplicate flag specified: ${flagName}`);
    if (kind === 'bool') {
      if (value === '') fail(`missing a value on flag: ${flagName}`);
      const v = (value ?? 'true').toLowerCase();
      if (v !== 'true' && v !== 'false') fail(`expecting boolean value for flag ${flagName}, not: ${value}`);
      values.set(name, [v]);
    } else {
      if (value === undefined) fail(`missing a value on flag: ${flagName}`);
      values.set(name, [...(values.get(name) ?? []), value!]);
    }
    list.push({ name, value });
  }
  return {
    list,
    has: (name) => values.has(name),
    string: (name) => values.get(name)?.[0] ?? '',
    strings: (name) => values.get(name) ?? [],
    bool: (name) => values.get(name)?.[0] === 'true',
  };
}

/** BuildKit's suggest.Search: ` (did you mean X?)` for a name within an edit distance of 2 of one it knows. */
function suggest(value: string, options: readonly string[], caseSensitive: boolean): string {
  const v = caseSensitive ? value : value.toLowerCase();
  let match = '';
  let best = 3;
  for (const option of options) {
    const o = caseSensitive ? option : option.toLowerCase();
    if (o === v) return '';
    const d = levenshtein(v, o);
    if (d < best) {
      best = d;
      match = caseSensitive || value !== value.toUpperCase() ? o : o.toUpperCase();
    }
  }
  return match ? ` (did you mean ${match}?)` : '';
}

function levenshtein(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3; // only distances below 3 matter
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

// ---------------------------------------------------------------- durations

const DURATION_UNITS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/**
 * Go's time.ParseDuration, in nanoseconds (`1m30s`, `1.5h`, `300ms`): the
 * HEALTHCHECK options are written so (the parser has checked them). Throws
 * a BerthError (invalid-argument) with Go's message.
 */
export function parseGoDuration(text: string): number {
  try {
    return goDuration(text);
  } catch (e) {
    if (e instanceof Failure) throw new BerthError('invalid-argument', e.message);
    throw e;
  }
}

function goDuration(text: string): number {
  const invalid = (): never => fail(`time: invalid duration ${goQuote(text)}`);
  let s = text;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') invalid();
  let total = 0;
  while (s !== '') {
    const m = /^([0-9]*)(\.([0-9]*))?/.exec(s)!;
    const [whole, intPart = '', , frac] = m;
    if (intPart === '' && (frac === undefined || frac === '')) invalid();
    s = s.slice(whole.length);
    const unit = /^[^0-9.]*/.exec(s)![0];
    if (unit === '') fail(`time: missing unit in duration ${goQuote(text)}`);
    const scale = DURATION_UNITS[unit] ?? fail(`time: unknown unit ${goQuote(unit)} in duration ${goQuote(text)}`);
    s = s.slice(unit.length);
    total += Number(`${intPart || '0'}.${frac ?? ''}0`) * scale;
    if (total > 2 ** 63) invalid();
  }
  return sign * total;
}

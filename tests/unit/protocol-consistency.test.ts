/**
 * The agent protocol is written down four times: docs/protocol.md (the
 * contract), guest/agent/protocol.h (the agent), src/vm/protocol.ts (the
 * engine) and guest/agent/test_agent.py (the agent's tests, which speak it
 * on their own). This reads each as text and checks that they name the same
 * frame types with the same numbers, and agree on every constant that more
 * than one of them states. A failure names the frame or constant and which
 * file says what.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const FILES = {
  doc: 'docs/protocol.md',
  header: 'guest/agent/protocol.h',
  ts: 'src/vm/protocol.ts',
  py: 'guest/agent/test_agent.py',
} as const;
type Source = keyof typeof FILES;

const read = (source: Source) => readFileSync(new URL(`../../${FILES[source]}`, import.meta.url), 'utf8');
const num = (literal: string) => Number(literal.replace(/[_uU]/g, ''));
/** test_agent.py's hexadecimal module-level names that are not frame types. */
const PY_CONSTANTS = new Set(['SESSION_BIT']);

/** Frame name → type number, from each file. */
const types: Record<Source, Map<string, number>> = {
  // The two tables' rows: | 0x01 | HELLO | g→h | ...
  doc: new Map([...read('doc').matchAll(/^\|\s*(0x[0-9a-fA-F]+)\s*\|\s*([A-Z][A-Z_]*)\s*\|/gm)].map((m) => [m[2]!, num(m[1]!)])),
  // enum br_type { BR_HELLO = 0x01, ... };
  header: new Map(
    [...(/enum br_type\s*\{([^}]*)\}/.exec(read('header'))?.[1] ?? '').matchAll(/\bBR_([A-Z_]+)\s*=\s*(0x[0-9a-f]+|\d+)/gi)].map((m) => [
      m[1]!,
      num(m[2]!),
    ]),
  ),
  // export const MsgType = { HELLO: 0x01, ... } as const;
  ts: new Map(
    [...(/export const MsgType = \{([^}]*)\}/.exec(read('ts'))?.[1] ?? '').matchAll(/\b([A-Z_]+):\s*(0x[0-9a-f]+|\d+)/gi)].map((m) => [m[1]!, num(m[2]!)]),
  ),
  // Module-level `HELLO, PING = 0x01, 0x02` lines; C_OPEN is CLIENT_OPEN. Frame types are the
  // hexadecimal ones, except the constants below.
  py: pythonTypes(read('py')),
};

function pythonTypes(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^([A-Z_][A-Z0-9_]*(?:\s*,\s*[A-Z_][A-Z0-9_]*)*)\s*=\s*(0x[0-9a-f]+(?:\s*,\s*0x[0-9a-f]+)*)\s*$/gim)) {
    const names = m[1]!.split(',').map((s) => s.trim());
    const values = m[2]!.split(',').map((s) => num(s.trim()));
    expect(names.length, `${FILES.py}: ${m[0]}`).toBe(values.length);
    names.forEach((name, i) => {
      if (PY_CONSTANTS.has(name)) return;
      out.set(name.replace(/^C_/, 'CLIENT_'), values[i]!);
    });
  }
  return out;
}

const hex = (n: number | undefined) => (n === undefined ? 'absent' : `0x${n.toString(16).padStart(2, '0')}`);
const sources = Object.keys(FILES) as Source[];

/** "0x37 in a, b; 0x38 in c; absent in d": who says what. */
function disagreement(values: Map<Source, number | undefined>, show: (v: number | undefined) => string): string {
  const by = new Map<string, Source[]>();
  for (const [source, v] of values) by.set(show(v), [...(by.get(show(v)) ?? []), source]);
  return [...by].map(([v, s]) => `${v} in ${s.map((x) => FILES[x]).join(', ')}`).join('; ');
}

describe('agent protocol: frame types', () => {
  it.each(sources)('are found in %s', (source) => {
    // A parser that found nothing would make every other check vacuous.
    expect(types[source].size, `frame types read from ${FILES[source]}`).toBeGreaterThanOrEqual(20);
  });

  it.each(sources)('have distinct numbers in %s', (source) => {
    const seen = new Map<number, string>();
    const clashes: string[] = [];
    for (const [name, n] of types[source]) {
      if (seen.has(n)) clashes.push(`${name} and ${seen.get(n)} are both ${hex(n)}`);
      seen.set(n, name);
    }
    expect(clashes, FILES[source]).toEqual([]);
  });

  const names = [...new Set(sources.flatMap((s) => [...types[s].keys()]))].sort();
  it.each(names)('%s: the same number in every file', (name) => {
    const values = new Map(sources.map((s) => [s, types[s].get(name)] as const));
    const agree = new Set(values.values()).size === 1;
    expect(agree, `frame ${name}: ${disagreement(values, hex)}`).toBe(true);
  });
});

/** Constants: each file's statement of it, where it makes one. */
type Extract = Partial<Record<Source, (text: string) => number | undefined>>;
const first = (re: RegExp, scale = 1) => (text: string) => {
  const m = re.exec(text);
  return m ? num(m[1]!) * scale : undefined;
};
/** `export const NAME = 64 * 1024;`: a product of literals. */
const tsConst = (name: string) => (text: string) => {
  const m = new RegExp(`export const ${name} = ([0-9a-fx_ *]+);`, 'i').exec(text);
  return m ? m[1]!.split('*').reduce((p, f) => p * num(f.trim()), 1) : undefined;
};
const CONSTANTS: Record<string, Extract> = {
  'magic, first byte': {
    doc: first(/magic `(0x[0-9a-f]+) 0x[0-9a-f]+`/i),
    header: first(/#define BR_MAGIC0 (0x[0-9a-f]+)/i),
    ts: tsConst('MAGIC0'),
    py: (t) => /head = b"(.)./.exec(t)?.[1]!.charCodeAt(0),
  },
  'magic, second byte': {
    doc: first(/magic `0x[0-9a-f]+ (0x[0-9a-f]+)`/i),
    header: first(/#define BR_MAGIC1 (0x[0-9a-f]+)/i),
    ts: tsConst('MAGIC1'),
    py: (t) => /head = b".(.)/.exec(t)?.[1]!.charCodeAt(0),
  },
  'header size': {
    // The payload's offset in the frame table.
    doc: first(/^\|\s*(\d+)\s*\|\s*len\s*\|\s*payload\s*\|/m),
    header: first(/#define BR_HEADER_SIZE (\d+)/),
    ts: tsConst('HEADER_SIZE'),
  },
  'maximum payload': {
    doc: first(/payload length, at most (\d+)/),
    header: first(/#define BR_MAX_PAYLOAD (\d+)/),
    ts: tsConst('MAX_PAYLOAD'),
    py: first(/^MAX_PAYLOAD = (\d+)$/m),
  },
  'host chunk size': {
    doc: first(/chunks of at most (\d+) bytes/),
    header: first(/#define BR_HOST_CHUNK (\d+)/),
    ts: tsConst('CHUNK_SIZE'),
  },
  'chunks in flight': {
    doc: first(/at most \*\*(\d+) chunks\*\*/),
    header: first(/#define BR_HOST_CHUNKS_IN_FLIGHT (\d+)/),
    ts: tsConst('MAX_CHUNKS_IN_FLIGHT'),
  },
  'stdin window': {
    doc: first(/at most (\d+) KiB of `STDIN`/, 1024),
    header: first(/#define BR_STDIN_WINDOW (\d+)/),
    ts: tsConst('STDIN_WINDOW'),
  },
  'truncated frame timeout (ms)': {
    doc: first(/no new byte for (\d+) s\b/, 1000),
    header: first(/#define BR_TRUNCATE_MS (\d+)/),
  },
  'session id bit': {
    doc: first(/`(0x[0-9a-f]+) \| n`/i),
    header: first(/#define BR_SESSION_BIT (0x[0-9a-f]+)u?/i),
    py: first(/^SESSION_BIT = (0x[0-9a-f]+)$/im),
  },
};

describe('agent protocol: constants', () => {
  it.each(Object.keys(CONSTANTS))('%s: the same wherever it is stated', (name) => {
    const extract = CONSTANTS[name]!;
    const values = new Map((Object.keys(extract) as Source[]).map((s) => [s, extract[s]!(read(s))] as const));
    // Each extractor names a file that states the constant: not finding it there is a failure too.
    const found = [...values.values()];
    const agree = !found.includes(undefined) && new Set(found).size === 1;
    expect(agree, `${name}: ${disagreement(values, (v) => (v === undefined ? 'not found' : String(v)))}`).toBe(true);
  });

  it('ERROR codes that are not errno names: the same in protocol.h and docs/protocol.md', () => {
    const header = [...read('header').matchAll(/#define BR_E[A-Z_]+ "(E[A-Z_]+)"/g)].map((m) => m[1]!).sort();
    // ERROR's row: `c` code (`EBADFRAME`, `ETRUNCATED`, `EBUSYID`, or an errno name such as `ENOENT`)
    const listed = /^\|\s*0x7F\s*\|\s*ERROR\s*\|.*`c` code \((.*?)or an errno name/im.exec(read('doc'))?.[1] ?? '';
    const doc = [...listed.matchAll(/`(E[A-Z_]+)`/g)].map((m) => m[1]!).sort();
    expect(header.length).toBeGreaterThan(0);
    expect(doc, `codes in ${FILES.doc}'s ERROR row vs ${FILES.header}`).toEqual(header);
  });

  it('the docker socket path: the same in protocol.h and docs/protocol.md', () => {
    const header = /#define BR_DOCKER_SOCKET "([^"]+)"/.exec(read('header'))?.[1];
    expect(header).toBeDefined();
    expect(read('doc'), `${FILES.doc} names ${header}`).toContain(`\`${header}\``);
  });
});

/**
 * Share links: a scenario (images to pull, files to write in the guest,
 * commands to type in the first terminal, how many terminal tabs) travels in
 * the URL fragment as `#s=` + lz-string's URI-safe compression of its JSON.
 *
 * A link is untrusted input. Decoding checks it strictly (exact keys, types,
 * counts, lengths, absolute paths, references Docker accepts, no control
 * characters in commands); the page shows what it will do and does nothing
 * until the person agrees. Nothing in it is ever page markup or script.
 * No DOM here: this is pure and testable in Node.
 */
import { compressToEncodedURIComponent, decompressFromEncodedURIComponent } from 'lz-string';
import { InvalidReferenceError, parseReference } from '../oci/reference.js';

export interface ScenarioFile {
  /** Absolute path in the guest. */
  path: string;
  content: string;
}

export interface Scenario {
  images: string[];
  files: ScenarioFile[];
  commands: string[];
  layout: { tabs: number };
}

export const SCENARIO_VERSION = 1;
export const LIMITS = {
  images: 10,
  imageRef: 255,
  files: 20,
  path: 1024,
  /** Characters per file (a link is at most MAX_LINK long, but text compresses well). */
  fileContent: 64 * 1024,
  commands: 20,
  command: 1000,
  tabs: 4,
  /** Characters of the whole link. */
  link: 8000,
} as const;

/** Places in the guest a link may not write: the kernel's views and the engine's own tree. */
const FORBIDDEN_PREFIXES = ['/proc', '/sys', '/dev', '/berth', '/run/berth'];

export class ScenarioError extends Error {
  override readonly name = 'ScenarioError';
}

export const emptyScenario = (): Scenario => ({ images: [], files: [], commands: [], layout: { tabs: 1 } });

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

function exactKeys(v: Record<string, unknown>, keys: string[], where: string): void {
  for (const k of Object.keys(v)) if (!keys.includes(k)) throw new ScenarioError(`${where} has an unknown field "${k.slice(0, 40)}"`);
  for (const k of keys) if (!(k in v)) throw new ScenarioError(`${where} lacks the field "${k}"`);
}

function list(v: unknown, where: string, max: number): unknown[] {
  if (!Array.isArray(v)) throw new ScenarioError(`${where} must be a list`);
  if (v.length > max) throw new ScenarioError(`${where} has ${v.length} entries; at most ${max} are allowed`);
  return v;
}

function text(v: unknown, where: string, max: number, min = 1): string {
  if (typeof v !== 'string') throw new ScenarioError(`${where} must be text`);
  if (v.length < min) throw new ScenarioError(`${where} is empty`);
  if (v.length > max) throw new ScenarioError(`${where} is ${v.length} characters long; at most ${max} are allowed`);
  return v;
}

/** An image reference Docker accepts, with a conservative character set; digests must be sha256. */
export function checkImageRef(ref: string, where = 'image'): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._\-/:@]*$/.test(ref)) throw new ScenarioError(`${where} "${ref.slice(0, 80)}" has characters an image reference cannot have`);
  let parsed;
  try {
    parsed = parseReference(ref);
  } catch (e) {
    if (e instanceof InvalidReferenceError) throw new ScenarioError(`${where}: ${e.message}`);
    throw e;
  }
  if (!/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)(:\d{1,5})?$/.test(parsed.domain)) {
    throw new ScenarioError(`${where} "${ref}" names an invalid registry host`);
  }
  if (parsed.digest && !/^sha256:[a-f0-9]{64}$/.test(parsed.digest)) throw new ScenarioError(`${where} "${ref}": a pinned digest must be sha256:<64 hex digits>`);
}

export function checkGuestPath(path: string, where = 'path'): void {
  if (!path.startsWith('/')) throw new ScenarioError(`${where} "${path.slice(0, 80)}" must be absolute (start with /)`);
  if (CONTROL.test(path)) throw new ScenarioError(`${where} contains control characters`);
  const parts = path.slice(1).split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) throw new ScenarioError(`${where} "${path}" must name a file without empty, "." or ".." parts`);
  for (const f of FORBIDDEN_PREFIXES) {
    if (path === f || path.startsWith(`${f}/`)) throw new ScenarioError(`${where} "${path}" is in ${f}, which a link may not write to`);
  }
}

export function checkCommand(cmd: string, where = 'command'): void {
  if (CONTROL.test(cmd)) throw new ScenarioError(`${where} contains control characters (new lines, escapes); give one command per entry`);
  if (cmd.trim() !== cmd) throw new ScenarioError(`${where} starts or ends with spaces`);
}

/** Checks an untrusted value strictly and returns a clean copy. */
export function validateScenario(v: unknown): Scenario {
  if (!isPlainObject(v)) throw new ScenarioError('the scenario must be an object');
  exactKeys(v, ['v', 'images', 'files', 'commands', 'layout'], 'the scenario');
  if (v['v'] !== SCENARIO_VERSION) throw new ScenarioError(`the scenario format ${JSON.stringify(v['v']).slice(0, 20)} is not supported (this page reads ${SCENARIO_VERSION})`);
  const images = list(v['images'], 'images', LIMITS.images).map((x, i) => {
    const ref = text(x, `images[${i}]`, LIMITS.imageRef);
    checkImageRef(ref, `images[${i}]`);
    return ref;
  });
  const files = list(v['files'], 'files', LIMITS.files).map((x, i) => {
    if (!isPlainObject(x)) throw new ScenarioError(`files[${i}] must be an object with path and content`);
    exactKeys(x, ['path', 'content'], `files[${i}]`);
    const path = text(x['path'], `files[${i}].path`, LIMITS.path);
    checkGuestPath(path, `files[${i}].path`);
    return { path, content: text(x['content'], `files[${i}].content`, LIMITS.fileContent, 0) };
  });
  const paths = new Set<string>();
  for (const f of files) {
    if (paths.has(f.path)) throw new ScenarioError(`files lists ${f.path} twice`);
    paths.add(f.path);
  }
  const commands = list(v['commands'], 'commands', LIMITS.commands).map((x, i) => {
    const cmd = text(x, `commands[${i}]`, LIMITS.command);
    checkCommand(cmd, `commands[${i}]`);
    return cmd;
  });
  const layout = v['layout'];
  if (!isPlainObject(layout)) throw new ScenarioError('layout must be an object');
  exactKeys(layout, ['tabs'], 'layout');
  const tabs = layout['tabs'];
  if (typeof tabs !== 'number' || !Number.isInteger(tabs) || tabs < 1 || tabs > LIMITS.tabs) {
    throw new ScenarioError(`layout.tabs must be a whole number from 1 to ${LIMITS.tabs}`);
  }
  return { images, files, commands, layout: { tabs } };
}

/** The fragment value (after `#s=`) for a scenario; validates it first. */
export function encodeScenario(s: Scenario): string {
  const clean = validateScenario({ v: SCENARIO_VERSION, ...s });
  return compressToEncodedURIComponent(JSON.stringify({ v: SCENARIO_VERSION, ...clean }));
}

export type DecodedScenario = { ok: true; scenario: Scenario } | { ok: false; error: string };

/** Decodes and validates a fragment value; never throws. */
export function decodeScenario(encoded: string): DecodedScenario {
  const damaged = {
    ok: false as const,
    error: 'This share link is damaged: it could not be decoded (was it cut off or changed when it was copied?). Nothing from it was run.',
  };
  if (encoded.length > LIMITS.link || !/^[A-Za-z0-9+\-$]*$/.test(encoded)) return damaged;
  let json: string | null;
  try {
    json = decompressFromEncodedURIComponent(encoded);
  } catch {
    return damaged;
  }
  if (!json) return damaged;
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return damaged;
  }
  try {
    return { ok: true, scenario: validateScenario(value) };
  } catch (e) {
    if (e instanceof ScenarioError) return { ok: false, error: `This share link is not valid: ${e.message}. Nothing from it was run.` };
    return damaged;
  }
}

/** The link for a scenario, or a message when it would be too long to share. */
export function scenarioLink(base: string, s: Scenario): { ok: true; link: string } | { ok: false; error: string } {
  let encoded: string;
  try {
    encoded = encodeScenario(s);
  } catch (e) {
    return { ok: false, error: e instanceof ScenarioError ? `The scenario is not valid: ${e.message}.` : String(e) };
  }
  const link = `${base.replace(/#.*$/, '')}#s=${encoded}`;
  if (link.length > LIMITS.link) {
    return {
      ok: false,
      error: `The link would be ${link.length} characters long; share links are limited to ${LIMITS.link}. Make the files shorter or fewer (or put large files in an image).`,
    };
  }
  return { ok: true, link };
}

/** The scenario of a location's fragment, if it has one (`#s=…`). */
export function scenarioFromHash(hash: string): string | undefined {
  const m = /^#s=(.*)$/s.exec(hash);
  if (!m) return undefined;
  // Some chat apps percent-encode `$` and `+` when they pass a link on.
  try {
    return m[1]!.includes('%') ? decodeURIComponent(m[1]!) : m[1];
  } catch {
    return m[1];
  }
}

/**
 * Share-link decoding is the page's one door for untrusted input: pure
 * checks of src/ui/scenario.ts (the e2e tests open real links).
 */
import { compressToEncodedURIComponent } from 'lz-string';
import { describe, expect, it } from 'vitest';
import { decodeScenario, encodeScenario, LIMITS, scenarioFromHash, scenarioLink, type Scenario } from '../../src/ui/scenario.js';

const base: Scenario = {
  images: ['busybox', '127.0.0.1:5000/app@sha256:' + 'a'.repeat(64)],
  files: [{ path: '/root/a.txt', content: 'hi\n' }],
  commands: ['docker run --rm busybox echo hi'],
  layout: { tabs: 2 },
};
const enc = (v: unknown) => compressToEncodedURIComponent(JSON.stringify(v));
const withV = (patch: Record<string, unknown>) => enc({ v: 1, ...base, ...patch });
const error = (encoded: string) => {
  const d = decodeScenario(encoded);
  if (d.ok) throw new Error('accepted');
  return d.error;
};

describe('share-link scenarios', () => {
  it('round-trips', () => {
    const d = decodeScenario(encodeScenario(base));
    expect(d).toEqual({ ok: true, scenario: base });
  });

  it('refuses what is not a scenario', () => {
    expect(error('')).toMatch(/damaged/);
    expect(error('%%%')).toMatch(/damaged/);
    expect(error(encodeScenario(base).slice(0, -8))).toMatch(/damaged|not valid/);
    expect(error(enc([1, 2]))).toMatch(/must be an object/);
    expect(error(enc('x'))).toMatch(/must be an object/);
    expect(error(enc({ ...base }))).toMatch(/lacks the field "v"/);
    expect(error(withV({ v: 2 }))).toMatch(/format 2 is not supported/);
    expect(error(withV({ extra: 1 }))).toMatch(/unknown field "extra"/);
    expect(error(enc(JSON.parse(`{"v":1,"images":[],"files":[],"commands":[],"layout":{"tabs":1},"__proto__":{"x":1}}`)))).toMatch(/unknown field "__proto__"/);
  });

  it('checks types, counts and lengths', () => {
    expect(error(withV({ images: 'busybox' }))).toMatch(/images must be a list/);
    expect(error(withV({ images: [1] }))).toMatch(/images\[0\] must be text/);
    expect(error(withV({ images: Array(LIMITS.images + 1).fill('busybox') }))).toMatch(/at most 10/);
    expect(error(withV({ commands: ['x'.repeat(LIMITS.command + 1)] }))).toMatch(/at most 1000/);
    expect(error(withV({ commands: [''] }))).toMatch(/is empty/);
    expect(error(withV({ layout: { tabs: 0 } }))).toMatch(/layout.tabs/);
    expect(error(withV({ layout: { tabs: 1.5 } }))).toMatch(/layout.tabs/);
    expect(error(withV({ layout: { tabs: 2, x: 1 } }))).toMatch(/unknown field "x"/);
    expect(error(withV({ files: [{ path: '/a', content: 1 }] }))).toMatch(/content must be text/);
    expect(error(withV({ files: [{ path: '/a' }] }))).toMatch(/lacks the field "content"/);
    expect(error(withV({ files: [{ path: '/a', content: '' }, { path: '/a', content: '' }] }))).toMatch(/twice/);
  });

  it('checks paths, references and commands', () => {
    for (const path of ['a.txt', '/root/../etc/passwd', '/root//a', '/root/a/', '/proc/sys/x', '/berth/layers/x', '/run/berth/docker.sock', '/a\nb']) {
      expect(error(withV({ files: [{ path, content: '' }] }))).toMatch(/files\[0\]\.path/);
    }
    for (const ref of ['Busy Box', 'busybox@sha256:short', 'a@md5:' + 'a'.repeat(32), '<script>.example/x', 'busybox:-bad']) {
      expect(error(withV({ images: [ref] }))).toMatch(/images\[0\]/);
    }
    for (const cmd of ['echo a\necho b', 'echo \u001b[2J', 'echo \u0003', ' leading', 'trailing ', 'echo \u009b']) {
      expect(error(withV({ commands: [cmd] }))).toMatch(/commands\[0\]/);
    }
  });

  it('says when a link would be too long, and reads links whose $ and + were percent-encoded', () => {
    let seed = 42;
    const noise = Array.from({ length: 16000 }, () => (Math.floor((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 20) % 36).toString(36)).join('');
    const r = scenarioLink('http://x/', { ...base, files: [{ path: '/root/big', content: noise }] });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(/limited to 8000/);
    const ok = scenarioLink('http://x/#old', base);
    expect(ok.ok && ok.link.startsWith('http://x/#s=')).toBe(true);
    const value = encodeScenario(base);
    expect(scenarioFromHash(`#s=${encodeURIComponent(value).replace(/\$/g, '%24')}`)).toBe(value);
    expect(scenarioFromHash('#other')).toBeUndefined();
  });
});

import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { RegistryClient } from '../../src/oci/registry-client.js';

/** A registry that asks for `scheme` auth on /v2/ and records the Authorization headers it gets. */
function fakeRegistry(scheme: 'basic' | 'bearer') {
  const seen: string[] = [];
  const fetchImpl: typeof fetch = async (input, init) => {
    const url = String(input);
    const auth = new Headers(init?.headers).get('Authorization');
    if (auth) seen.push(auth);
    if (url.startsWith('https://auth.example/token')) return Response.json({ token: 'T' });
    if (auth === 'Bearer T' || (scheme === 'basic' && auth)) return new Response('{}');
    const challenge = scheme === 'basic' ? 'Basic realm="registry"' : 'Bearer realm="https://auth.example/token",service="reg.example"';
    return new Response('', { status: 401, headers: { 'WWW-Authenticate': challenge } });
  };
  return { fetchImpl, seen };
}

const decodeBasic = (header: string) => Buffer.from(header.replace(/^Basic /, ''), 'base64').toString('utf8');

describe('registry credentials outside Latin-1', () => {
  const creds = { username: 'jürgen', password: 'pässwörd✓' };

  it('sends basic auth as the base64 of the UTF-8 bytes', async () => {
    const reg = fakeRegistry('basic');
    await new RegistryClient({ fetch: reg.fetchImpl }).verifyLogin('reg.example', creds);
    expect(reg.seen).toHaveLength(1);
    expect(decodeBasic(reg.seen[0]!)).toBe('jürgen:pässwörd✓');
  });

  it('encodes Latin-1 characters as UTF-8 too (as Docker does), not as single bytes', async () => {
    const reg = fakeRegistry('basic');
    await new RegistryClient({ fetch: reg.fetchImpl }).verifyLogin('reg.example', { username: 'u', password: 'pässwörd' });
    expect(Buffer.from(reg.seen[0]!.slice(6), 'base64')).toEqual(Buffer.from('u:pässwörd', 'utf8'));
  });

  it('asks the token server with them too', async () => {
    const reg = fakeRegistry('bearer');
    await new RegistryClient({ fetch: reg.fetchImpl }).verifyLogin('reg.example', creds);
    expect(decodeBasic(reg.seen.find((h) => h.startsWith('Basic '))!)).toBe('jürgen:pässwörd✓');
    expect(reg.seen.at(-1)).toBe('Bearer T');
  });
});

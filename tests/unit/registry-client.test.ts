import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseReference } from '../../src/oci/reference.js';
import { mergeScopes, RegistryClient, registryErrorText, uploadUrl } from '../../src/oci/registry-client.js';
import { MediaType } from '../../src/oci/types.js';

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

describe('push: pure parts', () => {
  it('adds digest= to an upload Location, relative or absolute, keeping its query', () => {
    const d = `sha256:${'a'.repeat(64)}`;
    expect(uploadUrl('/v2/me/app/blobs/uploads/u1', d, 'http://127.0.0.1:5000/v2/me/app/blobs/uploads/')).toBe(
      `http://127.0.0.1:5000/v2/me/app/blobs/uploads/u1?digest=sha256%3A${'a'.repeat(64)}`,
    );
    expect(uploadUrl('https://storage.example/up/u2?_state=ab%2Bc%3D%3D&x=1', d)).toBe(
      `https://storage.example/up/u2?_state=ab%2Bc%3D%3D&x=1&digest=sha256%3A${'a'.repeat(64)}`,
    );
    expect(uploadUrl('u3?_state=s', d, 'https://reg.example/v2/a/blobs/uploads/')).toBe(
      `https://reg.example/v2/a/blobs/uploads/u3?_state=s&digest=sha256%3A${'a'.repeat(64)}`,
    );
  });

  it('words a registry error as Docker prints it', () => {
    const body = (code: string, message: string) => JSON.stringify({ errors: [{ code, message, detail: [] }] });
    expect(registryErrorText(401, body('UNAUTHORIZED', 'authentication required'))).toBe('unauthorized: authentication required');
    expect(registryErrorText(403, body('DENIED', 'requested access to the resource is denied'))).toBe('denied: requested access to the resource is denied');
    expect(registryErrorText(404, body('NAME_UNKNOWN', 'repository name not known to registry'))).toBe('name unknown: repository name not known to registry');
    expect(registryErrorText(401, '')).toBe('unauthorized: authentication required');
    expect(registryErrorText(403, '<html>no</html>')).toBe('denied: requested access to the resource is denied');
    expect(registryErrorText(500, '')).toBeUndefined();
  });

  it('merges the scopes of one repository', () => {
    expect(mergeScopes(['repository:a:pull,push', 'repository:a:push,pull', 'repository:b:pull', ''])).toEqual(['repository:a:pull,push', 'repository:b:pull']);
    expect(mergeScopes(['repository:a:pull', 'repository:a:push'])).toEqual(['repository:a:pull,push']);
    expect(mergeScopes(['repository:host:5000/x:pull'])).toEqual(['repository:host:5000/x:pull']);
  });
});

/**
 * A registry in memory that speaks the upload protocol with bearer tokens;
 * `mount` decides how it answers a mount (201, 202 or 401), `failPuts` how
 * many blob PUTs fail with 503 first. Records every request.
 */
function uploadRegistry(opts: { mount?: 201 | 202 | 401; failPuts?: number; relative?: boolean; manifestDigest?: string } = {}) {
  const blobs = new Set<string>();
  const log: string[] = [];
  const tokenScopes: string[][] = [];
  let failPuts = opts.failPuts ?? 0;
  let uploads = 0;
  const fetchImpl: typeof fetch = async (input, init) => {
    const url = new URL(String(input));
    const method = init?.method ?? 'GET';
    const auth = new Headers(init?.headers).get('Authorization');
    if (url.host === 'auth.example') {
      tokenScopes.push(url.searchParams.getAll('scope'));
      return Response.json({ token: url.searchParams.getAll('scope').join(' ') });
    }
    const scopes = (auth ?? '').replace(/^Bearer /, '').split(' ');
    const need = url.searchParams.get('from') ? ['repository:me/app:pull,push', `repository:${url.searchParams.get('from')}:pull`] : ['repository:me/app:pull,push'];
    if (!need.every((s) => scopes.includes(s))) {
      return new Response(null, { status: 401, headers: { 'WWW-Authenticate': `Bearer realm="https://auth.example/token",service="reg"` } });
    }
    log.push(`${method} ${url.pathname}${url.search}`);
    const digest = url.pathname.split('/').at(-1)!;
    if (method === 'HEAD') return new Response(null, { status: blobs.has(digest) ? 200 : 404 });
    if (method === 'POST') {
      const mounted = url.searchParams.get('mount');
      // The token lacks pull on the source: what Distribution answers then.
      if (mounted && opts.mount === 401) return Response.json({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }, { status: 401 });
      if (mounted && opts.mount === 201) {
        blobs.add(mounted);
        return new Response(null, { status: 201, headers: { Location: `/v2/me/app/blobs/${mounted}` } });
      }
      const id = `u${++uploads}`;
      const location = opts.relative ? `/v2/me/app/blobs/uploads/${id}?_state=s${id}` : `https://reg.example/v2/me/app/blobs/uploads/${id}?_state=s${id}`;
      return new Response(null, { status: 202, headers: { Location: location, 'Docker-Upload-UUID': id } });
    }
    if (method === 'PUT' && url.pathname.includes('/blobs/uploads/')) {
      if (failPuts-- > 0) return new Response('busy', { status: 503 });
      const d = url.searchParams.get('digest')!;
      blobs.add(d);
      return new Response(null, { status: 201, headers: { 'Docker-Content-Digest': d } });
    }
    if (method === 'PUT' && url.pathname.includes('/manifests/')) {
      const bytes = new Uint8Array(init!.body as Uint8Array);
      const d = opts.manifestDigest ?? `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
      return new Response(null, { status: 201, headers: { 'Docker-Content-Digest': d } });
    }
    if (method === 'DELETE') return new Response(null, { status: 204 });
    return new Response(null, { status: 404 });
  };
  return { fetchImpl, log, blobs, tokenScopes };
}

describe('push: the upload protocol', () => {
  const ref = parseReference('reg.example/me/app:v1');
  const bytes = new TextEncoder().encode('layer bytes');
  const desc = { mediaType: MediaType.OciLayerGzip, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, size: bytes.length };
  const read = async () => bytes;

  it('uploads a blob the repository lacks: HEAD, POST, PUT to the Location with the digest', async () => {
    const reg = uploadRegistry({ relative: true });
    const client = new RegistryClient({ fetch: reg.fetchImpl });
    expect(await client.pushBlob(ref, desc, read)).toEqual({ status: 'pushed' });
    expect(reg.log).toEqual([
      `HEAD /v2/me/app/blobs/${desc.digest}`,
      'POST /v2/me/app/blobs/uploads/',
      `PUT /v2/me/app/blobs/uploads/u1?_state=su1&digest=${encodeURIComponent(desc.digest)}`,
    ]);
    expect(reg.tokenScopes).toEqual([['repository:me/app:pull,push']]);
    // Now it exists.
    expect(await client.pushBlob(ref, desc, read)).toEqual({ status: 'exists' });
  });

  it('mounts from another repository with a token for both', async () => {
    const reg = uploadRegistry({ mount: 201 });
    const client = new RegistryClient({ fetch: reg.fetchImpl });
    expect(await client.pushBlob(ref, desc, read, { mountFrom: ['me/app', 'library/base'] })).toEqual({ status: 'mounted', from: 'library/base' });
    expect(reg.tokenScopes.at(-1)).toEqual(['repository:me/app:pull,push', 'repository:library/base:pull']);
    expect(reg.log.some((l) => l.startsWith('PUT'))).toBe(false);
  });

  it('uploads into the session a 202 to a mount started', async () => {
    const reg = uploadRegistry({ mount: 202 });
    const client = new RegistryClient({ fetch: reg.fetchImpl });
    expect(await client.pushBlob(ref, desc, read, { mountFrom: ['other/app'] })).toEqual({ status: 'pushed' });
    const posts = reg.log.filter((l) => l.startsWith('POST'));
    expect(posts).toEqual([`POST /v2/me/app/blobs/uploads/?mount=${encodeURIComponent(desc.digest)}&from=other%2Fapp`]);
    expect(reg.log.at(-1)).toBe(`PUT /v2/me/app/blobs/uploads/u1?_state=su1&digest=${encodeURIComponent(desc.digest)}`);
  });

  it('uploads when the mount is refused (no access to the source)', async () => {
    const reg = uploadRegistry({ mount: 401 });
    const client = new RegistryClient({ fetch: reg.fetchImpl });
    expect(await client.pushBlob(ref, desc, read, { mountFrom: ['secret/app'] })).toEqual({ status: 'pushed' });
    expect(reg.log.filter((l) => l.startsWith('POST')).at(-1)).toBe('POST /v2/me/app/blobs/uploads/');
    expect(reg.blobs.has(desc.digest)).toBe(true);
  });

  it('retries a PUT the registry answers with 503', async () => {
    const reg = uploadRegistry({ failPuts: 1 });
    const client = new RegistryClient({ fetch: reg.fetchImpl });
    expect(await client.pushBlob(ref, desc, read)).toEqual({ status: 'pushed' });
    expect(reg.log.filter((l) => l.startsWith('PUT'))).toHaveLength(2);
  });

  it('puts a manifest with its media type and refuses a registry that stored another digest', async () => {
    const manifest = new TextEncoder().encode('{"schemaVersion":2}');
    const reg = uploadRegistry();
    const client = new RegistryClient({ fetch: reg.fetchImpl });
    expect(await client.putManifest(ref, 'v1', MediaType.OciManifest, manifest)).toBe(`sha256:${createHash('sha256').update(manifest).digest('hex')}`);
    const lying = uploadRegistry({ manifestDigest: `sha256:${'0'.repeat(64)}` });
    await expect(new RegistryClient({ fetch: lying.fetchImpl }).putManifest(ref, 'v1', MediaType.OciManifest, manifest)).rejects.toThrow(/the registry says it stored sha256:0{64}/);
  });

  it('pushes to the registry itself, not to its pull mirror', async () => {
    const client = new RegistryClient({ mirrors: { 'docker.io': 'http://mirror.example:5000' } });
    expect(client.endpoint('docker.io')).toBe('http://mirror.example:5000');
    expect(client.pushEndpoint('docker.io')).toBe('https://registry-1.docker.io');
    expect(client.pushEndpoint('127.0.0.1:5000')).toBe('http://127.0.0.1:5000');
  });
});

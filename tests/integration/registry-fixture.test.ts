/**
 * Proves the registry and OCI-layout fixtures work end to end, with nothing but skopeo and fetch:
 * layouts built here are pushed into a real Distribution registry and read back over HTTP.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { unpackTar } from 'modern-tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaType, type ImageConfig, type ImageIndex, type ImageManifest } from '../../src/oci/types.js';
import {
  buildAmd64OnlyImage,
  buildMultiLayerImage,
  buildMultiPlatformImage,
  gunzip,
  removeLayout,
  type IndexLayout,
  type MultiLayerImage,
} from '../fixtures/oci-layouts.js';
import { startRegistry, type TestRegistry } from '../fixtures/registry.js';

const run = promisify(execFile);

const ACCEPT = [MediaType.OciIndex, MediaType.OciManifest, MediaType.DockerManifestList, MediaType.DockerManifest].join(', ');
const sha256 = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const basic = (u: string, p: string): string => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

async function getBytes(url: string, headers: Record<string, string> = {}): Promise<{ res: Response; body: Uint8Array }> {
  const res = await fetch(url, { headers });
  return { res, body: new Uint8Array(await res.arrayBuffer()) };
}

async function getJson<T>(url: string, headers: Record<string, string> = {}): Promise<{ res: Response; body: Uint8Array; json: T }> {
  const r = await getBytes(url, { Accept: ACCEPT, ...headers });
  expect(r.res.status, `${url}: ${new TextDecoder().decode(r.body)}`).toBe(200);
  return { ...r, json: JSON.parse(new TextDecoder().decode(r.body)) as T };
}

/** Parses `Bearer realm="...",service="...",scope="..."`. */
function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const [, scheme = '', rest = ''] = /^(\S+)\s+(.*)$/.exec(header) ?? [];
  const params: Record<string, string> = {};
  for (const m of rest.matchAll(/(\w+)="([^"]*)"/g)) params[m[1]!] = m[2]!;
  return { scheme, params };
}

let multi: MultiLayerImage;
let multiPlatform: IndexLayout;
let amd64Only: IndexLayout;
let open: TestRegistry;
let token: TestRegistry;
let basicReg: TestRegistry;

beforeAll(async () => {
  [multi, multiPlatform, amd64Only, open, token, basicReg] = await Promise.all([
    buildMultiLayerImage(),
    buildMultiPlatformImage(),
    buildAmd64OnlyImage(),
    startRegistry(),
    startRegistry({ auth: 'token' }),
    startRegistry({ auth: 'basic' }),
  ]);
  await Promise.all([
    open.push(multi.dir, 'berth/multilayer:v1'),
    open.push(multiPlatform.dir, 'berth/multiplatform:v1', { all: true }),
    open.push(amd64Only.dir, 'berth/amd64only:v1', { all: true }),
    token.push(multi.dir, 'berth/private:v1'),
    basicReg.push(multi.dir, 'berth/private:v1'),
  ]);
});

afterAll(async () => {
  await Promise.all([open?.stop(), token?.stop(), basicReg?.stop()]);
  await Promise.all([multi, multiPlatform, amd64Only].filter(Boolean).map((l) => removeLayout(l.dir)));
});

describe('registry without auth', () => {
  it('serves the multi-layer manifest with the digest it was built with', async () => {
    const { res, body, json } = await getJson<ImageManifest>(`${open.url}/v2/berth/multilayer/manifests/v1`);
    expect(res.headers.get('content-type')).toBe(MediaType.OciManifest);
    expect(res.headers.get('docker-content-digest')).toBe(multi.digest);
    expect(sha256(body)).toBe(multi.digest);
    expect(json.layers).toHaveLength(3);
    expect(json).toEqual(multi.image.manifest);
  });

  it('serves config and layer blobs whose sha256 matches their digest', async () => {
    const m = multi.image.manifest;
    const cfg = await getBytes(`${open.url}/v2/berth/multilayer/blobs/${m.config.digest}`);
    expect(cfg.res.status).toBe(200);
    expect(sha256(cfg.body)).toBe(m.config.digest);
    const config = JSON.parse(new TextDecoder().decode(cfg.body)) as ImageConfig;
    expect(config).toMatchObject({ architecture: '386', os: 'linux', config: { Cmd: ['sh'] } });
    expect(config.history).toHaveLength(3);
    for (const [i, layer] of m.layers.entries()) {
      const blob = await getBytes(`${open.url}/v2/berth/multilayer/blobs/${layer.digest}`);
      expect(blob.res.status).toBe(200);
      expect(blob.body.length).toBe(layer.size);
      expect(sha256(blob.body)).toBe(layer.digest);
      expect(sha256(await gunzip(blob.body))).toBe(config.rootfs.diff_ids[i]);
    }
  });

  it('puts whiteouts, an opaque marker and links in the upper layers', async () => {
    const [, l2, l3] = multi.image.manifest.layers;
    const names = async (digest: string) => {
      const blob = await getBytes(`${open.url}/v2/berth/multilayer/blobs/${digest}`);
      return (await unpackTar(await gunzip(blob.body))).map((e) => `${e.header.type}:${e.header.name}`);
    };
    expect(await names(l2!.digest)).toEqual(
      expect.arrayContaining(['file:data/keep/.wh.b.txt', 'file:data/old/.wh..wh..opq', 'symlink:data/new-link', 'link:data/new-hard.txt']),
    );
    expect(await names(l3!.digest)).toEqual(expect.arrayContaining(['file:data/.wh.gone', 'symlink:etc/motd.link']));
  });

  it('sends CORS headers on a GET with an Origin', async () => {
    const res = await fetch(`${open.url}/v2/berth/multilayer/manifests/v1`, {
      headers: { Accept: ACCEPT, Origin: 'http://localhost:5173' },
    });
    await res.arrayBuffer();
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-expose-headers')).toContain('Docker-Content-Digest');
    expect(res.headers.get('access-control-expose-headers')).toContain('WWW-Authenticate');
    expect(res.headers.get('access-control-allow-headers')).toContain('Authorization');
  });

  it('answers a CORS preflight on an open registry', async () => {
    const res = await fetch(`${open.url}/v2/berth/multilayer/manifests/v1`, {
      method: 'OPTIONS',
      headers: { Origin: 'http://localhost:5173', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'accept' },
    });
    await res.arrayBuffer();
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('serves the multi-platform index and each platform image', async () => {
    const { res, json } = await getJson<ImageIndex>(`${open.url}/v2/berth/multiplatform/manifests/v1`);
    expect(res.headers.get('content-type')).toBe(MediaType.OciIndex);
    expect(res.headers.get('docker-content-digest')).toBe(multiPlatform.digest);
    expect(json.manifests.map((m) => m.platform)).toEqual([
      { architecture: 'amd64', os: 'linux' },
      { architecture: 'arm64', os: 'linux', variant: 'v8' },
      { architecture: '386', os: 'linux' },
    ]);
    for (const desc of json.manifests) {
      const m = await getJson<ImageManifest>(`${open.url}/v2/berth/multiplatform/manifests/${desc.digest}`);
      expect(sha256(m.body)).toBe(desc.digest);
      const top = m.json.layers.at(-1)!;
      const blob = await getBytes(`${open.url}/v2/berth/multiplatform/blobs/${top.digest}`);
      expect(sha256(blob.body)).toBe(top.digest);
      const files = await unpackTar(await gunzip(blob.body));
      const p = desc.platform!;
      expect(new TextDecoder().decode(files.find((f) => f.header.name === 'platform')!.data)).toBe(
        `${[p.os, p.architecture, p.variant].filter(Boolean).join('/')}\n`,
      );
    }
    // The 386 image carries busybox too, so it can run.
    const i386 = json.manifests[2]!;
    const m = await getJson<ImageManifest>(`${open.url}/v2/berth/multiplatform/manifests/${i386.digest}`);
    expect(m.json.layers).toHaveLength(2);
  });

  it('serves an index whose only manifest is linux/amd64', async () => {
    const { json } = await getJson<ImageIndex>(`${open.url}/v2/berth/amd64only/manifests/v1`);
    expect(json.mediaType).toBe(MediaType.OciIndex);
    expect(json.manifests).toHaveLength(1);
    expect(json.manifests[0]!.platform).toEqual({ architecture: 'amd64', os: 'linux' });
  });

  it('is readable with skopeo inspect', async () => {
    const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', '--no-creds', `docker://${open.host}/berth/multilayer:v1`]);
    const info = JSON.parse(stdout) as { Digest: string; Architecture: string; Os: string; Layers: string[] };
    expect(info).toMatchObject({ Digest: multi.digest, Architecture: '386', Os: 'linux' });
    expect(info.Layers).toHaveLength(3);
    const raw = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', '--no-creds', `docker://${open.host}/berth/multiplatform:v1`]);
    expect(sha256(new TextEncoder().encode(raw.stdout))).toBe(multiPlatform.digest);
  });

  it('answers 404 MANIFEST_UNKNOWN for a missing tag', async () => {
    const r = await getBytes(`${open.url}/v2/berth/multilayer/manifests/nope`, { Accept: ACCEPT });
    expect(r.res.status).toBe(404);
    expect(new TextDecoder().decode(r.body)).toContain('MANIFEST_UNKNOWN');
  });
});

describe('registry with token auth', () => {
  const manifestUrl = () => `${token.url}/v2/berth/private/manifests/v1`;

  it('challenges an anonymous manifest GET with a Bearer realm, service and scope', async () => {
    const r = await getBytes(manifestUrl(), { Accept: ACCEPT, Origin: 'http://localhost:5173' });
    expect(r.res.status).toBe(401);
    expect(r.res.headers.get('access-control-allow-origin')).toBe('*');
    const { scheme, params } = parseChallenge(r.res.headers.get('www-authenticate') ?? '');
    expect(scheme).toBe('Bearer');
    expect(params).toEqual({ realm: token.realm, service: token.service, scope: 'repository:berth/private:pull' });
  });

  it('accepts a token fetched with the right password', async () => {
    const tr = await fetch(`${token.realm}?service=${token.service}&scope=repository:berth/private:pull`, {
      headers: { Authorization: basic('tester', 'secret') },
    });
    expect(tr.status).toBe(200);
    const body = (await tr.json()) as { token: string; access_token: string; expires_in: number; issued_at: string };
    expect(body.access_token).toBe(body.token);
    expect(body.expires_in).toBeGreaterThan(0);
    const header = JSON.parse(Buffer.from(body.token.split('.')[0]!, 'base64url').toString()) as Record<string, unknown>;
    expect(header).toMatchObject({ alg: 'RS256', typ: 'JWT' });
    expect(header.kid).toMatch(/^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$/);
    const r = await getJson<ImageManifest>(manifestUrl(), { Authorization: `Bearer ${body.token}` });
    expect(r.res.headers.get('docker-content-digest')).toBe(multi.digest);
    const layer = multi.image.manifest.layers[0]!;
    const blob = await getBytes(`${token.url}/v2/berth/private/blobs/${layer.digest}`, { Authorization: `Bearer ${body.token}` });
    expect(blob.res.status).toBe(200);
    expect(sha256(blob.body)).toBe(layer.digest);
  });

  it('gives anonymous callers a token with no access', async () => {
    const tr = await fetch(`${token.realm}?service=${token.service}&scope=repository:berth/private:pull`);
    expect(tr.status).toBe(200);
    const { token: t } = (await tr.json()) as { token: string };
    const r = await getBytes(manifestUrl(), { Accept: ACCEPT, Authorization: `Bearer ${t}` });
    expect(r.res.status).toBe(401);
    expect(parseChallenge(r.res.headers.get('www-authenticate') ?? '').params.error).toBe('insufficient_scope');
  });

  it('refuses a wrong password at the token server', async () => {
    const tr = await fetch(`${token.realm}?service=${token.service}&scope=repository:berth/private:pull`, {
      headers: { Authorization: basic('tester', 'wrong') },
    });
    await tr.arrayBuffer();
    expect(tr.status).toBe(401);
  });

  it('was pushed to by skopeo with a pull,push token', () => {
    expect(token.tokenRequests.some((t) => t.user === 'tester' && t.granted.some((g) => g.name === 'berth/private' && g.actions.includes('push')))).toBe(true);
  });
});

describe('registry with basic auth', () => {
  it('challenges with Basic and serves the manifest with the right password', async () => {
    const url = `${basicReg.url}/v2/berth/private/manifests/v1`;
    const anon = await getBytes(url, { Accept: ACCEPT });
    expect(anon.res.status).toBe(401);
    expect(parseChallenge(anon.res.headers.get('www-authenticate') ?? '').scheme).toBe('Basic');
    const wrong = await getBytes(url, { Accept: ACCEPT, Authorization: basic('tester', 'wrong') });
    expect(wrong.res.status).toBe(401);
    const ok = await getJson<ImageManifest>(url, { Authorization: basic('tester', 'secret') });
    expect(ok.res.headers.get('docker-content-digest')).toBe(multi.digest);
  });
});

describe('layout builds', () => {
  it('are deterministic', async () => {
    const again = await buildMultiLayerImage();
    try {
      expect(again.digest).toBe(multi.digest);
    } finally {
      await removeLayout(again.dir);
    }
  });
});

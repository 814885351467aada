import { sha256Hex } from './digest.js';
import { availablePlatforms, choosePlatform, formatPlatform, GUEST_PLATFORM } from './platform.js';
import { familiarName, familiarString, type ImageReference } from './reference.js';
import { MediaType, type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest, type Platform } from './types.js';

/**
 * A client of the OCI distribution spec: manifests and blobs, with Docker's
 * token flow (anonymous or with credentials), basic auth, mirrors, retries.
 */

export interface Credentials {
  username: string;
  password: string;
}

export interface RegistryClientOptions {
  /**
   * Base URL to use for a registry host instead of its own, e.g.
   * `{ 'docker.io': 'http://127.0.0.1:5000' }`: a pull-through mirror or a
   * CORS proxy (Docker Hub sends no CORS headers, so a page needs one).
   */
  mirrors?: Record<string, string>;
  /** Credentials for a registry host. */
  credentials?: (host: string) => Credentials | undefined;
  /** Attempts for a request that failed on the network or with 5xx/429. */
  attempts?: number;
  fetch?: typeof fetch;
}

export type RegistryErrorKind = 'unauthorized' | 'not-found' | 'bad-manifest' | 'platform' | 'network' | 'protocol';

export class RegistryError extends Error {
  override readonly name = 'RegistryError';
  constructor(
    readonly kind: RegistryErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface ResolvedImage {
  /** Digest of the platform manifest. */
  manifestDigest: string;
  manifest: ImageManifest;
  manifestBytes: Uint8Array;
  manifestMediaType: string;
  /** The index the manifest was chosen from, when there was one. */
  index?: { digest: string; bytes: Uint8Array; mediaType: string };
}

const MANIFEST_ACCEPT = [
  MediaType.OciIndex,
  MediaType.OciManifest,
  MediaType.DockerManifestList,
  MediaType.DockerManifest,
].join(', ');

const isIndex = (t: string) => t === MediaType.OciIndex || t === MediaType.DockerManifestList;

function isLoopbackHost(host: string): boolean {
  const h = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\./.test(h);
}

export class RegistryClient {
  private readonly tokens = new Map<string, string>();
  private readonly fetchImpl: typeof fetch;
  private readonly attempts: number;

  private stored: ((host: string) => Credentials | undefined) | undefined;

  constructor(private readonly options: RegistryClientOptions = {}) {
    this.fetchImpl = options.fetch ?? ((...a) => fetch(...a));
    this.attempts = options.attempts ?? 3;
  }

  /** Credentials from `login`, used when the options give none for a host. */
  useStoredCredentials(fn: (host: string) => Credentials | undefined): void {
    this.stored = fn;
  }

  private credentialsFor(host: string): Credentials | undefined {
    return this.options.credentials?.(host) ?? this.stored?.(host);
  }

  /**
   * `login`: checks credentials against a registry's /v2/ endpoint (basic or
   * token auth). Resolves when they are accepted; rejects with 'unauthorized'.
   */
  async verifyLogin(domain: string, creds: Credentials): Promise<void> {
    const url = `${this.endpoint(domain)}/v2/`;
    let res: Response;
    try {
      res = await this.fetchImpl(url);
    } catch (e) {
      throw new RegistryError('network', `cannot reach ${this.endpoint(domain)}: ${networkReason(e)}`, { cause: e });
    }
    if (res.ok) return void (await res.body?.cancel());
    if (res.status !== 401) throw new RegistryError('protocol', `${url}: HTTP ${res.status}`);
    const challenge = res.headers.get('WWW-Authenticate') ?? '';
    await res.body?.cancel();
    const ref = { domain, path: '' } as ImageReference;
    const auth = await this.authorize(ref, challenge, [], creds);
    const check = await this.fetchImpl(url, { headers: { Authorization: auth } });
    await check.body?.cancel();
    if (check.status === 401 || check.status === 403) throw new RegistryError('unauthorized', `login to ${domain}: unauthorized: incorrect username or password`);
  }

  /** Base URL for a registry host: its mirror, else https (http for loopback, as Docker's insecure default). */
  endpoint(domain: string): string {
    const mirror = this.options.mirrors?.[domain];
    if (mirror) return mirror.replace(/\/$/, '');
    if (domain === 'docker.io') return 'https://registry-1.docker.io';
    return `${isLoopbackHost(domain) ? 'http' : 'https'}://${domain}`;
  }

  /**
   * Base URL pushes go to: the registry itself, never its mirror (a
   * pull-through cache takes no pushes; Docker pushes to the registry too).
   */
  pushEndpoint(domain: string): string {
    if (domain === 'docker.io') return 'https://registry-1.docker.io';
    return `${isLoopbackHost(domain) ? 'http' : 'https'}://${domain}`;
  }

  /** Resolves a reference to the linux/386 manifest, checking every digest. */
  async resolve(ref: ImageReference, platform: Platform = GUEST_PLATFORM): Promise<ResolvedImage> {
    const top = await this.fetchManifest(ref, ref.digest ?? ref.tag ?? 'latest');
    if (!isIndex(top.mediaType)) {
      const manifest = top.json as ImageManifest;
      return { manifestDigest: top.digest, manifest, manifestBytes: top.bytes, manifestMediaType: top.mediaType };
    }
    const index = top.json as ImageIndex;
    const chosen = choosePlatform(index.manifests ?? [], platform);
    if (!chosen) {
      const have = availablePlatforms(index.manifests ?? []);
      throw new RegistryError(
        'platform',
        `no matching manifest for ${formatPlatform(platform)} in the manifest list entries of ${familiarString(ref)}` +
          ` (available: ${have.join(', ') || 'none'}). Berth runs 32-bit x86 images only; pick an image that publishes linux/386.`,
      );
    }
    const m = await this.fetchManifest(ref, chosen.digest);
    if (isIndex(m.mediaType)) throw new RegistryError('bad-manifest', `manifest ${chosen.digest} of ${familiarString(ref)} is an index inside an index`);
    return {
      manifestDigest: m.digest,
      manifest: m.json as ImageManifest,
      manifestBytes: m.bytes,
      manifestMediaType: m.mediaType,
      index: { digest: top.digest, bytes: top.bytes, mediaType: top.mediaType },
    };
  }

  /** Fetches and checks the config blob; refuses an image for another platform. */
  async fetchConfig(ref: ImageReference, desc: Descriptor): Promise<{ bytes: Uint8Array; config: ImageConfig }> {
    const res = await this.request(ref, `/blobs/${desc.digest}`, {});
    const bytes = new Uint8Array(await res.arrayBuffer());
    const got = `sha256:${await sha256Hex(bytes)}`;
    if (got !== desc.digest) throw new RegistryError('protocol', `config blob of ${familiarString(ref)} has digest ${got}, expected ${desc.digest}`);
    let config: ImageConfig;
    try {
      config = JSON.parse(new TextDecoder().decode(bytes)) as ImageConfig;
    } catch (e) {
      throw new RegistryError('bad-manifest', `config blob ${desc.digest} of ${familiarString(ref)} is not valid JSON`, { cause: e });
    }
    if (config.os !== GUEST_PLATFORM.os || config.architecture !== GUEST_PLATFORM.architecture) {
      throw new RegistryError(
        'platform',
        `image ${familiarString(ref)} is for ${config.os}/${config.architecture}, not linux/386. Berth runs 32-bit x86 images only.`,
      );
    }
    return { bytes, config };
  }

  /** Streams a blob; the caller verifies it while storing (see src/store). */
  async fetchBlob(ref: ImageReference, desc: Descriptor): Promise<ReadableStream<Uint8Array>> {
    const res = await this.request(ref, `/blobs/${desc.digest}`, {});
    if (!res.body) throw new RegistryError('protocol', `empty response for blob ${desc.digest}`);
    return res.body;
  }

  private async fetchManifest(ref: ImageReference, reference: string) {
    const res = await this.request(ref, `/manifests/${reference}`, { Accept: MANIFEST_ACCEPT });
    const bytes = new Uint8Array(await res.arrayBuffer());
    let json: { mediaType?: string; manifests?: unknown; layers?: unknown; config?: unknown };
    try {
      json = JSON.parse(new TextDecoder().decode(bytes));
    } catch (e) {
      throw new RegistryError('bad-manifest', `manifest for ${familiarString(ref)} is not valid JSON`, { cause: e });
    }
    const digest = `sha256:${await sha256Hex(bytes)}`;
    if (reference.startsWith('sha256:') && digest !== reference) {
      throw new RegistryError('protocol', `manifest of ${familiarString(ref)} has digest ${digest}, expected ${reference}`);
    }
    const header = res.headers.get('Docker-Content-Digest');
    if (header && header.startsWith('sha256:') && header !== digest) {
      throw new RegistryError('protocol', `manifest of ${familiarString(ref)} has digest ${digest}, the registry says ${header}`);
    }
    const mediaType = json.mediaType ?? res.headers.get('Content-Type')?.split(';')[0] ?? '';
    if (isIndex(mediaType) ? !Array.isArray(json.manifests) : !Array.isArray(json.layers) || typeof json.config !== 'object') {
      throw new RegistryError('bad-manifest', `manifest for ${familiarString(ref)} has an unsupported form (media type "${mediaType}")`);
    }
    return { bytes, digest, mediaType, json };
  }

  /** A pull's GET of `/v2/<name><path>`, with pull's messages for its failures. */
  private request(ref: ImageReference, path: string, headers: Record<string, string>): Promise<Response> {
    return this.send(ref, `${this.endpoint(ref.domain)}/v2/${ref.path}${path}`, { headers, scopes: [pullScope(ref.path)], action: 'pull' });
  }

  // -------------------------------------------------------------------------------------------
  // Push (distribution spec: "Pushing blobs", "Mounting a blob from another repository",
  // "Pushing manifests")

  /** Whether the repository has the blob (`HEAD /v2/<name>/blobs/<digest>`). */
  async blobExists(ref: ImageReference, digest: string): Promise<boolean> {
    const res = await this.send(ref, `${this.blobsUrl(ref)}/${digest}`, { method: 'HEAD', scopes: [pushScope(ref.path)], action: 'push', accept: [404] });
    await res.body?.cancel();
    return res.ok;
  }

  /**
   * Makes sure the repository `ref` names has a blob: 'exists' when it had it;
   * 'mounted' when the registry mounted it from one of `mountFrom`
   * (repositories of the same registry the blob is known to be in, tried in
   * order; a registry that answers 202, or refuses, starts an upload
   * instead); else 'pushed', by a monolithic upload of `read()`'s bytes.
   * `onUpload` is called when the bytes start to go.
   */
  async pushBlob(
    ref: ImageReference,
    desc: Descriptor,
    read: () => Promise<Uint8Array>,
    opts: { mountFrom?: string[]; onUpload?: () => void } = {},
  ): Promise<BlobPushResult> {
    if (await this.blobExists(ref, desc.digest)) return { status: 'exists' };
    let location: string | undefined;
    for (const from of (opts.mountFrom ?? []).filter((r) => r !== ref.path).slice(0, MAX_MOUNT_ATTEMPTS)) {
      const url = `${this.blobsUrl(ref)}/uploads/?mount=${encodeURIComponent(desc.digest)}&from=${encodeURIComponent(from)}`;
      let res: Response;
      try {
        res = await this.send(ref, url, { method: 'POST', scopes: [pushScope(ref.path), pullScope(from)], action: 'push' });
      } catch (e) {
        // No access to `from`, or a registry that refuses mounts: an upload may still work.
        if (e instanceof RegistryError && e.kind !== 'network') continue;
        throw e;
      }
      await res.body?.cancel();
      if (res.status === 201) {
        if (location) void this.cancelUpload(ref, location);
        return { status: 'mounted', from };
      }
      const started = res.headers.get('Location');
      if (!started) continue;
      if (location) void this.cancelUpload(ref, location);
      location = new URL(started, url).href;
    }
    if (!location) {
      const url = `${this.blobsUrl(ref)}/uploads/`;
      const res = await this.send(ref, url, { method: 'POST', scopes: [pushScope(ref.path)], action: 'push' });
      await res.body?.cancel();
      const started = res.headers.get('Location');
      if (res.status !== 202 || !started) {
        throw new RegistryError('protocol', `${url}: the registry answered HTTP ${res.status}${started ? '' : ' without a Location'} to the start of an upload`);
      }
      location = new URL(started, url).href;
    }
    const bytes = await read();
    opts.onUpload?.();
    const res = await this.send(ref, uploadUrl(location, desc.digest), {
      method: 'PUT',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: bytes,
      scopes: [pushScope(ref.path)],
      action: 'push',
    });
    await res.body?.cancel();
    const said = res.headers.get('Docker-Content-Digest');
    if (said && said !== desc.digest) {
      throw new RegistryError('protocol', `the registry stored blob ${desc.digest} of ${familiarName(ref)} as ${said}`);
    }
    return { status: 'pushed' };
  }

  /**
   * Puts a manifest under a tag (or its digest), as the bytes and media type
   * given: the digest stays the one the store has. Resolves with its digest;
   * refuses a registry that says it stored another.
   */
  async putManifest(ref: ImageReference, reference: string, mediaType: string, bytes: Uint8Array): Promise<string> {
    const digest = `sha256:${await sha256Hex(bytes)}`;
    const res = await this.send(ref, `${this.pushEndpoint(ref.domain)}/v2/${ref.path}/manifests/${reference}`, {
      method: 'PUT',
      headers: { 'Content-Type': mediaType },
      body: bytes,
      scopes: [pushScope(ref.path)],
      action: 'push',
    });
    await res.body?.cancel();
    const said = res.headers.get('Docker-Content-Digest');
    if (said && said !== digest) {
      throw new RegistryError('protocol', `manifest of ${familiarName(ref)}:${reference} has digest ${digest}, the registry says it stored ${said}`);
    }
    return digest;
  }

  private blobsUrl(ref: ImageReference): string {
    return `${this.pushEndpoint(ref.domain)}/v2/${ref.path}/blobs`;
  }

  /** Abandons an upload a mount attempt started (best effort: the registry purges stale ones anyway). */
  private async cancelUpload(ref: ImageReference, location: string): Promise<void> {
    try {
      const res = await this.send(ref, location, { method: 'DELETE', scopes: [pushScope(ref.path)], action: 'push', accept: [404], attempts: 1 });
      await res.body?.cancel();
    } catch {
      /* the registry purges it */
    }
  }

  /**
   * One registry request with auth negotiation (a bearer token per set of
   * scopes) and retries on network errors, 5xx and 429. Resolves with a 2xx
   * response or one whose status is in `accept`; any other is an error whose
   * text is the pull's or, for a push, the registry's own (`denied: …`).
   */
  private async send(
    ref: ImageReference,
    url: string,
    opts: {
      method?: string;
      headers?: Record<string, string>;
      body?: Uint8Array;
      scopes: string[];
      action: 'pull' | 'push';
      accept?: number[];
      attempts?: number;
    },
  ): Promise<Response> {
    const scopes = mergeScopes(opts.scopes);
    const tokenKey = `${ref.domain} ${scopes.join(' ')}`;
    const attempts = opts.attempts ?? this.attempts;
    let authTried = false;
    for (let attempt = 1; ; attempt++) {
      const h: Record<string, string> = { ...opts.headers };
      const token = this.tokens.get(tokenKey);
      if (token) h['Authorization'] = token;
      let res: Response;
      try {
        res = await this.fetchImpl(url, {
          method: opts.method ?? 'GET',
          headers: h,
          ...(opts.body ? { body: opts.body as Uint8Array<ArrayBuffer> } : {}),
        });
      } catch (e) {
        if (attempt < attempts) {
          await delay(attempt);
          continue;
        }
        const base = new URL(url).origin;
        const hint =
          ref.domain === 'docker.io' && (opts.action === 'push' || !this.options.mirrors?.['docker.io'])
            ? opts.action === 'push'
              ? ' (Docker Hub sends no CORS headers: a page cannot push to it)'
              : ' (Docker Hub sends no CORS headers; a page needs a registry mirror, see the README)'
            : '';
        throw new RegistryError('network', `cannot reach ${base} for ${familiarName(ref)}: ${networkReason(e)}${hint}`, { cause: e });
      }
      if (res.status === 401 && !authTried) {
        authTried = true;
        const challenge = res.headers.get('WWW-Authenticate') ?? '';
        await res.body?.cancel();
        this.tokens.set(tokenKey, await this.authorize(ref, challenge, scopes));
        continue;
      }
      if ((res.status >= 500 || res.status === 429) && attempt < attempts) {
        await res.body?.cancel();
        await delay(attempt);
        continue;
      }
      if (res.ok || opts.accept?.includes(res.status)) return res;
      const text = await res.text().catch(() => '');
      if (opts.action === 'push') {
        const kind = res.status === 401 || res.status === 403 ? 'unauthorized' : res.status === 404 ? 'not-found' : 'protocol';
        throw new RegistryError(kind, registryErrorText(res.status, text) ?? `${opts.method ?? 'GET'} ${url}: HTTP ${res.status}`);
      }
      const code = /"code"\s*:\s*"([A-Z_]+)"/.exec(text)?.[1];
      const path = url.slice(`${this.endpoint(ref.domain)}/v2/${ref.path}`.length);
      if (res.status === 401 || res.status === 403) {
        throw new RegistryError(
          'unauthorized',
          `pull access denied for ${familiarName(ref)}, repository does not exist or may require 'berth login': ${code === 'DENIED' ? 'denied: requested access to the resource is denied' : 'unauthorized: authentication required'}`,
        );
      }
      if (res.status === 404) {
        throw new RegistryError(
          'not-found',
          path.startsWith('/manifests/') ? `manifest for ${familiarString(ref)} not found: manifest unknown` : `blob ${path.slice(7)} of ${familiarName(ref)} not found`,
        );
      }
      throw new RegistryError('protocol', `${url}: HTTP ${res.status}${code ? ` (${code})` : ''}`);
    }
  }

  /**
   * Answers a 401 challenge: a bearer token from the realm, or basic
   * credentials. The token is asked for `scopes` and those the challenge
   * names, each as a `scope` parameter of its own (as Docker asks).
   */
  private async authorize(ref: ImageReference, challenge: string, scopes: string[], given?: Credentials): Promise<string> {
    const creds = given ?? this.credentialsFor(ref.domain);
    const basic = creds ? basicAuthorization(creds) : undefined;
    const [scheme, ...rest] = challenge.split(' ');
    if (scheme?.toLowerCase() === 'basic') {
      if (!basic) throw new RegistryError('unauthorized', `${ref.domain} requires a login: run 'berth login ${ref.domain}'`);
      return basic;
    }
    if (scheme?.toLowerCase() !== 'bearer') throw new RegistryError('protocol', `unsupported auth challenge from ${ref.domain}: "${challenge}"`);
    const params = Object.fromEntries([...rest.join(' ').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (!params['realm']) throw new RegistryError('protocol', `auth challenge from ${ref.domain} has no realm`);
    const url = new URL(params['realm']);
    if (params['service']) url.searchParams.set('service', params['service']);
    for (const scope of mergeScopes([...scopes, ...(params['scope'] ?? '').split(' ')])) url.searchParams.append('scope', scope);
    let res: Response;
    try {
      res = await this.fetchImpl(url, { headers: basic ? { Authorization: basic } : {} });
    } catch (e) {
      throw new RegistryError('network', `cannot reach the token server ${url.origin}: ${networkReason(e)}`, { cause: e });
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw new RegistryError('unauthorized', `${ref.domain}: unauthorized: incorrect username or password`);
    }
    if (!res.ok) throw new RegistryError('protocol', `token server ${url.origin}: HTTP ${res.status}`);
    const body = (await res.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new RegistryError('protocol', `token server ${url.origin} returned no token`);
    return `Bearer ${token}`;
  }
}

/** What `pushBlob` did. */
export type BlobPushResult = { status: 'exists' } | { status: 'mounted'; from: string } | { status: 'pushed' };

/** Repositories a blob is tried to be mounted from before it is uploaded (Docker tries 1 to 4, by size). */
const MAX_MOUNT_ATTEMPTS = 3;

const pullScope = (path: string) => `repository:${path}:pull`;
const pushScope = (path: string) => `repository:${path}:pull,push`;

/**
 * Scopes (`type:name:actions`) with those of one resource merged into one,
 * actions in the order first seen: `repository:a:pull` and
 * `repository:a:push,pull` make `repository:a:pull,push`. Empty ones go.
 */
export function mergeScopes(scopes: string[]): string[] {
  const merged = new Map<string, string[]>();
  for (const scope of scopes) {
    if (!scope) continue;
    const last = scope.lastIndexOf(':');
    const resource = last > scope.indexOf(':') ? scope.slice(0, last) : scope;
    const actions = last > scope.indexOf(':') ? scope.slice(last + 1).split(',').filter(Boolean) : [];
    const have = merged.get(resource) ?? [];
    for (const a of actions) if (!have.includes(a)) have.push(a);
    merged.set(resource, have);
  }
  return [...merged].map(([resource, actions]) => (actions.length ? `${resource}:${actions.join(',')}` : resource));
}

/**
 * Where to PUT the bytes of a monolithic upload: the upload's Location
 * (absolute, or relative to the registry) with `digest=` added to whatever
 * query it already has (Distribution puts its `_state` there).
 */
export function uploadUrl(location: string, digest: string, base?: string): string {
  const url = new URL(location, base);
  const query = url.search.replace(/^\?/, '');
  url.search = `${query ? `${query}&` : ''}digest=${encodeURIComponent(digest)}`;
  return url.href;
}

/**
 * A registry's error body as Docker prints it: `denied: requested access to
 * the resource is denied` (the first error's code, lower case, and message).
 * Without one: Docker's words for 401 and 403; undefined for other statuses.
 */
export function registryErrorText(status: number, body: string): string | undefined {
  try {
    const errors = (JSON.parse(body) as { errors?: Array<{ code?: unknown; message?: unknown }> }).errors;
    const first = Array.isArray(errors) ? errors.find((e) => typeof e?.code === 'string') : undefined;
    if (first) {
      const code = (first.code as string).toLowerCase().replace(/_/g, ' ');
      return typeof first.message === 'string' && first.message ? `${code}: ${first.message}` : code;
    }
  } catch {
    /* not JSON */
  }
  if (status === 401) return 'unauthorized: authentication required';
  if (status === 403) return 'denied: requested access to the resource is denied';
  return undefined;
}

/** `fetch failed (connect ECONNREFUSED 127.0.0.1:5000)`: the error and, when it has one, its cause. */
function networkReason(e: unknown): string {
  const message = (e as Error)?.message ?? String(e);
  const cause = (e as { cause?: { message?: unknown } })?.cause?.message;
  return typeof cause === 'string' && cause && cause !== message ? `${message} (${cause})` : message;
}

/**
 * `Basic base64(user:password)` over the UTF-8 bytes, as Docker sends it:
 * btoa() takes Latin-1 only (it throws on other characters and would send
 * `ä` as one byte).
 */
function basicAuthorization(creds: Credentials): string {
  let binary = '';
  for (const b of new TextEncoder().encode(`${creds.username}:${creds.password}`)) binary += String.fromCharCode(b);
  return `Basic ${btoa(binary)}`;
}

const delay = (attempt: number) => new Promise((r) => setTimeout(r, 200 * 2 ** (attempt - 1)));


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
      throw new RegistryError('network', `cannot reach ${this.endpoint(domain)}: ${(e as Error).message}`, { cause: e });
    }
    if (res.ok) return void (await res.body?.cancel());
    if (res.status !== 401) throw new RegistryError('protocol', `${url}: HTTP ${res.status}`);
    const challenge = res.headers.get('WWW-Authenticate') ?? '';
    await res.body?.cancel();
    const ref = { domain, path: '' } as ImageReference;
    const auth = await this.authorize(ref, challenge, '', creds);
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

  /** One registry request with auth negotiation and retries. */
  private async request(ref: ImageReference, path: string, headers: Record<string, string>): Promise<Response> {
    const url = `${this.endpoint(ref.domain)}/v2/${ref.path}${path}`;
    const scope = `repository:${ref.path}:pull`;
    const tokenKey = `${ref.domain} ${scope}`;
    let authTried = false;
    for (let attempt = 1; ; attempt++) {
      const h: Record<string, string> = { ...headers };
      const token = this.tokens.get(tokenKey);
      if (token) h['Authorization'] = token;
      let res: Response;
      try {
        res = await this.fetchImpl(url, { headers: h });
      } catch (e) {
        if (attempt < this.attempts) {
          await delay(attempt);
          continue;
        }
        throw new RegistryError(
          'network',
          `cannot reach ${this.endpoint(ref.domain)} for ${familiarName(ref)}: ${(e as Error).message}` +
            (ref.domain === 'docker.io' && !this.options.mirrors?.['docker.io']
              ? ' (Docker Hub sends no CORS headers; a page needs a registry mirror, see the README)'
              : ''),
          { cause: e },
        );
      }
      if (res.status === 401 && !authTried) {
        authTried = true;
        const challenge = res.headers.get('WWW-Authenticate') ?? '';
        await res.body?.cancel();
        this.tokens.set(tokenKey, await this.authorize(ref, challenge, scope));
        continue;
      }
      if ((res.status >= 500 || res.status === 429) && attempt < this.attempts) {
        await res.body?.cancel();
        await delay(attempt);
        continue;
      }
      if (res.ok) return res;
      const text = await res.text().catch(() => '');
      const code = /"code"\s*:\s*"([A-Z_]+)"/.exec(text)?.[1];
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

  /** Answers a 401 challenge: a bearer token from the realm, or basic credentials. */
  private async authorize(ref: ImageReference, challenge: string, scope: string, given?: Credentials): Promise<string> {
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
    if (params['scope'] ?? scope) url.searchParams.set('scope', params['scope'] ?? scope);
    let res: Response;
    try {
      res = await this.fetchImpl(url, { headers: basic ? { Authorization: basic } : {} });
    } catch (e) {
      throw new RegistryError('network', `cannot reach the token server ${url.origin}: ${(e as Error).message}`, { cause: e });
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


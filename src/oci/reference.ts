/**
 * Docker's image references: `busybox` is `docker.io/library/busybox:latest`,
 * `user/img:tag`, `host:port/path/img@sha256:...`. Follows the grammar of
 * distribution/reference, including its normalisation rules.
 */

export interface ImageReference {
  /** Registry host, with port: `docker.io`, `localhost:5000`. */
  domain: string;
  /** Repository path in the registry: `library/busybox`. */
  path: string;
  tag?: string;
  digest?: string;
}

export const DEFAULT_DOMAIN = 'docker.io';
export const DEFAULT_TAG = 'latest';

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;

export class InvalidReferenceError extends Error {
  override readonly name = 'InvalidReferenceError';
}

export function parseReference(input: string): ImageReference {
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw new InvalidReferenceError(`invalid reference format: bad digest in "${input}"`);
    // A pin is only worth what its check is: berth verifies sha256, so it takes no other algorithm.
    if (digest.startsWith('sha256:') && !/^sha256:[a-f0-9]{64}$/.test(digest)) throw new InvalidReferenceError(`invalid reference format: bad digest in "${input}"`);
    if (!digest.startsWith('sha256:')) {
      throw new InvalidReferenceError(`unsupported digest "${digest.split(':')[0]}" in "${input}": berth verifies sha256 digests only (@sha256:<64 hex>)`);
    }
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon !== -1 && !rest.slice(colon + 1).includes('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new InvalidReferenceError(`invalid reference format: bad tag in "${input}"`);
  }
  if (rest.length === 0) throw new InvalidReferenceError(`invalid reference format: "${input}"`);
  let domain = DEFAULT_DOMAIN;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash !== -1) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase()) {
      domain = first;
      path = rest.slice(slash + 1);
    }
  }
  if (domain === 'index.docker.io') domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = `library/${path}`;
  for (const component of path.split('/')) {
    if (!COMPONENT.test(component)) {
      throw new InvalidReferenceError(
        `invalid reference format: repository name (${path}) must be lowercase letters, digits and separators`,
      );
    }
  }
  if (!tag && !digest) tag = DEFAULT_TAG;
  return { domain, path, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** The repository as Docker prints it: `busybox`, `user/img`, `localhost:5000/img`. */
export function familiarName(ref: ImageReference): string {
  if (ref.domain !== DEFAULT_DOMAIN) return `${ref.domain}/${ref.path}`;
  return ref.path.startsWith('library/') ? ref.path.slice('library/'.length) : ref.path;
}

/** Fully qualified: `docker.io/library/busybox:latest`. */
export function formatReference(ref: ImageReference): string {
  return `${ref.domain}/${ref.path}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** As Docker prints it in messages: `busybox:latest`. */
export function familiarString(ref: ImageReference): string {
  return `${familiarName(ref)}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/**
 * Whether a reference as typed names a repository only, with no tag or
 * digest (`busybox`, `localhost:5000/me/app`): `parseReference` fills in
 * `latest` for those, `push -a` and `pull` need to know it did.
 */
export function isNameOnly(input: string): boolean {
  return !input.includes('@') && !input.slice(input.lastIndexOf('/') + 1).includes(':');
}

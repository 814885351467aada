import type { Credentials } from '../oci/registry-client.js';
import type { MetadataStore } from '../store/content-store.js';

/**
 * Registry logins, kept in the metadata store (Node: the cache folder;
 * browser: IndexedDB), never in a share link or a scenario.
 *
 * The password is stored as given, in plain JSON under `auth/<host>`: Docker
 * keeps it no better (base64 of user:password in config.json, without a
 * credential helper). What protects it is who can read it: in Node the
 * document is a 0600 file in the store, and the cache folder is 0700
 * (src/node/daemon-paths.ts); in the browser, the origin's IndexedDB.
 */
export class CredentialStore {
  private readonly cache = new Map<string, Credentials>();
  readonly ready: Promise<void>;

  constructor(private readonly meta: MetadataStore) {
    this.ready = this.load();
  }

  private async load(): Promise<void> {
    for (const key of await this.meta.keys('auth/')) {
      const c = await this.meta.get<Credentials>(key);
      if (c) this.cache.set(key.slice('auth/'.length), c);
    }
  }

  get(host: string): Credentials | undefined {
    return this.cache.get(host);
  }

  async set(host: string, creds: Credentials): Promise<void> {
    await this.meta.set(`auth/${host}`, creds);
    this.cache.set(host, creds);
  }

  /** False when there was no login for the host. */
  async delete(host: string): Promise<boolean> {
    const had = this.cache.delete(host);
    await this.meta.delete(`auth/${host}`);
    return had;
  }
}

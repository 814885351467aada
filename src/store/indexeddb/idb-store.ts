/**
 * Browser backends on IndexedDB through idb-keyval. By default both live in
 * the database 'berth', object stores 'blobs' and 'meta'.
 *
 * A blob is two records in its object store, written in one transaction:
 * `data:<digest>` (the bytes) and `info:<digest>` (digest and size), so
 * has/info/list never load blob data.
 */
import { del, get, getMany, keys, promisifyRequest, set, setMany, type UseStore } from 'idb-keyval';
import type { BlobInfo, ContentStore, ExpectedBlob, MetadataStore } from '../content-store.js';
import { checkExpected, parseDigest, receiveBlob, receiveWhole, toJson } from '../verify.js';

export interface IdbStoreOptions {
  /** Default 'berth'. */
  dbName?: string;
  /** Default 'blobs' for content, 'meta' for metadata. */
  storeName?: string;
}

const dataKey = (digest: string) => `data:${digest}`;
const infoKey = (digest: string) => `info:${digest}`;

export class IdbContentStore implements ContentStore {
  readonly #store: UseStore;

  constructor({ dbName = 'berth', storeName = 'blobs' }: IdbStoreOptions = {}) {
    this.#store = openStore(dbName, storeName);
  }

  async has(digest: string): Promise<boolean> {
    return (await this.info(digest)) !== undefined;
  }

  async get(digest: string): Promise<Uint8Array | undefined> {
    parseDigest(digest);
    return get<Uint8Array>(dataKey(digest), this.#store);
  }

  async info(digest: string): Promise<BlobInfo | undefined> {
    parseDigest(digest);
    return get<BlobInfo>(infoKey(digest), this.#store);
  }

  async list(): Promise<BlobInfo[]> {
    const infoKeys = (await keys<string>(this.#store)).filter((k) => k.startsWith('info:')).sort();
    // A blob deleted between the two reads comes back undefined.
    return (await getMany<BlobInfo>(infoKeys, this.#store)).filter((i) => i !== undefined);
  }

  async put(expected: ExpectedBlob, data: Uint8Array | ReadableStream<Uint8Array>, onProgress?: (bytes: number) => void): Promise<BlobInfo> {
    checkExpected(expected, data);
    if (await this.has(expected.digest)) return receiveBlob(expected, data, () => {}, onProgress);
    // An IndexedDB put takes a whole value, so the verified blob is gathered
    // in memory and stored once; nothing reaches the database unverified.
    const { info, bytes } = await receiveWhole(expected, data, onProgress);
    await setMany([[dataKey(info.digest), bytes], [infoKey(info.digest), info]], this.#store);
    return info;
  }

  async delete(digest: string): Promise<boolean> {
    parseDigest(digest);
    // Look and delete in one transaction, so two deletes cannot both report true.
    return this.#store('readwrite', (store) => {
      const found = store.getKey(infoKey(digest));
      store.delete(infoKey(digest));
      store.delete(dataKey(digest));
      return promisifyRequest(store.transaction).then(() => found.result !== undefined);
    });
  }
}

/** Values are stored as JSON text, as in the other backends (not structured clones). */
export class IdbMetadataStore implements MetadataStore {
  readonly #store: UseStore;

  constructor({ dbName = 'berth', storeName = 'meta' }: IdbStoreOptions = {}) {
    this.#store = openStore(dbName, storeName);
  }

  async get<T>(key: string): Promise<T | undefined> {
    const text = await get<string>(key, this.#store);
    return text === undefined ? undefined : (JSON.parse(text) as T);
  }

  async set(key: string, value: unknown): Promise<void> {
    await set(key, toJson(key, value), this.#store);
  }

  async delete(key: string): Promise<void> {
    await del(key, this.#store);
  }

  async keys(prefix = ''): Promise<string[]> {
    return (await keys<string>(this.#store)).filter((k) => k.startsWith(prefix)).sort();
  }
}

/**
 * idb-keyval's createStore only creates its object store when it creates the
 * database, so a second store in 'berth' would never appear. This opener
 * adds a missing store with a version upgrade, and closes its connection
 * when another opener needs to upgrade (reopening on next use).
 */
function openStore(dbName: string, storeName: string): UseStore {
  let db: Promise<IDBDatabase> | undefined;
  const connect = () =>
    (db ??= openWith(dbName, storeName).then(
      (conn) => {
        conn.onversionchange = () => { conn.close(); db = undefined; };
        conn.onclose = () => { db = undefined; };
        return conn;
      },
      (e: unknown) => { db = undefined; throw e; },
    ));
  return async (mode, callback) => {
    const conn = await connect();
    return callback(conn.transaction(storeName, mode).objectStore(storeName));
  };
}

async function openWith(dbName: string, storeName: string, version?: number): Promise<IDBDatabase> {
  const req = indexedDB.open(dbName, version);
  req.onupgradeneeded = () => {
    if (!req.result.objectStoreNames.contains(storeName)) req.result.createObjectStore(storeName);
  };
  let conn: IDBDatabase;
  try {
    conn = await promisifyRequest(req);
  } catch (e) {
    // Someone else upgraded past `version` first: look again.
    if (version !== undefined && (e as DOMException).name === 'VersionError') return openWith(dbName, storeName);
    throw e;
  }
  if (conn.objectStoreNames.contains(storeName)) return conn;
  const next = conn.version + 1;
  conn.close();
  return openWith(dbName, storeName, next);
}

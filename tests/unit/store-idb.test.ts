// An in-memory IndexedDB for Node; the same backend runs in real Chromium in the e2e tests.
import 'fake-indexeddb/auto';
import { promisifyRequest } from 'idb-keyval';
import { expect, it } from 'vitest';
import { IdbContentStore, IdbMetadataStore } from '../../src/store/indexeddb/idb-store.js';
import { contentStoreSuite, metadataStoreSuite } from '../helpers/store-testsuite.js';

let n = 0;
/** A fresh database per test; deleting it also checks that connections step aside. */
function freshDb() {
  const dbName = `berth-test-${++n}`;
  return { dbName, cleanup: () => promisifyRequest(indexedDB.deleteDatabase(dbName)).then(() => {}) };
}

contentStoreSuite('indexeddb', async () => {
  const { dbName, cleanup } = freshDb();
  return { store: new IdbContentStore({ dbName }), cleanup };
});
metadataStoreSuite('indexeddb', async () => {
  const { dbName, cleanup } = freshDb();
  return { store: new IdbMetadataStore({ dbName }), cleanup };
});

it('keeps blobs and metadata in one database', async () => {
  const { dbName, cleanup } = freshDb();
  const blobs = new IdbContentStore({ dbName });
  const meta = new IdbMetadataStore({ dbName });
  const empty = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
  await blobs.put({ digest: empty, size: 0 }, new Uint8Array(0));
  await meta.set('image/x', { digest: empty });
  expect(await blobs.list()).toEqual([{ digest: empty, size: 0 }]);
  expect(await meta.get('image/x')).toEqual({ digest: empty });
  await cleanup();
});

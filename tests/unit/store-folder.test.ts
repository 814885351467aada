import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FolderContentStore, FolderMetadataStore } from '../../src/store/folder/folder-store.js';
import { contentStoreSuite, metadataStoreSuite } from '../helpers/store-testsuite.js';

async function tempDir() {
  const dir = await mkdtemp(join(tmpdir(), 'berth-store-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

contentStoreSuite('folder', async () => {
  const { dir, cleanup } = await tempDir();
  const residue = () => readdir(join(dir, 'tmp')).catch(() => []);
  return { store: new FolderContentStore(dir), cleanup, residue };
});
metadataStoreSuite('folder', async () => {
  const { dir, cleanup } = await tempDir();
  return { store: new FolderMetadataStore(dir), cleanup };
});

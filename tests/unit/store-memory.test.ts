import { MemoryContentStore, MemoryMetadataStore } from '../../src/store/memory/memory-store.js';
import { contentStoreSuite, metadataStoreSuite } from '../helpers/store-testsuite.js';

contentStoreSuite('memory', async () => ({ store: new MemoryContentStore() }));
metadataStoreSuite('memory', async () => ({ store: new MemoryMetadataStore() }));

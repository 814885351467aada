import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

/**
 * One snapshot folder per test run, shared by the suites that boot a guest:
 * the first boots cold and saves the snapshot, the others restore it
 * (tests/helpers/engine.ts, bootEngine).
 */
export default function setup(project: TestProject): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'berth-test-snapshots-'));
  project.provide('snapshotDir', dir);
  return () => rmSync(dir, { recursive: true, force: true });
}

declare module 'vitest' {
  export interface ProvidedContext {
    snapshotDir: string;
  }
}

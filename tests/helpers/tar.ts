import { packTar, type TarEntry } from 'modern-tar';
import { sha256Hex } from '../../src/oci/digest.js';

/** A real tar (and its gzip) built with the same library the engine reads with. */
export async function makeLayer(entries: TarEntry[]): Promise<{ tar: Uint8Array; gz: Uint8Array; diffId: string }> {
  const tar = await packTar(entries);
  const gz = new Uint8Array(await new Response(new Blob([tar as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer());
  return { tar, gz, diffId: `sha256:${await sha256Hex(tar)}` };
}

import { familiarString, formatReference, parseReference, InvalidReferenceError, type ImageReference } from '../oci/reference.js';
import type { Descriptor, ImageConfig } from '../oci/types.js';
import { invalidArgument, notFound } from './errors.js';

/** An image the engine can run: its config and where its layers come from. */
export interface ImageRecord {
  /** The config digest, as Docker's image ID. */
  id: string;
  manifestDigest: string;
  /** Fully qualified references: `docker.io/library/busybox:latest`. */
  references: string[];
  config: ImageConfig;
  layers: Array<{ descriptor: Descriptor; diffId: string }>;
  /** Reads a layer blob, verified. */
  readLayer(desc: Descriptor): Promise<Uint8Array>;
  /** Sum of the compressed layer sizes. */
  size: number;
}

/**
 * The images this engine knows by name. Kept in memory; the issue on images
 * puts a content-addressed store and registry pulls beneath it.
 */
export class ImageStore {
  private readonly byRef = new Map<string, ImageRecord>();
  private readonly byId = new Map<string, ImageRecord>();

  add(record: ImageRecord): void {
    this.byId.set(record.id, record);
    for (const ref of record.references) this.byRef.set(ref, record);
  }

  list(): ImageRecord[] {
    return [...this.byId.values()];
  }

  /** Finds an image by reference, full or short ID; throws Docker's not-found message. */
  resolve(name: string): ImageRecord {
    const byId = this.findById(name);
    if (byId) return byId;
    let ref: ImageReference;
    try {
      ref = parseReference(name);
    } catch (e) {
      if (e instanceof InvalidReferenceError) throw invalidArgument(e.message, e);
      throw e;
    }
    const found = this.byRef.get(formatReference(ref));
    if (found) return found;
    if (ref.digest) {
      for (const r of this.byId.values()) if (r.manifestDigest === ref.digest) return r;
    }
    const known = [...new Set([...this.byRef.keys()].map((k) => familiarString(parseReference(k))))].sort();
    throw notFound(
      `Unable to find image '${familiarString(ref)}' locally\n` +
        `Pulling from registries is not available in this version; images available here: ${known.join(', ') || 'none'}`,
    );
  }

  private findById(name: string): ImageRecord | undefined {
    const hex = name.replace(/^sha256:/, '');
    if (!/^[a-f0-9]{12,64}$/.test(hex)) return undefined;
    for (const r of this.byId.values()) if (r.id.replace(/^sha256:/, '').startsWith(hex)) return r;
    return undefined;
  }
}

import { digestHex, verifyBlob } from './digest.js';
import { MediaType, type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest } from './types.js';

/** Reads files of an OCI image layout by relative path (`index.json`, `blobs/sha256/...`). */
export interface LayoutReader {
  read(path: string): Promise<Uint8Array>;
}

export interface LayoutImage {
  manifestDigest: string;
  manifest: ImageManifest;
  config: ImageConfig;
  configDigest: string;
  /** Reads a layer blob, verified against its descriptor. */
  readLayer(desc: Descriptor): Promise<Uint8Array>;
}

const json = (bytes: Uint8Array): unknown => JSON.parse(new TextDecoder().decode(bytes));

async function readBlob(reader: LayoutReader, desc: Descriptor, what: string): Promise<Uint8Array> {
  const data = await reader.read(`blobs/sha256/${digestHex(desc.digest)}`);
  await verifyBlob(desc, data, what);
  return data;
}

/** Loads the linux/386 image of an OCI layout, checking every blob's digest. */
export async function readLayoutImage(reader: LayoutReader): Promise<LayoutImage> {
  const index = json(await reader.read('index.json')) as ImageIndex;
  let desc = index.manifests.find((m) => !m.platform || (m.platform.os === 'linux' && m.platform.architecture === '386'));
  if (!desc) throw new Error('the image layout has no linux/386 manifest');
  if (desc.mediaType === MediaType.OciIndex || desc.mediaType === MediaType.DockerManifestList) {
    const nested = json(await readBlob(reader, desc, 'index')) as ImageIndex;
    desc = nested.manifests.find((m) => m.platform?.os === 'linux' && m.platform.architecture === '386');
    if (!desc) throw new Error('the image layout has no linux/386 manifest');
  }
  const manifest = json(await readBlob(reader, desc, 'manifest')) as ImageManifest;
  const config = json(await readBlob(reader, manifest.config, 'config')) as ImageConfig;
  if (config.rootfs.diff_ids.length !== manifest.layers.length) {
    throw new Error(`image config lists ${config.rootfs.diff_ids.length} layers, manifest ${manifest.layers.length}`);
  }
  return {
    manifestDigest: desc.digest,
    manifest,
    config,
    configDigest: manifest.config.digest,
    readLayer: (layer) => readBlob(reader, layer, 'layer'),
  };
}

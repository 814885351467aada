import type { ImageConfig } from '../../oci/types.js';
import type { Engine } from '../engine.js';
import type { ImageRecord } from '../image-service.js';
import { parseDockerfile, DockerfileParseError } from './dockerfile.js';
import { BuildError } from './errors.js';
import { isEmptyTar, writeLayer, type LayerEntry } from './layer-writer.js';
import { applyMetadata, COMMIT_CHANGES } from './metadata.js';
import { changesTar } from './run-step.js';
import { expandInstruction } from './shell-words.js';

export interface CommitOptions {
  /** `--change` Dockerfile instructions (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR). */
  changes: string[];
  message?: string;
  author?: string;
  /** REPO[:TAG]; none makes a dangling image. */
  tags: string[];
}

/**
 * `docker commit`: a container's changes become a layer on its image, and
 * its configuration (environment, command, working directory, user, labels,
 * as it was created) with `--change`s applied becomes the image's.
 */
export async function commitContainer(engine: Engine, idOrName: string, o: CommitOptions): Promise<ImageRecord> {
  const c = engine.get(idOrName);
  const image = await engine.images.resolve(c.imageId);
  const config: ImageConfig = JSON.parse(JSON.stringify(image.config));
  const d = (config.config ??= {});
  d.Env = c.env.filter((e) => !e.startsWith('HOSTNAME='));
  if (c.options.entrypoint) d.Entrypoint = c.options.entrypoint.length ? c.options.entrypoint : null;
  if (c.options.cmd?.length) d.Cmd = c.options.cmd;
  if (c.options.workdir) d.WorkingDir = c.options.workdir;
  if (c.options.user) d.User = c.options.user;
  if (Object.keys(c.labels).length) d.Labels = { ...c.labels };
  const cmd = { set: true };
  for (const change of o.changes) {
    let inst;
    try {
      inst = parseDockerfile(`FROM scratch\n${change}\n`).instructions[1];
    } catch (e) {
      if (e instanceof DockerfileParseError) throw new BuildError(`invalid --change "${change}": ${e.message}`);
      throw e;
    }
    if (!inst || !COMMIT_CHANGES.includes(inst.kind)) throw new BuildError(`${inst?.kind ?? change} is not a valid change command`);
    const env = new Map((d.Env ?? []).map((e) => [e.split('=')[0]!, e.slice(e.indexOf('=') + 1)]));
    applyMetadata(config, expandInstruction(inst, (n) => env.get(n), '\\'), cmd);
  }
  const tar = await changesTar(engine, c);
  let layer: LayerEntry | undefined;
  let release = () => {};
  if (!isEmptyTar(tar)) ({ layer, release } = await writeLayer(engine.images, tar));
  try {
    const now = new Date().toISOString();
    config.created = now;
    if (o.author) config.author = o.author;
    (config.history ??= []).push({
      created: now,
      created_by: c.args.join(' '),
      ...(o.message ? { comment: o.message } : {}),
      ...(layer ? {} : { empty_layer: true }),
    });
    if (layer) config.rootfs.diff_ids = [...config.rootfs.diff_ids, layer.diffId];
    return await engine.images.recordImage(config, [...image.layers, ...(layer ? [layer] : [])], o.tags);
  } finally {
    release();
  }
}

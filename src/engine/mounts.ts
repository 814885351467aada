import { invalidArgument } from './errors.js';
import type { VolumeService } from './volumes.js';

/**
 * A container's mounts as typed values: parsed once from the docker command
 * line (`-v`, `--mount`, `--tmpfs`: parseRunMounts), taken by the engine's
 * create and run options, and resolved at create (resolveMounts) into what
 * the runtime spec binds.
 */
export type Mount = BindMount | VolumeMount | TmpfsMount;

interface MountBase {
  /** Absolute path in the container. */
  target: string;
  readonly: boolean;
}

/** A path in the guest, bound in (`-v /guest/path:/path`). */
interface BindMount extends MountBase {
  type: 'bind';
  source: string;
}

/** A named volume (`-v name:/path`), created if need be; without a source, an anonymous one made for the container (`-v /path`). */
interface VolumeMount extends MountBase {
  type: 'volume';
  source?: string;
}

/** A tmpfs (`--tmpfs /path[:options]`). */
interface TmpfsMount extends MountBase {
  type: 'tmpfs';
  /** Mount options as given (`size=64m`, `mode=1777`). */
  options: string[];
}

/** A mount as the runtime spec takes it: volumes are bind mounts of their folder by then. */
export interface ResolvedMount {
  destination: string;
  type: 'bind' | 'tmpfs';
  source: string;
  readOnly: boolean;
  options?: string[];
}

/** A `--mount` value the command line refuses (Docker: a usage error, not the daemon's). */
export class MountFlagError extends Error {
  override readonly name = 'MountFlagError';
  constructor(spec: string, reason: string) {
    super(`invalid argument "${spec}" for "--mount" flag: ${reason}`);
  }
}

/**
 * `-v`, `--mount` and `--tmpfs` values as mounts, in the order the container
 * gets them: the `-v` ones and `--mount` binds and volumes, then the `--tmpfs`
 * ones and `--mount` tmpfs. A `--mount` value stands for the `-v` or `--tmpfs`
 * one it spells (source, target, `readonly`/`ro`; other keys are not read).
 * Throws MountFlagError for a `--mount` value whose syntax is wrong (all of
 * those are checked first), then BerthError (invalid-argument, Docker's
 * daemon messages) for a spec it cannot use.
 */
export function parseRunMounts(flags: { volume?: string[]; mount?: string[]; tmpfs?: string[] }): Mount[] {
  const mounts = (flags.mount ?? []).map(mountFlagAsSpec);
  return [
    ...[...(flags.volume ?? []), ...mounts.flatMap((m) => (m.flag === 'volume' ? [m.spec] : []))].map(parseVolumeSpec),
    ...[...(flags.tmpfs ?? []), ...mounts.flatMap((m) => (m.flag === 'tmpfs' ? [m.spec] : []))].map(parseTmpfsSpec),
  ];
}

/** `--mount type=volume,source=x,target=/y,readonly` as the `-v` or `--tmpfs` value it stands for. */
function mountFlagAsSpec(spec: string): { flag: 'volume' | 'tmpfs'; spec: string } {
  const kv = Object.fromEntries(spec.split(',').map((p) => [p.split('=')[0]!.trim(), p.split('=').slice(1).join('=')]));
  const type = kv['type'] ?? 'volume';
  const target = kv['target'] ?? kv['dst'] ?? kv['destination'];
  if (!target) throw new MountFlagError(spec, 'target is required');
  if (type === 'tmpfs') return { flag: 'tmpfs', spec: target };
  if (type !== 'volume' && type !== 'bind') throw new MountFlagError(spec, `unsupported type "${type}"`);
  const ro = 'readonly' in kv || 'ro' in kv;
  const source = kv['source'] ?? kv['src'];
  return { flag: 'volume', spec: `${source ? `${source}:` : ''}${target}${ro ? ':ro' : ''}` };
}

/** `-v [source:]target[:mode]`: a path as source binds it, a name is a volume, none an anonymous volume. */
function parseVolumeSpec(spec: string): Mount {
  const parts = spec.split(':');
  let [src, dst, mode] = parts;
  if (parts.length === 1) [src, dst] = [undefined, parts[0]];
  if (!dst || !dst.startsWith('/')) throw invalidArgument(`invalid volume specification: '${spec}': the container path must be absolute`);
  if (mode && !/^(ro|rw)(,.*)?$/.test(mode)) throw invalidArgument(`invalid mode: ${mode}`);
  const readonly = !!mode && mode.split(',').includes('ro');
  if (src === undefined) return { type: 'volume', target: dst, readonly };
  if (src.startsWith('/')) return { type: 'bind', source: src, target: dst, readonly };
  return { type: 'volume', source: src, target: dst, readonly };
}

/** `--tmpfs target[:options]`. */
function parseTmpfsSpec(spec: string): Mount {
  const [dst, opts] = spec.split(/:(.*)/s);
  if (!dst?.startsWith('/')) throw invalidArgument(`invalid tmpfs specification: '${spec}'`);
  return { type: 'tmpfs', target: dst, readonly: false, options: opts ? opts.split(',') : [] };
}

/**
 * The mounts as the runtime spec binds them. Volumes are created as needed
 * (a named one if it does not exist, an anonymous one each time: their names
 * are added to `anonymous` as they are made, so a create that fails later can
 * take them back) and bound from their folder, which the guest sees under
 * `guestRoot`. Also returns the names of the volumes mounted.
 */
export function resolveMounts(
  mounts: readonly Mount[],
  volumes: Pick<VolumeService, 'create' | 'dataPath'>,
  guestRoot: string,
  anonymous: string[],
): { mounts: ResolvedMount[]; volumes: string[] } {
  const out: ResolvedMount[] = [];
  const used: string[] = [];
  for (const m of mounts) {
    if (m.type === 'tmpfs') {
      out.push({ destination: m.target, type: 'tmpfs', source: 'tmpfs', readOnly: false, options: m.options });
    } else if (m.type === 'bind') {
      out.push({ destination: m.target, type: 'bind', source: m.source, readOnly: m.readonly }); // a path in the guest
    } else {
      const v = m.source === undefined ? volumes.create(undefined, {}, true) : volumes.create(m.source);
      if (m.source === undefined) anonymous.push(v.name);
      used.push(v.name);
      out.push({ destination: m.target, type: 'bind', source: guestRoot + volumes.dataPath(v.name), readOnly: m.readonly });
    }
  }
  return { mounts: out, volumes: used };
}

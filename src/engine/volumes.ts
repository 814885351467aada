import type { GuestFs } from '../vm/guest-fs.js';
import { conflict, invalidArgument, notFound } from './errors.js';
import { randomHexId } from './names.js';

/** Named volumes: folders in the 9p tree at /volumes/<name>/_data, as Docker's local driver keeps them. */
export const VOLUMES_DIR = '/volumes';

export interface Volume {
  name: string;
  createdAt: Date;
  labels: Record<string, string>;
  /** Anonymous volumes (from `-v /path`) go with `rm -v`. */
  anonymous: boolean;
}

export class VolumeService {
  private readonly volumes = new Map<string, Volume>();
  /** The volumes (named and anonymous) each container mounts, by container ID, from its create until its removal. */
  private readonly mounts = new Map<string, string[]>();

  constructor(private readonly fs: GuestFs) {}

  /** The 9p path of a volume's data. */
  dataPath(name: string): string {
    return `${VOLUMES_DIR}/${name}/_data`;
  }

  list(): Volume[] {
    return [...this.volumes.values()];
  }

  get(name: string): Volume {
    const v = this.volumes.get(name);
    if (!v) throw notFound(`get ${name}: no such volume`);
    return v;
  }

  /** Creates a volume (idempotent for an existing name, as Docker). */
  create(name: string | undefined, labels: Record<string, string> = {}, anonymous = false): Volume {
    const n = name ?? randomHexId();
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(n)) {
      throw invalidArgument(`create ${n}: "${n}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
    }
    const existing = this.volumes.get(n);
    if (existing) return existing;
    const v: Volume = { name: n, createdAt: new Date(), labels, anonymous };
    this.fs.mkdirp(this.dataPath(n), { mode: 0o755 });
    this.volumes.set(n, v);
    return v;
  }

  async remove(name: string, inUseBy: string[]): Promise<void> {
    this.get(name);
    if (inUseBy.length) throw conflict(`remove ${name}: volume is in use - [${inUseBy.join(', ')}]`);
    await this.fs.remove(`${VOLUMES_DIR}/${name}`);
    this.volumes.delete(name);
  }

  /** Container `id` mounts these volumes until release(id). */
  use(id: string, names: string[]): void {
    this.mounts.set(id, names);
  }

  /** Container `id` is gone: returns the volumes it mounted. */
  release(id: string): string[] {
    const names = this.mounts.get(id) ?? [];
    this.mounts.delete(id);
    return names;
  }

  /** IDs of the containers that mount volume `name` (anonymous ones included: `-v /path` names no volume), in the order they were created. */
  usersOf(name: string): string[] {
    return [...this.mounts].filter(([, names]) => names.includes(name)).map(([id]) => id);
  }

  /**
   * Removes those of `names` that are anonymous and that no container
   * mounts (`rm -v`, `--rm`: never named volumes). Resolves with the
   * messages of the removals that failed.
   */
  async removeAnonymous(names: string[]): Promise<string[]> {
    const errors: string[] = [];
    for (const name of names) {
      if (!this.volumes.get(name)?.anonymous || this.usersOf(name).length > 0) continue;
      await this.remove(name, []).catch((e: Error) => errors.push(e.message));
    }
    return errors;
  }

  inspect(v: Volume): object {
    return {
      CreatedAt: v.createdAt.toISOString(),
      Driver: 'local',
      Labels: v.labels,
      Mountpoint: `/berth${this.dataPath(v.name)}`,
      Name: v.name,
      Options: null,
      Scope: 'local',
    };
  }
}

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isBerthError } from '../../src/engine/errors.js';
import { MountFlagError, parseRunMounts, resolveMounts, type Mount } from '../../src/engine/mounts.js';
import { VolumeService } from '../../src/engine/volumes.js';
import type { GuestFs } from '../../src/vm/guest-fs.js';
import { realGuestFs } from '../helpers/v86-fs.js';

let fs: GuestFs;
let destroy: () => Promise<void>;
beforeAll(async () => ({ fs, destroy } = await realGuestFs()));
afterAll(() => destroy());

const err = (f: () => unknown): unknown => {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('did not throw');
};

describe('parseRunMounts', () => {
  it('-v: a name is a volume, a path a bind, a lone path an anonymous volume; ro/rw modes', () => {
    expect(parseRunMounts({ volume: ['notes:/data', '/srv:/srv:ro', '/anon', 'v2:/x:rw', 'v3:/y:ro,z'] })).toEqual<Mount[]>([
      { type: 'volume', source: 'notes', target: '/data', readonly: false },
      { type: 'bind', source: '/srv', target: '/srv', readonly: true },
      { type: 'volume', target: '/anon', readonly: false },
      { type: 'volume', source: 'v2', target: '/x', readonly: false },
      { type: 'volume', source: 'v3', target: '/y', readonly: true },
    ]);
  });

  it('--tmpfs: target and options', () => {
    expect(parseRunMounts({ tmpfs: ['/scratch', '/run:size=64m,mode=1777'] })).toEqual<Mount[]>([
      { type: 'tmpfs', target: '/scratch', readonly: false, options: [] },
      { type: 'tmpfs', target: '/run', readonly: false, options: ['size=64m', 'mode=1777'] },
    ]);
  });

  it('--mount stands for the -v or --tmpfs value it spells; the order is -v, --mount volumes, --tmpfs, --mount tmpfs', () => {
    const mounts = parseRunMounts({
      volume: ['a:/a'],
      mount: ['type=tmpfs,target=/t2', 'type=volume,source=b,target=/b,readonly', 'type=bind,src=/host,dst=/h', 'target=/anon'],
      tmpfs: ['/t1'],
    });
    expect(mounts).toEqual<Mount[]>([
      { type: 'volume', source: 'a', target: '/a', readonly: false },
      { type: 'volume', source: 'b', target: '/b', readonly: true },
      { type: 'bind', source: '/host', target: '/h', readonly: false },
      { type: 'volume', target: '/anon', readonly: false },
      { type: 'tmpfs', target: '/t1', readonly: false, options: [] },
      { type: 'tmpfs', target: '/t2', readonly: false, options: [] },
    ]);
    expect(parseRunMounts({})).toEqual([]);
  });

  it("refuses bad specs with Docker's messages: --mount's as a MountFlagError, -v's and --tmpfs's as invalid-argument", () => {
    const noTarget = err(() => parseRunMounts({ mount: ['type=volume,source=x'] }));
    expect(noTarget).toBeInstanceOf(MountFlagError);
    expect((noTarget as Error).message).toBe('invalid argument "type=volume,source=x" for "--mount" flag: target is required');
    expect((err(() => parseRunMounts({ mount: ['type=npipe,target=/x'] })) as Error).message).toBe(
      'invalid argument "type=npipe,target=/x" for "--mount" flag: unsupported type "npipe"',
    );
    // --mount's own syntax is checked before any -v.
    expect(err(() => parseRunMounts({ volume: ['rel'], mount: ['type=bind'] }))).toBeInstanceOf(MountFlagError);

    const relative = err(() => parseRunMounts({ volume: ['notes:data'] }));
    expect(isBerthError(relative, 'invalid-argument')).toBe(true);
    expect((relative as Error).message).toBe("invalid volume specification: 'notes:data': the container path must be absolute");
    expect((err(() => parseRunMounts({ volume: ['n:/d:rx'] })) as Error).message).toBe('invalid mode: rx');
    expect((err(() => parseRunMounts({ mount: ['type=volume,source=n,target=d'] })) as Error).message).toBe(
      "invalid volume specification: 'n:d': the container path must be absolute",
    );
    const tmpfs = err(() => parseRunMounts({ tmpfs: ['scratch:size=1m'] }));
    expect(isBerthError(tmpfs, 'invalid-argument')).toBe(true);
    expect((tmpfs as Error).message).toBe("invalid tmpfs specification: 'scratch:size=1m'");
  });
});

describe('resolveMounts', () => {
  it('binds guest paths as given, volumes from their folder under the guest root (made as needed), tmpfs with their options', () => {
    const volumes = new VolumeService(fs);
    volumes.create('existing');
    const anonymous: string[] = [];
    const r = resolveMounts(
      parseRunMounts({ volume: ['/srv:/srv:ro', 'existing:/e', 'fresh:/f:ro', '/anon'], tmpfs: ['/t:size=1m'] }),
      volumes,
      '/berth',
      anonymous,
    );
    expect(anonymous).toHaveLength(1);
    const anon = anonymous[0]!;
    expect(volumes.get(anon).anonymous).toBe(true);
    expect(volumes.get('fresh').anonymous).toBe(false);
    expect(fs.exists('/volumes/fresh/_data')).toBe(true);
    expect(r.volumes).toEqual(['existing', 'fresh', anon]);
    expect(r.mounts).toEqual([
      { destination: '/srv', type: 'bind', source: '/srv', readOnly: true },
      { destination: '/e', type: 'bind', source: '/berth/volumes/existing/_data', readOnly: false },
      { destination: '/f', type: 'bind', source: '/berth/volumes/fresh/_data', readOnly: true },
      { destination: '/anon', type: 'bind', source: `/berth/volumes/${anon}/_data`, readOnly: false },
      { destination: '/t', type: 'tmpfs', source: 'tmpfs', readOnly: false, options: ['size=1m'] },
    ]);
  });

  it('a volume name the local driver refuses fails after the anonymous volumes made before it are listed', () => {
    const volumes = new VolumeService(fs);
    const anonymous: string[] = [];
    const e = err(() => resolveMounts(parseRunMounts({ volume: ['/anon', 'bad name:/x'] }), volumes, '/berth', anonymous));
    expect(isBerthError(e, 'invalid-argument')).toBe(true);
    expect((e as Error).message).toMatch(/includes invalid characters for a local volume name/);
    expect(anonymous).toHaveLength(1); // for the create to take back
  });
});

describe('VolumeService: which containers mount what', () => {
  it('counts anonymous volumes as in use by their container; removeAnonymous leaves named and still-used ones', async () => {
    const volumes = new VolumeService(fs);
    volumes.create('named');
    const anon = volumes.create(undefined, {}, true).name;
    const shared = volumes.create(undefined, {}, true).name;
    volumes.use('c1', ['named', anon, shared]);
    volumes.use('c2', [shared]);
    expect(volumes.usersOf(shared)).toEqual(['c1', 'c2']);
    expect(volumes.usersOf(anon)).toEqual(['c1']);
    expect(volumes.usersOf('named')).toEqual(['c1']);

    const mounted = volumes.release('c1');
    expect(mounted).toEqual(['named', anon, shared]);
    expect(volumes.release('c1')).toEqual([]);
    expect(await volumes.removeAnonymous(mounted)).toEqual([]);
    expect(volumes.list().map((v) => v.name).sort()).toEqual(['named', shared].sort());
    expect(fs.exists(`/volumes/${anon}`)).toBe(false);

    await volumes.removeAnonymous(volumes.release('c2'));
    expect(volumes.list().map((v) => v.name)).toEqual(['named']);
  });
});

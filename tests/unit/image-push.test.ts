import { describe, expect, it } from 'vitest';
import { manifestFor, mountCandidates } from '../../src/engine/image-service.js';
import { LayerProgress } from '../../src/engine/docker-cli/progress.js';
import { parseReference } from '../../src/oci/reference.js';
import { MediaType } from '../../src/oci/types.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;

describe('manifestFor (an image with no stored manifest)', () => {
  it('makes an OCI manifest of the config and layers as recorded', () => {
    const layers = [
      { digest: d('1'), size: 10, mediaType: MediaType.OciLayerGzip, diffId: d('a') },
      { digest: d('2'), size: 20, mediaType: MediaType.OciLayer, diffId: d('b') },
    ];
    const { mediaType, manifest } = manifestFor({ id: d('c'), configSize: 99, layers });
    expect(mediaType).toBe(MediaType.OciManifest);
    // Key order is the canonical one: the bytes are what gets pushed and digested.
    expect(JSON.stringify(manifest)).toBe(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        config: { mediaType: MediaType.OciConfig, digest: d('c'), size: 99 },
        layers: [
          { mediaType: MediaType.OciLayerGzip, digest: d('1'), size: 10 },
          { mediaType: MediaType.OciLayer, digest: d('2'), size: 20 },
        ],
      }),
    );
  });

  it("makes Docker's schema 2 when every layer is Docker's", () => {
    const { mediaType, manifest } = manifestFor({ id: d('c'), configSize: 5, layers: [{ digest: d('1'), size: 1, mediaType: MediaType.DockerLayerGzip, diffId: d('a') }] });
    expect(mediaType).toBe(MediaType.DockerManifest);
    expect(manifest.config.mediaType).toBe(MediaType.DockerConfig);
  });
});

describe('mountCandidates', () => {
  const target = parseReference('reg.example:5000/team/app/web:v2');

  it('takes repositories of the same registry from repo digests, then tags, never the target', () => {
    expect(
      mountCandidates(
        {
          repoDigests: [`reg.example:5000/old/thing@${d('1')}`, `docker.io/library/busybox@${d('2')}`, `reg.example:5000/team/app/web@${d('3')}`],
          repoTags: ['reg.example:5000/tagged/only:v1', 'reg.example:5000/team/app/web:v2', 'other.example/team/app/api:v1', 'busybox:latest'],
        },
        target,
      ),
    ).toEqual(['old/thing', 'tagged/only']);
  });

  it('prefers newer repo digests and repositories sharing more of the path', () => {
    expect(
      mountCandidates(
        {
          repoDigests: [`reg.example:5000/a/b@${d('1')}`, `reg.example:5000/team/x@${d('2')}`, `reg.example:5000/c/d@${d('3')}`, `reg.example:5000/team/app/api@${d('4')}`],
          repoTags: [],
        },
        target,
      ),
    ).toEqual(['team/app/api', 'team/x', 'c/d', 'a/b']);
  });
});

describe('LayerProgress (pull and push lines)', () => {
  it('writes a line per status change on a pipe, without bars', () => {
    let out = '';
    const p = new LayerProgress((s) => (out += s), false);
    p.update('aaa', 'Preparing');
    p.update('bbb', 'Preparing');
    p.update('aaa', 'Pushing', { bytes: 0, total: 2000 });
    p.update('aaa', 'Pushing', { bytes: 1000, total: 2000 });
    p.update('bbb', 'Mounted from me/app');
    p.update('aaa', 'Pushed');
    expect(out).toBe('aaa: Preparing\nbbb: Preparing\naaa: Pushing\nbbb: Mounted from me/app\naaa: Pushed\n');
  });

  it('redraws every line in place on a terminal, with the bar and sizes', () => {
    let out = '';
    const p = new LayerProgress((s) => (out += s), true);
    p.update('aaa', 'Preparing');
    p.update('bbb', 'Preparing');
    out = '';
    p.update('aaa', 'Pushing', { bytes: 1000, total: 2000 });
    expect(out).toBe(`\x1b[2A\x1b[2Kaaa: Pushing [==============>               ] 1kB/2kB\n\x1b[2Kbbb: Preparing\n`);
  });
});

import { describe, expect, it } from 'vitest';
import { familiarString, formatReference, isNameOnly, parseReference } from '../../src/oci/reference.js';

describe('parseReference', () => {
  it.each([
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['user/img:tag', 'docker.io/user/img:tag'],
    ['localhost:5000/a/b', 'localhost:5000/a/b:latest'],
    ['registry.example/x/y:1', 'registry.example/x/y:1'],
    ['index.docker.io/library/alpine', 'docker.io/library/alpine:latest'],
    [`alpine@sha256:${'a'.repeat(64)}`, `docker.io/library/alpine@sha256:${'a'.repeat(64)}`],
  ])('%s → %s', (input, full) => {
    expect(formatReference(parseReference(input))).toBe(full);
  });

  it('refuses pins it cannot check: digests other than sha256, and malformed sha256 ones', () => {
    expect(() => parseReference(`alpine@sha512:${'a'.repeat(128)}`)).toThrow('unsupported digest "sha512" in "alpine@sha512:' + 'a'.repeat(128) + '": berth verifies sha256 digests only (@sha256:<64 hex>)');
    expect(() => parseReference(`alpine@sha256:${'a'.repeat(63)}`)).toThrow(/invalid reference format: bad digest/);
  });

  it('prints Docker’s familiar form', () => {
    expect(familiarString(parseReference('docker.io/library/busybox'))).toBe('busybox:latest');
    expect(familiarString(parseReference('localhost:5000/x:1'))).toBe('localhost:5000/x:1');
  });

  it.each(['', 'UPPER', 'a:b:c', 'x@sha256:short', 'bad//path', ':tag'])('rejects %j', (input) => {
    expect(() => parseReference(input)).toThrow(/invalid reference format/);
  });
});

describe('isNameOnly', () => {
  it.each([
    ['busybox', true],
    ['localhost:5000/me/app', true],
    ['127.0.0.1:5000/a/b', true],
    ['busybox:1.36', false],
    ['localhost:5000/me/app:v1', false],
    [`alpine@sha256:${'a'.repeat(64)}`, false],
  ])('%s: %s', (input, expected) => {
    expect(isNameOnly(input)).toBe(expected);
  });
});

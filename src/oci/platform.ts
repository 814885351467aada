import type { Descriptor, Platform } from './types.js';

/** The only platform v86 runs: 32-bit x86 Linux. */
export const GUEST_PLATFORM: Platform = { os: 'linux', architecture: '386' };

export function formatPlatform(p: Platform | undefined): string {
  if (!p) return 'unknown';
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/** The manifest of an index for `want`, ignoring attestation entries (`unknown/unknown`). */
export function choosePlatform(manifests: Descriptor[], want: Platform = GUEST_PLATFORM): Descriptor | undefined {
  return manifests.find((m) => m.platform?.os === want.os && m.platform.architecture === want.architecture);
}

/** The platforms an index offers, as Docker lists them in its error. */
export function availablePlatforms(manifests: Descriptor[]): string[] {
  return [
    ...new Set(
      manifests.filter((m) => m.platform && m.platform.os !== 'unknown').map((m) => formatPlatform(m.platform)),
    ),
  ];
}

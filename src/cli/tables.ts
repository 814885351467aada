import type { ImageRecord } from '../engine/image-service.js';
import { familiarName, parseReference } from '../oci/reference.js';
import { humanSize } from './pull-progress.js';

export function ago(iso: string | undefined, now = Date.now()): string {
  if (!iso) return 'N/A';
  const s = Math.max(0, (now - Date.parse(iso)) / 1000);
  if (s < 60) return 'Less than a minute ago';
  const units: Array<[number, string]> = [[60 * 60 * 24 * 365, 'year'], [60 * 60 * 24 * 30, 'month'], [60 * 60 * 24 * 7, 'week'], [60 * 60 * 24, 'day'], [60 * 60, 'hour'], [60, 'minute']];
  for (const [secs, name] of units) {
    const n = Math.floor(s / secs);
    if (n >= 1) return n === 1 ? `${name === 'hour' ? 'About an' : 'a'} ${name} ago`.replace(/^a /, 'A ') : `${n} ${name}s ago`;
  }
  return 'N/A';
}

export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** `images`, in Docker's columns. SIZE is the compressed size of the layers. */
export function imageTable(images: ImageRecord[], quiet: boolean): string {
  const rows: string[][] = [];
  for (const img of images) {
    const id = img.id.replace(/^sha256:/, '').slice(0, 12);
    const tags = img.repoTags.length ? img.repoTags : [undefined];
    for (const t of tags) {
      const ref = t ? parseReference(t) : undefined;
      rows.push([ref ? familiarName(ref) : '<none>', ref?.tag ?? '<none>', id, ago(img.config.created), humanSize(img.size)]);
    }
  }
  if (quiet) return [...new Set(rows.map((r) => r[2]))].map((id) => `${id}\n`).join('');
  return formatTable(['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'], rows);
}

import { table } from './format.js';

/**
 * The Go templates of `--format`, as far as Berth's commands use them:
 * `{{.Field}}`, nested `{{.A.B}}`, `{{json .Field}}` (spaces inside the
 * braces allowed). Anything else, an action it does not know included, is
 * printed as it stands. List commands (`ps`, `images`, `volume ls`,
 * `network ls`) add Docker's `table` prefix and the `\t`/`\n` escapes
 * (formatRows); inspect commands take the template as is (formatObjects).
 */

/** A piece of a parsed template: text as is, or a field to print. */
export type TemplatePart = string | { path: string[]; json: boolean };

const ACTION = /\{\{\s*(json\s+)?((?:\.\w+)+)\s*\}\}/g;

export function parseTemplate(template: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let at = 0;
  for (const m of template.matchAll(ACTION)) {
    if (m.index > at) parts.push(template.slice(at, m.index));
    parts.push({ path: m[2]!.split('.').filter(Boolean), json: !!m[1] });
    at = m.index + m[0].length;
  }
  if (at < template.length) parts.push(template.slice(at));
  return parts;
}

/**
 * Prints `parts` against `data`. `missing` is what an absent or null field
 * prints without `json` (Go prints `<no value>` for a map's missing key);
 * `json` prints it as `null`. Objects and arrays print as JSON.
 */
export function executeTemplate(parts: TemplatePart[], data: unknown, missing: string): string {
  return parts
    .map((p) => {
      if (typeof p === 'string') return p;
      let v = data;
      for (const key of p.path) v = (v as Record<string, unknown> | null | undefined)?.[key];
      if (p.json) return JSON.stringify(v ?? null);
      if (v === undefined || v === null) return missing;
      return typeof v === 'object' ? JSON.stringify(v) : String(v);
    })
    .join('');
}

/** A column's header: the given one, else the field's name in capitals, words split (`RunningFor` → `RUNNING FOR`). */
const headerOf = (field: string, headers: Record<string, string>) =>
  headers[field] ?? field.replace(/([a-z])([A-Z])/g, '$1 $2').toUpperCase();

/**
 * `--format` of a list command: a line per row; an absent field prints
 * nothing. `table ...` adds a header line (`headers` names columns, by
 * field) and, when every line has tab-separated cells, aligns the columns.
 */
export function formatRows(template: string, rows: Array<Record<string, unknown>>, headers: Record<string, string> = {}): string {
  let t = template.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  const isTable = t.startsWith('table');
  if (isTable) t = t.replace(/^table\s*/, '');
  const parts = parseTemplate(t);
  const lines = rows.map((r) => executeTemplate(parts, r, ''));
  if (!isTable) return lines.map((l) => `${l}\n`).join('');
  const header = parts.map((p) => (typeof p === 'string' ? p : headerOf(p.path.at(-1)!, headers))).join('');
  const cells = [header, ...lines].map((l) => l.split('\t'));
  if (cells.every((r) => r.length > 1)) return table(cells[0]!, cells.slice(1));
  return cells.map((r) => r.join('\t')).join('\n') + '\n';
}

/** `--format` of an inspect command: a line per object; an absent field prints `<no value>`. */
export function formatObjects(template: string, objects: unknown[]): string {
  const parts = parseTemplate(template);
  return objects.map((o) => `${executeTemplate(parts, o, '<no value>')}\n`).join('');
}

/** What an inspect command prints: by `--format` when given, else the objects as an indented JSON array. */
export function inspectOutput(objects: unknown[], format: string | undefined): string {
  return format ? formatObjects(format, objects) : `${JSON.stringify(objects, null, 4)}\n`;
}

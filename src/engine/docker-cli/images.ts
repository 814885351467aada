import { familiarName, familiarString, formatReference, parseReference } from '../../oci/reference.js';
import { notFound, isBerthError } from '../errors.js';
import type { ImageRecord, PullEvent } from '../image-service.js';
import { ago, humanSize, table } from './format.js';
import { formatRows } from './go-template.js';
import { readAllStdin } from './io.js';
import type { CommandContext } from './context.js';
import { loadImageArchive, saveImageArchive } from '../image-archive.js';

const short = (digest: string) => digest.replace(/^sha256:/, '').slice(0, 12);

/**
 * Docker's pull output: a line per layer, redrawn in place on a terminal;
 * on a pipe only the state changes, so logs stay short.
 */
class PullProgress {
  private readonly order: string[] = [];
  private readonly lines = new Map<string, string>();
  private drawn = 0;
  downloaded = false;

  constructor(
    private readonly write: (s: string) => void,
    private readonly live: boolean,
  ) {}

  event(e: PullEvent): void {
    if (e.type === 'resolved') {
      const ref = parseReference(e.ref);
      return this.write(`${ref.tag ?? ref.digest}: Pulling from ${familiarName(ref).includes('/') ? familiarName(ref) : `library/${familiarName(ref)}`}\n`);
    }
    if (e.status === 'done') this.downloaded = true;
    const text =
      e.status === 'exists' ? 'Already exists' : e.status === 'done' ? 'Pull complete' : `Downloading ${bar(e.bytes, e.total)} ${humanSize(e.bytes)}/${humanSize(e.total)}`;
    const id = short(e.digest);
    if (!this.lines.has(id)) this.order.push(id);
    const changed = this.lines.get(id)?.split(' ')[0] !== text.split(' ')[0];
    this.lines.set(id, text);
    if (this.live) {
      if (this.drawn) this.write(`\x1b[${this.drawn}A`);
      for (const l of this.order) this.write(`\x1b[2K${l}: ${this.lines.get(l)}\n`);
      this.drawn = this.order.length;
    } else if (changed) this.write(`${id}: ${text.startsWith('Downloading') ? 'Downloading' : text}\n`);
  }
}

function bar(done: number, total: number): string {
  const width = 30;
  const n = total > 0 ? Math.min(width, Math.floor((done / total) * width)) : 0;
  return `[${'='.repeat(Math.max(0, n - 1))}${n > 0 ? '>' : ''}${' '.repeat(width - n)}]`;
}

/** `pull`, also used by `run` (which writes it to stderr). */
export async function pullWithProgress(ctx: CommandContext, name: string, write: (s: string) => void = (s) => ctx.io.stdout(s)): Promise<ImageRecord> {
  const ref = parseReference(name);
  const last = name.slice(name.lastIndexOf('/') + 1);
  if (!last.includes(':') && !name.includes('@')) write('Using default tag: latest\n');
  const progress = new PullProgress(write, ctx.io.stdoutIsTerminal);
  const image = await ctx.engine.pull(name, (e) => progress.event(e));
  write(`Digest: ${image.repoDigests.at(-1)?.split('@')[1] ?? image.manifestDigest}\n`);
  write(progress.downloaded ? `Status: Downloaded newer image for ${familiarString(ref)}\n` : `Status: Image is up to date for ${familiarString(ref)}\n`);
  write(`${formatReference(ref)}\n`);
  return image;
}

export async function pull(ctx: CommandContext): Promise<number> {
  await pullWithProgress(ctx, ctx.args[0]!);
  return 0;
}

export async function images(ctx: CommandContext): Promise<number> {
  const f = ctx.flags;
  let list = await ctx.engine.images.list();
  const [filterRepo] = ctx.args;
  const rows: Array<Record<string, string>> = [];
  for (const img of list.sort((a, b) => (b.config.created ?? '').localeCompare(a.config.created ?? ''))) {
    const tags = img.repoTags.length ? img.repoTags : [undefined];
    for (const t of tags) {
      const ref = t ? parseReference(t) : undefined;
      if (filterRepo && (!ref || familiarName(ref) !== familiarName(parseReference(filterRepo)))) continue;
      rows.push({
        Repository: ref ? familiarName(ref) : '<none>',
        Tag: ref?.tag ?? '<none>',
        ID: f.bool('no-trunc') ? img.id : short(img.id),
        CreatedSince: ago(img.config.created) || 'N/A',
        CreatedAt: img.config.created ?? '',
        Size: humanSize(img.size),
        Digest: img.repoDigests[0]?.split('@')[1] ?? '<none>',
      });
    }
  }
  list = [];
  if (f.bool('quiet')) {
    ctx.io.stdout([...new Set(rows.map((r) => r['ID']))].map((id) => `${id}\n`).join(''));
    return 0;
  }
  const format = f.string('format');
  if (format) ctx.io.stdout(formatRows(format, rows, { ID: 'IMAGE ID', CreatedSince: 'CREATED' }));
  else ctx.io.stdout(table(['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'], rows.map((r) => [r['Repository']!, r['Tag']!, r['ID']!, r['CreatedSince']!, r['Size']!])));
  return 0;
}

export function rmi(ctx: CommandContext): Promise<number> {
  return ctx.eachArg(async (name) => {
    for (const line of await ctx.engine.removeImage(name, { force: ctx.flags.bool('force') })) {
      ctx.io.stdout(line.Untagged ? `Untagged: ${line.Untagged}\n` : `Deleted: ${line.Deleted}\n`);
    }
  });
}

export async function tag(ctx: CommandContext): Promise<number> {
  const [source, target] = ctx.args;
  await ctx.engine.images.tag(source!, target!).catch((e) => {
    if (isBerthError(e, 'not-found')) throw notFound(`No such image: ${source}`);
    throw e;
  });
  return 0;
}

export async function imageInspect(ctx: CommandContext): Promise<number> {
  const out: object[] = [];
  let code = 0;
  for (const name of ctx.args) {
    const img = await ctx.engine.images.find(name).catch(() => undefined);
    if (img) out.push(ctx.engine.images.inspect(img));
    else {
      ctx.io.stderr(`Error: No such image: ${name}\n`);
      code = 1;
    }
  }
  ctx.io.stdout(`${JSON.stringify(out, null, 4)}\n`);
  return code;
}

export async function history(ctx: CommandContext): Promise<number> {
  const img = await ctx.engine.images.find(ctx.args[0]!);
  if (!img) throw notFound(`No such image: ${ctx.args[0]}`);
  const hist = [...(img.config.history ?? [])].reverse();
  let layer = img.layers.length - 1;
  const rows = hist.map((h, i) => {
    const size = h.empty_layer ? 0 : (img.layers[layer--]?.size ?? 0);
    return [i === 0 ? short(img.id) : '<missing>', ago(h.created) || 'N/A', (h.created_by ?? '').slice(0, 45), humanSize(size), h.comment ?? ''];
  });
  ctx.io.stdout(table(['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'], rows));
  return 0;
}

export async function imagePrune(ctx: CommandContext): Promise<number> {
  const { deleted, reclaimed } = await ctx.engine.pruneImages();
  ctx.io.stdout(`${deleted.length ? `Deleted Images:\n${deleted.map((d) => `deleted: ${d}\n`).join('')}\n` : ''}Total reclaimed space: ${humanSize(reclaimed)}\n`);
  return 0;
}

export async function save(ctx: CommandContext): Promise<number> {
  const out = ctx.flags.string('output');
  if (!out && ctx.io.stdoutIsTerminal) {
    throw ctx.usage('cowardly refusing to save to a terminal. Use the -o flag or redirect');
  }
  const tar = await saveImageArchive(ctx.engine.images, ctx.args, (d) => ctx.engine.images.readBlob(d));
  if (out) await ctx.files.write(out, tar);
  else ctx.io.stdout(tar);
  return 0;
}

export async function load(ctx: CommandContext): Promise<number> {
  const input = ctx.flags.string('input');
  let data: Uint8Array;
  if (input) data = await ctx.files.read(input);
  else {
    data = await readAllStdin(ctx.io);
    if (data.length === 0) throw ctx.usage('requested load from stdin, but stdin is empty');
  }
  const names = await loadImageArchive(ctx.engine.images, new Blob([data as Uint8Array<ArrayBuffer>]).stream());
  if (!ctx.flags.bool('quiet')) ctx.io.stdout(names.map((n) => (n.startsWith('ID: ') ? `Loaded image ${n}\n` : `Loaded image: ${n}\n`)).join(''));
  return 0;
}

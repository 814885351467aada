import { familiarName, familiarString, formatReference, isNameOnly, parseReference } from '../../oci/reference.js';
import { BerthError, notFound, isBerthError } from '../errors.js';
import type { ImageRecord, PullEvent, PushEvent } from '../image-service.js';
import { ago, humanSize, table } from './format.js';
import { LayerProgress } from './progress.js';
import { formatRows, inspectOutput } from './go-template.js';
import { readAllStdin } from './io.js';
import type { CommandContext } from './context.js';
import { loadImageArchive, saveImageArchive } from '../image-archive.js';

const short = (digest: string) => digest.replace(/^sha256:/, '').slice(0, 12);

/** Docker's pull output: a line per layer (LayerProgress) under a `Pulling from` line. */
class PullProgress {
  private readonly layers: LayerProgress;
  downloaded = false;

  constructor(private readonly write: (s: string) => void, live: boolean) {
    this.layers = new LayerProgress(write, live);
  }

  event(e: PullEvent): void {
    if (e.type === 'resolved') {
      const ref = parseReference(e.ref);
      return this.write(`${ref.tag ?? ref.digest}: Pulling from ${familiarName(ref).includes('/') ? familiarName(ref) : `library/${familiarName(ref)}`}\n`);
    }
    if (e.status === 'done') this.downloaded = true;
    if (e.status === 'downloading') this.layers.update(short(e.digest), 'Downloading', { bytes: e.bytes, total: e.total });
    else this.layers.update(short(e.digest), e.status === 'exists' ? 'Already exists' : 'Pull complete');
  }
}

/** `pull`, also used by `run` (which writes it to stderr). */
export async function pullWithProgress(ctx: CommandContext, name: string, write: (s: string) => void = (s) => ctx.io.stdout(s)): Promise<ImageRecord> {
  const ref = parseReference(name);
  if (isNameOnly(name)) write('Using default tag: latest\n');
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

const PUSH_STATUS = { preparing: 'Preparing', waiting: 'Waiting', pushing: 'Pushing', pushed: 'Pushed', exists: 'Layer already exists' } as const;

/**
 * `push NAME[:TAG]`, `push -a NAME`: Docker's output (`The push refers to
 * repository [...]`, a line per layer, `<tag>: digest: <digest> size: <n>`);
 * with `-q` only the reference. The client's checks come first, as Docker's
 * CLI makes them; a failure of the push itself is printed as Docker prints
 * an error in a push's stream: its message alone, exit 1.
 */
export async function push(ctx: CommandContext): Promise<number> {
  const name = ctx.args[0]!;
  const all = ctx.flags.bool('all-tags');
  const quiet = ctx.flags.bool('quiet');
  let ref;
  try {
    ref = parseReference(name);
  } catch (e) {
    ctx.io.stderr(`${(e as Error).message}\n`);
    return 1;
  }
  const fail = (message: string) => (ctx.io.stderr(`${message}\n`), 1);
  if (ref.digest) return fail('cannot push a digest reference');
  if (all && !isNameOnly(name)) return fail("tag can't be used with --all-tags/-a");
  const out = (s: string) => ctx.io.stdout(s);
  if (!all && isNameOnly(name) && !quiet) out(`Using default tag: ${ref.tag}\n`);
  let layers = new LayerProgress(out, ctx.io.stdoutIsTerminal);
  const show = (e: PushEvent) => {
    if (e.type === 'repository') out(`The push refers to repository [${e.name}]\n`);
    else if (e.type === 'tag') {
      out(`${e.tag}: digest: ${e.digest} size: ${e.size}\n`);
      layers = new LayerProgress(out, ctx.io.stdoutIsTerminal);
    } else if (e.status === 'mounted') layers.update(e.id, `Mounted from ${e.from}`);
    else layers.update(e.id, PUSH_STATUS[e.status], e.status === 'pushing' ? { bytes: e.bytes ?? 0, total: e.total ?? 0 } : undefined);
  };
  try {
    await ctx.engine.images.push(name, { allTags: all }, quiet ? undefined : show);
  } catch (e) {
    if (e instanceof BerthError) return fail(e.message);
    throw e;
  }
  if (quiet) out(`${formatReference(all ? { domain: ref.domain, path: ref.path } : ref)}\n`);
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
  ctx.io.stdout(inspectOutput(out, ctx.flags.string('format')));
  return code;
}

export async function history(ctx: CommandContext): Promise<number> {
  const img = await ctx.engine.images.find(ctx.args[0]!);
  if (!img) throw notFound(`No such image: ${ctx.args[0]}`);
  const noTrunc = ctx.flags.bool('no-trunc');
  const human = ctx.flags.string('human') !== 'false';
  const hist = [...(img.config.history ?? [])].reverse();
  let layer = img.layers.length - 1;
  const rows = hist.map((h, i) => {
    const size = h.empty_layer ? 0 : (img.layers[layer--]?.size ?? 0);
    const createdBy = h.created_by ?? '';
    return {
      ID: i === 0 ? (noTrunc ? img.id : short(img.id)) : '<missing>',
      CreatedSince: ago(h.created) || 'N/A',
      CreatedAt: h.created ?? '',
      CreatedBy: noTrunc || createdBy.length <= 45 ? createdBy : `${createdBy.slice(0, 44)}…`,
      Size: human ? humanSize(size) : String(size),
      Comment: h.comment ?? '',
    };
  });
  if (ctx.flags.bool('quiet')) {
    ctx.io.stdout(rows.map((r) => `${r.ID}\n`).join(''));
    return 0;
  }
  const format = ctx.flags.string('format');
  if (format) {
    ctx.io.stdout(formatRows(format, rows, { ID: 'IMAGE', CreatedSince: 'CREATED', CreatedBy: 'CREATED BY' }));
    return 0;
  }
  ctx.io.stdout(table(['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'], rows.map((r) => [r.ID, r.CreatedSince, r.CreatedBy, r.Size, r.Comment])));
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

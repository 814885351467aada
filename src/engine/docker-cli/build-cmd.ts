import { BuildCache } from '../build/build-cache.js';
import { Builder } from '../build/builder.js';
import { commitContainer } from '../build/commit.js';
import { tarOf } from '../build/add-sources.js';
import { BuildError } from '../build/errors.js';
import { BerthError } from '../errors.js';
import { DockerIgnore } from '../build/dockerignore.js';
import { ContextFs } from '../build/source-fs.js';
import type { CommandContext } from './context.js';
import { readAllStdin } from './io.js';
import { humanSize } from './format.js';
import { PlainProgress, TtyProgress, type BuildProgress } from './build-progress.js';

/**
 * `docker build [OPTIONS] PATH | -`: the context comes from the client (its
 * folder packed as a tar by the client's side, or a tar or a lone Dockerfile
 * on stdin), .dockerignore applies, and the builder runs the Dockerfile.
 * Output as BuildKit's: progress on stderr, `-q` prints only the image ID.
 */

/** The context and the Dockerfile's text, as the command line names them. */
async function loadContext(ctx: CommandContext): Promise<{ context: ContextFs; dockerfile: string; dockerfileName: string }> {
  const where = ctx.args[0]!;
  const file = ctx.flags.string('file');
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  if (/^(https?|git):\/\//.test(where) || where.startsWith('git@')) {
    throw ctx.usage(`building from a URL or a Git repository is not supported here; clone or download it and build the folder`);
  }
  const notFound = (e: Error) => {
    throw new BuildError(`unable to prepare context: path "${where}" not found (${e.message.trim()})`);
  };
  let context = ContextFs.empty();
  let dockerfile: string | undefined;
  /** The context's Dockerfile (`-f` inside a tar on stdin), read before .dockerignore applies, as BuildKit reads it. */
  let inContext: string | undefined = 'Dockerfile';
  if (where === '-') {
    if (file === '-') throw ctx.usage('invalid argument: can\'t use stdin for both build context and dockerfile');
    const input = await readAllStdin(ctx.io);
    const tar = await tarOf(input).catch((e: Error) => {
      throw new BuildError(`failed to solve: the context on stdin: ${e.message}`);
    });
    if (tar) context = await ContextFs.fromTar(tar);
    else {
      dockerfile = decode(input); // a Dockerfile alone: no context
      inContext = undefined;
    }
    if (file) inContext = file;
  } else {
    if (file === '-') dockerfile = decode(await readAllStdin(ctx.io));
    else if (file) {
      dockerfile = decode(
        await ctx.files.read(file).catch(() => {
          throw new BuildError(`failed to solve: failed to read dockerfile: open ${file}: no such file or directory`);
        }),
      );
    }
    if (ctx.files.readTree) {
      // The client reads its folder itself, leaving out unread what .dockerignore excludes (node_modules...).
      const text = await ctx.files.read(`${where}/.dockerignore`).then(decode, () => undefined);
      const ignore = text === undefined ? undefined : new DockerIgnore(text);
      const skip = (rel: string, isDir: boolean) => !!ignore && (isDir ? ignore.skipsDirectory(rel) : ignore.ignores(rel));
      context = ContextFs.fromEntries(await ctx.files.readTree(where, skip).catch(notFound));
      if (dockerfile === undefined) {
        for (const name of ['Dockerfile', 'dockerfile']) {
          dockerfile ??= await ctx.files.read(`${where}/${name}`).then(decode, () => undefined);
        }
        if (dockerfile === undefined) throw new BuildError('failed to solve: failed to read dockerfile: open Dockerfile: no such file or directory');
      }
      return { context: ignore ? context.filter((p) => !ignore.ignores(p)) : context, dockerfile, dockerfileName: file && file !== '-' ? file.split('/').pop()! : 'Dockerfile' };
    }
    // The client's tar has the folder's name (or `.`) at its top: the context is what is under it.
    context = await ContextFs.fromTar(await ctx.files.packTar(where).catch(notFound), true);
  }
  const name = where === '-' && file && file !== '-' ? file : file && file !== '-' ? file.split('/').pop()! : 'Dockerfile';
  if (dockerfile === undefined && inContext) {
    const path = context.lstat(`/${inContext}`) || inContext !== 'Dockerfile' ? `/${inContext}` : '/dockerfile';
    if (context.lstat(path)?.type !== 'file') throw new BuildError(`failed to solve: failed to read dockerfile: open ${inContext}: no such file or directory`);
    dockerfile = decode(await context.read(path));
  }
  const ignoreFile = context.lstat('/.dockerignore');
  if (ignoreFile?.type === 'file') {
    const ignore = new DockerIgnore(decode(await context.read('/.dockerignore')));
    context = context.filter((path) => !ignore.ignores(path));
  }
  return { context, dockerfile: dockerfile ?? '', dockerfileName: name };
}

export async function build(ctx: CommandContext): Promise<number> {
  const quiet = ctx.flags.bool('quiet');
  const mode = ctx.flags.string('progress') ?? 'auto';
  if (!['auto', 'plain', 'tty', 'quiet', 'rawjson'].includes(mode)) throw ctx.usage(`invalid progress mode "${mode}": use auto, plain, tty or quiet`);
  const platform = ctx.flags.string('platform');
  if (platform && platform !== 'linux/386') throw ctx.usage(`--platform=${platform}: berth builds linux/386 images only (v86 emulates a 32-bit x86 CPU)`);
  const buildArgs: Record<string, string> = {};
  for (const a of ctx.flags.list('build-arg')) {
    const i = a.indexOf('=');
    // `--build-arg NAME` takes NAME's value from the client's environment, as docker does.
    if (i < 0) {
      const v = ctx.io.env[a];
      if (v !== undefined) buildArgs[a] = v;
    } else buildArgs[a.slice(0, i)] = a.slice(i + 1);
  }
  for (const t of ctx.flags.list('tag')) {
    if (!/^[a-z0-9]/.test(t) || /[A-Z]/.test(t.split(':')[0]!)) throw ctx.usage(`invalid argument "${t}" for "-t, --tag" flag: invalid reference format: repository name must be lowercase`);
  }

  const stderr = (s: string) => ctx.io.stderr(s);
  const tty = mode === 'tty' || (mode === 'auto' && ctx.io.stdoutIsTerminal);
  const progress: BuildProgress | undefined = quiet || mode === 'quiet' ? undefined : tty ? new TtyProgress(stderr, () => ctx.io.terminal?.cols ?? 80) : new PlainProgress(stderr);
  const abort = new AbortController();
  const stopSignal = ctx.io.onSignal(() => abort.abort());
  let dockerfileText = '';
  let fileName = 'Dockerfile';
  try {
    const { context, dockerfile, dockerfileName } = await loadContext(ctx);
    dockerfileText = dockerfile;
    fileName = dockerfileName;
    const image = await new Builder(ctx.engine).build({
      dockerfile,
      dockerfileName,
      context,
      tags: ctx.flags.list('tag'),
      buildArgs,
      labels: ctx.flags.keyValues('label'),
      ...(ctx.flags.string('target') ? { target: ctx.flags.string('target')! } : {}),
      noCache: ctx.flags.bool('no-cache'),
      pull: ctx.flags.bool('pull'),
      ...(ctx.flags.string('network') ? { network: ctx.flags.string('network')! } : {}),
      signal: abort.signal,
      contextBytes: context.size,
      ...(progress ? { onEvent: (e) => progress.event(e) } : {}),
    });
    progress?.close();
    const iidfile = ctx.flags.string('iidfile');
    if (iidfile) await ctx.files.write(iidfile, new TextEncoder().encode(image.id));
    if (quiet) ctx.io.stdout(`${image.id}\n`);
    return 0;
  } catch (err) {
    progress?.close();
    // A .dockerignore or context Docker refuses is a failed build too.
    const e = err instanceof BerthError && !(err instanceof BuildError) && err.category === 'invalid-argument' ? new BuildError(`failed to solve: ${err.message}`) : err;
    if (!(e instanceof BuildError)) throw e;
    const step = e.step;
    if (step && progress) {
      const tail = progress.tail(step.name, 10);
      stderr(`------\n > ${step.name}:\n${tail.map((l) => `${l}\n`).join('')}------\n`);
    }
    if (step) stderr(excerpt(fileName, dockerfileText, step.line, step.lines));
    stderr(`ERROR: ${e.message}\n`);
    return 1;
  } finally {
    stopSignal();
    // The trees of the steps' intermediate states live in the 9p tree, i.e. in memory: drop those no image holds.
    await ctx.engine.layerTrees.prune().catch(() => {});
  }
}

/** BuildKit's excerpt of the Dockerfile around the failed instruction (its lines marked `>>>`). */
function excerpt(name: string, text: string, line: number, count: number): string {
  const all = text.replace(/\r?\n$/, '').split(/\r?\n/);
  const from = Math.max(1, line - 2);
  const to = Math.min(all.length, line + count - 1 + 2);
  const width = String(to).length;
  let out = `${name}:${line}${count > 1 ? `-${line + count - 1}` : ''}\n--------------------\n`;
  for (let i = from; i <= to; i++) {
    const mark = i >= line && i < line + count ? '>>>' : '   ';
    out += ` ${String(i).padStart(width + 2)} | ${mark} ${all[i - 1]}\n`;
  }
  return `${out}--------------------\n`;
}

/** `builder prune`: drops the build cache (all of it, or what no build used within `--filter until=DURATION`). */
export async function builderPrune(ctx: CommandContext): Promise<number> {
  let before: Date | undefined;
  for (const f of ctx.flags.list('filter')) {
    const m = /^until=(\d+)(s|m|h)$/.exec(f);
    if (!m) throw ctx.usage(`invalid filter "${f}": use until=DURATION (e.g. until=24h)`);
    before = new Date(Date.now() - Number(m[1]) * { s: 1e3, m: 60e3, h: 3600e3 }[m[2] as 's' | 'm' | 'h']);
  }
  const { entries, reclaimed } = await new BuildCache(ctx.engine.images.meta, ctx.engine.images).prune(before);
  ctx.io.stdout(`${entries ? `Deleted build cache objects: ${entries}\n` : ''}Total:\t${humanSize(reclaimed)}\n`);
  return 0;
}

/** `commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]`: prints the new image's ID. */
export async function commit(ctx: CommandContext): Promise<number> {
  const [container, repo] = ctx.args;
  try {
    const image = await commitContainer(ctx.engine, container!, {
      changes: ctx.flags.list('change'),
      ...(ctx.flags.string('message') ? { message: ctx.flags.string('message')! } : {}),
      ...(ctx.flags.string('author') ? { author: ctx.flags.string('author')! } : {}),
      tags: repo ? [repo] : [],
    });
    ctx.io.stdout(`${image.id}\n`);
    return 0;
  } catch (e) {
    if (e instanceof BuildError) {
      ctx.io.stderr(`Error response from daemon: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

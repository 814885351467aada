import { dirAndBase, GuestFiles } from '../guest-files.js';
import type { CommandContext } from './context.js';
import { readAllStdin } from './io.js';

/**
 * Commands on a container's files: `cp`, `diff`, `export`. They work on the
 * container's root as the guest sees it (see GuestFiles); volumes and tmpfs
 * mounted inside the container are not part of it.
 */

/** Splits `CONTAINER:PATH`; a path with no container part is the client's. */
function splitCp(arg: string): { container?: string; path: string } {
  const m = /^([a-zA-Z0-9][a-zA-Z0-9_.-]*):(.*)$/.exec(arg);
  if (m && !arg.startsWith('/') && !arg.startsWith('.')) return { container: m[1]!, path: m[2] || '/' };
  return { path: arg };
}

export async function cp(ctx: CommandContext): Promise<number> {
  const [srcArg, dstArg] = ctx.args;
  const src = splitCp(srcArg!);
  const dst = splitCp(dstArg!);
  if (!!src.container === !!dst.container) {
    throw ctx.usage('copying between containers or between two local paths is not supported; one side must be CONTAINER:PATH');
  }
  const guest = new GuestFiles(ctx.engine);
  if (src.container) {
    const c = ctx.engine.get(src.container);
    const root = guest.containerRoot(c);
    const { dir, base } = dirAndBase(src.path.startsWith('/') ? src.path : `/${src.path}`);
    const tar = await guest.pack(`${root}${dir}`, base).catch((e: Error) => {
      throw new Error(`Could not find the file ${src.path} in container ${src.container}: ${e.message}`);
    });
    if (dst.path === '-') ctx.io.stdout(tar);
    else await ctx.files.extractTar(dst.path, tar, base);
    ctx.io.stderr(`Successfully copied ${tar.length} bytes to ${dst.path}\n`);
    return 0;
  }
  const c = ctx.engine.get(dst.container!);
  const root = guest.containerRoot(c);
  const { base } = dirAndBase(src.path);
  const tar = src.path === '-' ? await readAllStdin(ctx.io) : await ctx.files.packTar(src.path);
  // Into an existing directory: keep the name; otherwise the copy takes the target's name.
  await guest.place(dst.path.startsWith('/') ? dst.path : `/${dst.path}`, tar, base, { root });
  ctx.io.stderr(`Successfully copied ${tar.length} bytes to ${c.shortId}:${dst.path}\n`);
  return 0;
}

/** `diff`: what the container changed, from its overlay's upper directory. */
export async function diff(ctx: CommandContext): Promise<number> {
  const c = ctx.engine.get(ctx.args[0]!);
  new GuestFiles(ctx.engine).containerRoot(c);
  const upper = `${c.paths.guestDir}/upper`;
  // One line per entry: its kind (w = whiteout char 0:0, d = dir, f = other) and path.
  const script = `cd "$1" && find . -mindepth 1 | while read -r p; do
if [ -c "$p" ] && [ "$(stat -c %t:%T "$p")" = "0:0" ]; then echo "w \${p#.}"; elif [ -d "$p" ]; then echo "d \${p#.}"; else echo "f \${p#.}"; fi; done`;
  const out = new TextDecoder().decode(await ctx.engine.vm.agent.runChecked(['/bin/sh', '-c', script, 'sh', upper]));
  const layers = [...c.layers].reverse();
  const inLower = (p: string) => layers.some((l) => ctx.engine.vm.fs.exists(l + p));
  const lines: string[] = [];
  for (const line of out.split('\n').filter(Boolean).sort((a, b) => a.slice(2).localeCompare(b.slice(2)))) {
    const kind = line[0];
    const path = line.slice(2);
    if (kind === 'w') lines.push(`D ${path}`);
    else lines.push(`${inLower(path) ? 'C' : 'A'} ${path}`);
  }
  ctx.io.stdout(lines.map((l) => `${l}\n`).join(''));
  return 0;
}

/** `export`: the container's filesystem as a tar, to STDOUT or a file. */
export async function exportContainer(ctx: CommandContext): Promise<number> {
  const c = ctx.engine.get(ctx.args[0]!);
  const out = ctx.flags.string('output');
  if (!out && ctx.io.stdoutIsTerminal) throw ctx.usage('cowardly refusing to save to a terminal. Use the -o flag or redirect');
  const guest = new GuestFiles(ctx.engine);
  const tar = await guest.pack(guest.containerRoot(c), '.');
  if (out) await ctx.files.write(out, tar);
  else ctx.io.stdout(tar);
  return 0;
}

import { table } from './format.js';
import { formatRows } from './go-template.js';
import type { CommandContext } from './context.js';

export async function volumeCreate(ctx: CommandContext): Promise<number> {
  const v = ctx.engine.volumes.create(ctx.args[0], ctx.flags.keyValues('label'));
  ctx.io.stdout(`${v.name}\n`);
  return 0;
}

export async function volumeLs(ctx: CommandContext): Promise<number> {
  const vols = ctx.engine.volumes.list();
  if (ctx.flags.bool('quiet')) {
    ctx.io.stdout(vols.map((v) => `${v.name}\n`).join(''));
    return 0;
  }
  const format = ctx.flags.string('format');
  const rows = vols.map((v) => ({ Driver: 'local', Name: v.name }));
  if (typeof format === 'string') ctx.io.stdout(formatRows(format, rows, { Name: 'VOLUME NAME' }));
  else ctx.io.stdout(table(['DRIVER', 'VOLUME NAME'], rows.map((r) => [r.Driver, r.Name])));
  return 0;
}

export async function volumeInspect(ctx: CommandContext): Promise<number> {
  const out: object[] = [];
  const code = await ctx.eachArg((name) => void out.push(ctx.engine.volumes.inspect(ctx.engine.volumes.get(name))));
  ctx.io.stdout(`${JSON.stringify(out, null, 4)}\n`);
  return code;
}

export function volumeRm(ctx: CommandContext): Promise<number> {
  return ctx.eachArg(async (name) => {
    await ctx.engine.volumes.remove(name, ctx.engine.volumeUsers(name));
    ctx.io.stdout(`${name}\n`);
  });
}

export async function volumePrune(ctx: CommandContext): Promise<number> {
  const gone: string[] = [];
  const all = ctx.flags.bool('all');
  for (const v of ctx.engine.volumes.list()) {
    if (!all && !v.anonymous) continue;
    if (ctx.engine.volumeUsers(v.name).length) continue;
    await ctx.engine.volumes.remove(v.name, []);
    gone.push(v.name);
  }
  ctx.io.stdout(`${gone.length ? `Deleted Volumes:\n${gone.join('\n')}\n\n` : ''}Total reclaimed space: 0B\n`);
  return 0;
}

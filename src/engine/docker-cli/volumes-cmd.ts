import { renderTemplate, table } from './format.js';
import type { Ctx } from './context.js';

export async function volumeCreate(ctx: Ctx): Promise<number> {
  const labels = Object.fromEntries(((ctx.parsed.flags['label'] as string[] | undefined) ?? []).map((l) => [l.split('=')[0]!, l.split('=').slice(1).join('=')]));
  const v = ctx.engine.volumes.create(ctx.parsed.args[0], labels);
  ctx.io.stdout(`${v.name}\n`);
  return 0;
}

export async function volumeLs(ctx: Ctx): Promise<number> {
  const vols = ctx.engine.volumes.list();
  if (ctx.parsed.flags['quiet']) {
    ctx.io.stdout(vols.map((v) => `${v.name}\n`).join(''));
    return 0;
  }
  const format = ctx.parsed.flags['format'];
  const rows = vols.map((v) => ({ Driver: 'local', Name: v.name }));
  if (typeof format === 'string') ctx.io.stdout(renderTemplate(format, rows, { Name: 'VOLUME NAME' }));
  else ctx.io.stdout(table(['DRIVER', 'VOLUME NAME'], rows.map((r) => [r.Driver, r.Name])));
  return 0;
}

export async function volumeInspect(ctx: Ctx): Promise<number> {
  const out: object[] = [];
  let code = 0;
  for (const name of ctx.parsed.args) {
    try {
      out.push(ctx.engine.volumes.inspect(ctx.engine.volumes.get(name)));
    } catch (e) {
      ctx.io.stderr(`Error response from daemon: ${(e as Error).message}\n`);
      code = 1;
    }
  }
  ctx.io.stdout(`${JSON.stringify(out, null, 4)}\n`);
  return code;
}

export async function volumeRm(ctx: Ctx): Promise<number> {
  let code = 0;
  for (const name of ctx.parsed.args) {
    try {
      await ctx.engine.volumes.remove(name, ctx.engine.volumeUsers(name));
      ctx.io.stdout(`${name}\n`);
    } catch (e) {
      ctx.io.stderr(`Error response from daemon: ${(e as Error).message}\n`);
      code = 1;
    }
  }
  return code;
}

export async function volumePrune(ctx: Ctx): Promise<number> {
  const gone: string[] = [];
  const all = !!ctx.parsed.flags['all'];
  for (const v of ctx.engine.volumes.list()) {
    if (!all && !v.anonymous) continue;
    if (ctx.engine.volumeUsers(v.name).length) continue;
    await ctx.engine.volumes.remove(v.name, []);
    gone.push(v.name);
  }
  ctx.io.stdout(`${gone.length ? `Deleted Volumes:\n${gone.join('\n')}\n\n` : ''}Total reclaimed space: 0B\n`);
  return 0;
}

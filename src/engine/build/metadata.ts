import type { ImageConfig } from '../../oci/types.js';
import { parseGoDuration } from './dockerfile.js';
import { BuildError } from './errors.js';
import type { CommandForm, Instruction } from './instructions.js';

/**
 * The instructions that change only the image config (ENV, LABEL, USER,
 * EXPOSE, VOLUME, STOPSIGNAL, SHELL, CMD, ENTRYPOINT, HEALTHCHECK, ONBUILD,
 * MAINTAINER), applied as Docker applies them: by `build` and by `commit
 * --change`. Each returns the history line Docker writes for it.
 */

type Defaults = NonNullable<ImageConfig['config']>;

export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const DEFAULT_SHELL = ['/bin/sh', '-c'];

/** Instructions `commit --change` accepts (Docker's list). */
export const COMMIT_CHANGES = ['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'ONBUILD', 'USER', 'VOLUME', 'WORKDIR'];

export function commandArgs(form: CommandForm, shell: string[]): string[] {
  return 'exec' in form ? form.exec : [...shell, form.shell];
}

function duration(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  try {
    return parseGoDuration(v);
  } catch (e) {
    throw new BuildError(`failed to solve: failed to parse ${flag}: ${(e as Error).message}`);
  }
}

/**
 * Applies a metadata instruction (already expanded) to `config`; `cmd.set`
 * records a CMD in this stage (a later ENTRYPOINT then keeps it). Returns the
 * history's `created_by`.
 */
export function applyMetadata(config: ImageConfig, inst: Instruction, cmd: { set: boolean }): string {
  const d: Defaults = (config.config ??= {});
  switch (inst.kind) {
    case 'ENV': {
      const env = new Map((d.Env ?? []).map((e) => [e.split('=')[0]!, e]));
      for (const [k, v] of inst.pairs) env.set(k, `${k}=${v}`);
      d.Env = [...env.values()];
      return `ENV ${inst.pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`;
    }
    case 'LABEL':
      d.Labels = { ...(d.Labels ?? {}), ...Object.fromEntries(inst.pairs) };
      return `LABEL ${inst.pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`;
    case 'MAINTAINER':
      config.author = inst.name;
      return `MAINTAINER ${inst.name}`;
    case 'USER':
      d.User = inst.user;
      return `USER ${inst.user}`;
    case 'WORKDIR':
      d.WorkingDir = inst.path.startsWith('/') ? inst.path : `${(d.WorkingDir || '/').replace(/\/$/, '')}/${inst.path}`;
      return `WORKDIR ${d.WorkingDir}`;
    case 'EXPOSE': {
      const ports = inst.ports.map((p) => (p.includes('/') ? p.toLowerCase() : `${p}/tcp`));
      for (const p of ports) if (!/^\d+(-\d+)?\/(tcp|udp|sctp)$/.test(p)) throw new BuildError(`failed to solve: invalid containerPort: ${p.split('/')[0]}`);
      d.ExposedPorts = { ...(d.ExposedPorts ?? {}), ...Object.fromEntries(ports.map((p) => [p, {}])) };
      return `EXPOSE map[${ports.map((p) => `${p}:{}`).join(' ')}]`;
    }
    case 'VOLUME':
      if (inst.paths.some((p) => p.trim() === '')) throw new BuildError('failed to solve: VOLUME specified can not be an empty string');
      d.Volumes = { ...(d.Volumes ?? {}), ...Object.fromEntries(inst.paths.map((p) => [p, {}])) };
      return `VOLUME ${JSON.stringify(inst.paths)}`;
    case 'STOPSIGNAL':
      d.StopSignal = inst.signal;
      return `STOPSIGNAL ${inst.signal}`;
    case 'SHELL':
      d.Shell = inst.shell;
      return `SHELL ${JSON.stringify(inst.shell)}`;
    case 'CMD':
      d.Cmd = commandArgs(inst.command, d.Shell ?? DEFAULT_SHELL);
      cmd.set = true;
      return `CMD ${JSON.stringify(d.Cmd)}`;
    case 'ENTRYPOINT':
      d.Entrypoint = commandArgs(inst.command, d.Shell ?? DEFAULT_SHELL);
      // Docker: a new ENTRYPOINT drops a CMD inherited from the base image.
      if (!cmd.set) d.Cmd = null;
      return `ENTRYPOINT ${JSON.stringify(d.Entrypoint)}`;
    case 'HEALTHCHECK': {
      if (inst.test === 'NONE') d.Healthcheck = { Test: ['NONE'] };
      else {
        const o = inst.options;
        const hc: NonNullable<Defaults['Healthcheck']> = { Test: 'exec' in inst.test ? ['CMD', ...inst.test.exec] : ['CMD-SHELL', inst.test.shell] };
        const put = (k: 'Interval' | 'Timeout' | 'StartPeriod' | 'StartInterval', v: string | undefined, flag: string) => {
          const n = duration(v, flag);
          if (n !== undefined) hc[k] = n;
        };
        put('Interval', o.interval, '--interval');
        put('Timeout', o.timeout, '--timeout');
        put('StartPeriod', o.startPeriod, '--start-period');
        put('StartInterval', o.startInterval, '--start-interval');
        if (o.retries !== undefined) {
          const r = Number(o.retries);
          if (!Number.isInteger(r) || r < 0) throw new BuildError(`failed to solve: invalid value for --retries: ${o.retries}`);
          hc.Retries = r;
        }
        d.Healthcheck = hc;
      }
      return `HEALTHCHECK ${JSON.stringify(d.Healthcheck)}`;
    }
    case 'ONBUILD':
      d.OnBuild = [...(d.OnBuild ?? []), inst.original.replace(/^ONBUILD\s+/i, '')];
      return inst.original;
    default:
      throw new BuildError(`failed to solve: ${inst.kind} changes more than the image config`);
  }
}

import { Command, Option } from 'commander';
import { CommandNotRunnableError } from '../engine/engine.js';
import { BerthError } from '../engine/errors.js';
import { GuestNotBuiltError } from '../vm/artifacts.js';
import { bootNodeEngine } from '../node/boot.js';
import { parseBytes, parseEnvFlag } from './parse.js';

const collect = (value: string, previous: string[]) => [...previous, value];

interface RunFlags {
  rm?: boolean;
  env: string[];
  workdir?: string;
  name?: string;
  hostname?: string;
  user?: string;
  entrypoint?: string;
  tty?: boolean;
  interactive?: boolean;
  memory?: string;
  pidsLimit?: string;
  readOnly?: boolean;
}

/** Exit status of the berth command for an error, as Docker's CLI chooses it. */
function reportError(e: unknown): number {
  if (e instanceof CommandNotRunnableError) {
    process.stderr.write(`berth: Error response from daemon: ${e.message}\n`);
    return e.exitCode;
  }
  if (e instanceof GuestNotBuiltError) {
    process.stderr.write(`berth: ${e.message}\n`);
    return 125;
  }
  if (e instanceof BerthError) {
    const text = e.message.startsWith('Unable to find image') ? e.message : `Error response from daemon: ${e.message}`;
    process.stderr.write(`${e.message.startsWith('Unable to find image') ? '' : 'berth: '}${text}\n`);
    return 125;
  }
  process.stderr.write(`berth: ${(e as Error)?.message ?? String(e)}\n`);
  return 125;
}

async function runCommand(image: string, cmd: string[], flags: RunFlags): Promise<number> {
  const showProgress = process.stderr.isTTY && !process.env['CI'];
  const engine = await bootNodeEngine({
    ...(showProgress ? { onProgress: (p) => process.stderr.write(`\r\x1b[2Kberth: ${p.stage}… ${(p.elapsedMs / 1000).toFixed(1)} s${p.stage === 'ready' ? '\r\x1b[2K' : ''}`) } : {}),
  });
  const stdinIsTty = !!process.stdin.isTTY;
  try {
    const tty = !!flags.tty;
    const c = await engine.create(image, {
      ...(cmd.length ? { cmd } : {}),
      env: flags.env.map(parseEnvFlag),
      ...(flags.workdir ? { workdir: flags.workdir } : {}),
      ...(flags.name ? { name: flags.name } : {}),
      ...(flags.hostname ? { hostname: flags.hostname } : {}),
      ...(flags.user ? { user: flags.user } : {}),
      ...(flags.entrypoint !== undefined ? { entrypoint: flags.entrypoint === '' ? [] : [flags.entrypoint] } : {}),
      ...(flags.memory ? { memory: parseBytes(flags.memory) } : {}),
      ...(flags.pidsLimit ? { pidsLimit: Number(flags.pidsLimit) } : {}),
      tty,
      interactive: !!flags.interactive,
      readOnly: !!flags.readOnly,
    });
    const proc = await engine.start(c.id, {
      onStdout: (d) => process.stdout.write(d),
      onStderr: (d) => process.stderr.write(d),
      ...(tty && process.stdout.isTTY ? { size: { rows: process.stdout.rows, cols: process.stdout.columns } } : {}),
    });
    if (flags.interactive) {
      if (tty && stdinIsTty) process.stdin.setRawMode(true);
      process.stdin.on('data', (d: Buffer) => void proc.write(new Uint8Array(d)));
      process.stdin.on('end', () => proc.closeStdin());
      if (tty) process.stdout.on('resize', () => proc.resize(process.stdout.rows, process.stdout.columns));
    }
    const status = await c.wait();
    if (flags.interactive) {
      if (tty && stdinIsTty) process.stdin.setRawMode(false);
      process.stdin.pause();
    }
    if (flags.rm) await engine.remove(c.id, { force: true });
    await new Promise<void>((r) => process.stdout.write('', () => r()));
    return status.code;
  } finally {
    await engine.vm.stop();
  }
}

export function buildProgram(): Command {
  const program = new Command('berth')
    .description('Real Linux containers in a v86 guest, driven like Docker.')
    .enablePositionalOptions()
    .showHelpAfterError();

  program
    .command('run')
    .description('Create and run a new container from an image')
    .usage('[OPTIONS] IMAGE [COMMAND] [ARG...]')
    .argument('<image>', 'image to run, e.g. busybox')
    .argument('[command...]', 'command and arguments (default: the image\'s)')
    .passThroughOptions()
    .option('--rm', 'automatically remove the container when it exits')
    .option('-e, --env <KEY=VALUE>', 'set environment variables (repeatable)', collect, [])
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .option('--name <name>', 'assign a name to the container')
    .addOption(new Option('-h, --hostname <name>', 'container host name'))
    .option('-u, --user <user>', 'username or UID (format: <name|uid>[:<group|gid>])')
    .option('--entrypoint <cmd>', 'overwrite the default ENTRYPOINT of the image')
    .option('-t, --tty', 'allocate a pseudo-TTY')
    .option('-i, --interactive', 'keep STDIN open')
    .option('-m, --memory <bytes>', 'memory limit (e.g. 16m)')
    .option('--pids-limit <n>', 'tune the container pids limit')
    .option('--read-only', 'mount the container\'s root filesystem as read only')
    .helpOption('--help', 'display help for command')
    .action(async (image: string, command: string[], flags: RunFlags) => {
      process.exitCode = await runCommand(image, command, flags).catch(reportError);
    });

  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  program.exitOverride((err) => {
    process.exit(err.exitCode === 0 ? 0 : 125);
  });
  await program.parseAsync(argv);
  // v86 may leave timers behind; the exit code is what matters now.
  process.exit(process.exitCode ?? 0);
}

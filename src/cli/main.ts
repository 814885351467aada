import { Command, Option } from 'commander';
import { CommandNotRunnableError, type Engine } from '../engine/engine.js';
import { BerthError } from '../engine/errors.js';
import type { ImageService } from '../engine/image-service.js';
import { familiarString, formatReference, parseReference } from '../oci/reference.js';
import { GuestNotBuiltError } from '../vm/artifacts.js';
import { bootNodeEngine } from '../node/boot.js';
import { openImageService } from '../node/host.js';
import { parseBytes, parseEnvFlag } from './parse.js';
import { humanSize, PullProgress } from './pull-progress.js';
import { imageTable } from './tables.js';
import { loadArchive, saveArchive } from '../node/archive-files.js';

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
  pull: 'missing' | 'always' | 'never';
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
    if (e.message.startsWith('Unable to find image')) process.stderr.write(`${e.message}\n`);
    else process.stderr.write(`berth: Error response from daemon: ${e.message}\n`);
    return 125;
  }
  process.stderr.write(`berth: ${(e as Error)?.message ?? String(e)}\n`);
  return 125;
}

/** `pull` with Docker's output. */
async function pullWithProgress(images: ImageService, name: string): Promise<void> {
  const ref = parseReference(name);
  const last = name.slice(name.lastIndexOf('/') + 1);
  if (!last.includes(':') && !name.includes('@')) process.stdout.write('Using default tag: latest\n');
  const progress = new PullProgress(process.stdout);
  let downloaded = false;
  const image = await images.pull(name, (e) => {
    if (e.type === 'layer' && e.status === 'done') downloaded = true;
    progress.event(e);
  });
  const familiar = familiarString(ref);
  process.stdout.write(`Digest: ${image.repoDigests.at(-1)?.split('@')[1] ?? image.manifestDigest}\n`);
  process.stdout.write(downloaded ? `Status: Downloaded newer image for ${familiar}\n` : `Status: Image is up to date for ${familiar}\n`);
  process.stdout.write(`${formatReference(ref)}\n`);
}

async function runCommand(image: string, cmd: string[], flags: RunFlags): Promise<number> {
  const showProgress = process.stderr.isTTY && !process.env['CI'];
  const images = openImageService();
  if (flags.pull === 'always') await pullWithProgress(images, image);
  else if (flags.pull === 'missing' && !(await images.find(image)) && !isEmbedded(image)) {
    process.stderr.write(`Unable to find image '${familiarString(parseReference(image))}' locally\n`);
    await pullWithProgress(images, image);
  }
  const engine: Engine = await bootNodeEngine({
    images,
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

/** The embedded images are imported at boot; no pull is needed for them. */
function isEmbedded(name: string): boolean {
  try {
    return familiarString(parseReference(name)) === 'busybox:latest';
  } catch {
    return false;
  }
}

/** Runs an action and turns its outcome into the process exit code. */
const act =
  <A extends unknown[]>(fn: (...args: A) => Promise<number | void>) =>
  async (...args: A) => {
    process.exitCode = await fn(...args).then((c) => c ?? 0, reportError);
  };

export function buildProgram(): Command {
  const program = new Command('berth')
    .description('Real Linux containers in a v86 guest, driven like Docker.\n\nEnvironment: BERTH_STORE (image store folder), BERTH_CACHE (default ~/.cache/berth),\nBERTH_REGISTRY_MIRRORS (HOST=URL,... e.g. docker.io=http://127.0.0.1:5000)')
    .enablePositionalOptions()
    .showHelpAfterError();

  program
    .command('run')
    .description('Create and run a new container from an image')
    .usage('[OPTIONS] IMAGE [COMMAND] [ARG...]')
    .argument('<image>', 'image to run, e.g. busybox')
    .argument('[command...]', "command and arguments (default: the image's)")
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
    .option('--read-only', "mount the container's root filesystem as read only")
    .addOption(new Option('--pull <policy>', 'pull image before running').choices(['missing', 'always', 'never']).default('missing'))
    .helpOption('--help', 'display help for command')
    .action(act((image: string, command: string[], flags: RunFlags) => runCommand(image, command, flags)));

  program
    .command('pull')
    .description('Download an image from a registry (linux/386)')
    .argument('<image>', 'NAME[:TAG|@DIGEST]')
    .action(act((image: string) => pullWithProgress(openImageService(), image)));

  program
    .command('images')
    .alias('image ls')
    .description('List images')
    .option('-q, --quiet', 'only show image IDs')
    .option('-a, --all', 'show all images (no intermediate images exist here)')
    .action(
      act(async (flags: { quiet?: boolean }) => {
        const list = await openImageService().list();
        process.stdout.write(imageTable(list, !!flags.quiet));
      }),
    );

  program
    .command('rmi')
    .description('Remove one or more images')
    .argument('<images...>')
    .option('-f, --force', 'force removal of the image')
    .action(
      act(async (names: string[], flags: { force?: boolean }) => {
        const images = openImageService();
        let failed = false;
        for (const name of names) {
          try {
            for (const line of await images.remove(name, { force: !!flags.force })) {
              process.stdout.write(line.Untagged ? `Untagged: ${line.Untagged}\n` : `Deleted: ${line.Deleted}\n`);
            }
          } catch (e) {
            reportError(e);
            failed = true;
          }
        }
        return failed ? 1 : 0;
      }),
    );

  program
    .command('tag')
    .description('Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE')
    .argument('<source>')
    .argument('<target>')
    .action(act((source: string, target: string) => openImageService().tag(source, target)));

  const image = program.command('image').description('Manage images');
  image
    .command('inspect')
    .description('Display detailed information on one or more images')
    .argument('<images...>')
    .action(
      act(async (names: string[]) => {
        const images = openImageService();
        const out = [];
        for (const n of names) out.push(images.inspect(await images.resolve(n).catch(() => Promise.reject(new BerthError('not-found', `No such image: ${n}`)))));
        process.stdout.write(`${JSON.stringify(out, null, 4)}\n`);
      }),
    );
  image
    .command('prune')
    .description('Remove dangling images')
    .option('-f, --force', 'do not prompt for confirmation')
    .action(
      act(async () => {
        const { deleted, reclaimed } = await openImageService().prune();
        if (deleted.length) process.stdout.write(`Deleted Images:\n${deleted.map((d) => `deleted: ${d}\n`).join('')}\n`);
        process.stdout.write(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
      }),
    );
  image.command('ls').description('List images').option('-q, --quiet').action(
    act(async (flags: { quiet?: boolean }) => void process.stdout.write(imageTable(await openImageService().list(), !!flags.quiet))),
  );

  program
    .command('load')
    .description('Load an image from a tar archive (docker save or OCI layout)')
    .requiredOption('-i, --input <file>', 'read from this tar archive file')
    .action(
      act(async (flags: { input: string }) => {
        for (const ref of await loadArchive(openImageService(), flags.input)) process.stdout.write(`Loaded image: ${ref}\n`);
      }),
    );

  program
    .command('save')
    .description('Save an image to a tar archive (docker save and OCI layout in one)')
    .requiredOption('-o, --output <file>', 'write to this file')
    .argument('<image>')
    .action(act((name: string, flags: { output: string }) => saveArchive(openImageService(), name, flags.output)));

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

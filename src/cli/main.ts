import { runDockerCommand } from '../engine/docker-cli/docker-cli.js';
import { ClientIO } from '../engine/docker-cli/io.js';
import type { Engine } from '../engine/engine.js';
import { readManifest } from '../vm/artifacts.js';
import { runDaemon } from '../node/daemon.js';
import { connectDaemon, runViaDaemon, stopDaemon } from '../node/daemon-client.js';
import { daemonPaths } from '../node/daemon-paths.js';
import { FolderArtifactSource } from '../node/folder-artifacts.js';

/**
 * `berth`: Docker's command line for the Berth engine in Node. Like the
 * docker CLI it is a thin client: commands run in a background daemon that
 * keeps the guest and its containers alive between invocations.
 */

const BERTH_HELP = `
Berth commands (besides Docker's):
  daemon run       Run the daemon in the foreground
  daemon start     Start the daemon in the background (done on first use)
  daemon stop      Stop the daemon and every container in it
  daemon status    Say whether the daemon runs, and where its socket and log are

Environment:
  BERTH_CACHE             state folder (default ~/.cache/berth): daemon socket, log, image store
  BERTH_STORE             image store folder (default $BERTH_CACHE/store)
  BERTH_REGISTRY_MIRRORS  HOST=URL,... registry mirrors, e.g. docker.io=http://127.0.0.1:5000
  BERTH_GUEST_DIR         guest artifacts (default public/guest of this checkout)
  BERTH_CORS_PROXY        URL prefix for containers' outbound HTTP (the target URL is appended, encoded)
`;

const isHelp = (argv: string[]) =>
  argv.length === 0 || ['--help', '-h', 'help', '--version', '-v'].includes(argv[0]!) || argv.includes('--help');

/** Help needs no guest: run it here with an engine that is never touched. */
async function localHelp(argv: string[]): Promise<number> {
  const noEngine = new Proxy({}, { get: () => { throw new Error('no engine for help'); } }) as Engine;
  const io = new ClientIO(
    { stdout: (d) => process.stdout.write(d), stderr: (d) => process.stderr.write(d), setRaw: () => {} },
    process.cwd(), {}, undefined, !!process.stdout.isTTY,
  );
  const code = await runDockerCommand(noEngine, argv, io);
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') process.stdout.write(BERTH_HELP);
  return code;
}

async function daemonCommand(sub: string | undefined): Promise<number> {
  const paths = daemonPaths();
  switch (sub) {
    case 'run': {
      const d = await runDaemon();
      const stop = () => void d.stop().then(() => process.exit(0));
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
      return new Promise<number>(() => {});
    }
    case 'start':
      (await connectDaemon(() => process.stderr.write('berth: starting the daemon…\n'))).end();
      process.stdout.write(`berth daemon running (socket ${paths.socket})\n`);
      return 0;
    case 'stop':
      process.stdout.write((await stopDaemon()) ? 'berth daemon stopped\n' : 'berth daemon was not running\n');
      return 0;
    case 'status': {
      const { connect } = await import('node:net');
      const up = await new Promise<boolean>((r) => {
        const s = connect(paths.socket);
        s.once('connect', () => (s.end(), r(true)));
        s.once('error', () => r(false));
      });
      process.stdout.write(`berth daemon ${up ? 'running' : 'not running'}\n  socket: ${paths.socket}\n  log:    ${paths.log}\n`);
      return up ? 0 : 1;
    }
    default:
      process.stderr.write(`berth: unknown daemon command '${sub ?? ''}' (run, start, stop, status)\n`);
      return 125;
  }
}

export async function main(argv: string[]): Promise<void> {
  const args = argv.slice(2);
  let code: number;
  try {
    if (args[0] === 'daemon') code = await daemonCommand(args[1]);
    else if (isHelp(args)) code = await localHelp(args);
    else {
      await readManifest(new FolderArtifactSource()); // the build command, before a daemon is started
      code = await runViaDaemon(args);
    }
  } catch (e) {
    process.stderr.write(`berth: ${(e as Error).message}\n`);
    code = 125;
  }
  process.exit(code);
}

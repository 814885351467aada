import type { Engine } from '../engine/engine.js';
import { readManifest } from '../vm/artifacts.js';
import type { RunningDaemon } from '../node/daemon.js';
import { connectDaemon, daemonAnswers, daemonRequest, runViaDaemon, stopDaemon } from '../node/daemon-client.js';
import { ownerMayBeDaemon, ownerState, readLock } from '../node/daemon-lock.js';
import { DAEMON_RUNNING_EXIT, daemonPaths } from '../node/daemon-paths.js';
import { FolderArtifactSource } from '../node/folder-artifacts.js';

/**
 * `berth`: Docker's command line for the Berth engine in Node. Like the
 * docker CLI it is a thin client: commands run in a background daemon that
 * keeps the guest and its containers alive between invocations.
 *
 * The client loads only what talks to the daemon (the socket, the frame
 * codec, the client session): Docker's command table and the engine are
 * imported when needed, for help (answered here, no daemon needed) and for
 * `daemon run`. bin/berth.js runs this file from the build that
 * scripts/build-cli.mjs makes (dist-cli/), where those imports are chunks of
 * their own, loaded only by the commands that use them.
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

/** Docker's top-level flags and management groups, as docker-cli.ts's isHelpRequest knows them. */
const TOP_LEVEL = ['--help', '-h', 'help', '--version', '-v'];
const GROUPS = ['container', 'image', 'volume', 'network', 'system'];

/**
 * Whether a command line may ask for help: a cheap test that lets every other
 * line go to the daemon without loading Docker's command table. Help is only
 * ever the top-level flags, a group alone (`image`), or a `--help` flag (the
 * parser knows no other spelling); whether that flag is the command's or the
 * container's (`run busybox ls --help`) is for isHelpRequest to say. A line
 * missed here is still answered, by the daemon, which runs the same commands.
 */
function mayBeHelp(argv: string[]): boolean {
  const args = argv[0] === 'docker' ? argv.slice(1) : argv;
  if (args.length === 0 || TOP_LEVEL.includes(args[0]!)) return true;
  if (GROUPS.includes(args[0]!) && (!args[1] || args[1].startsWith('-'))) return true;
  return args.some((a) => a === '--help' || a.startsWith('--help='));
}

/**
 * Help needs no guest: run it here with an engine that is never touched.
 * `--help` after the image (run/create) or the container (exec) is the
 * container's: the command's own parser decides (isHelpRequest); undefined
 * when the line is not a help request.
 */
async function localHelp(argv: string[]): Promise<number | undefined> {
  const [{ isHelpRequest, runDockerCommand }, { ClientIO }] = await Promise.all([
    import('../engine/docker-cli/docker-cli.js'),
    import('../engine/docker-cli/io.js'),
  ]);
  if (!isHelpRequest(argv)) return undefined;
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
      // Set before the lock is taken: a SIGTERM while booting (`daemon stop` then signals) ends the process, and the lock with it.
      let d: RunningDaemon | undefined;
      const onSignal = () => (d ? void d.stop() : process.exit(0));
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      // The engine, the guest and the server: loaded only by the daemon.
      const { DaemonAlreadyRunning, runDaemon } = await import('../node/daemon.js');
      try {
        d = await runDaemon();
      } catch (e) {
        if (!(e instanceof DaemonAlreadyRunning)) throw e;
        process.stderr.write(`berth: ${e.message}\n`);
        return DAEMON_RUNNING_EXIT;
      }
      return await d.stopped;
    }
    case 'start':
      (await connectDaemon(() => process.stderr.write('berth: starting the daemon…\n'))).end();
      process.stdout.write(`berth daemon running (socket ${paths.socket})\n`);
      return 0;
    case 'stop': {
      const r = await stopDaemon();
      if (!r.stopped && r.note) process.stderr.write(`berth: ${r.note}\n`);
      process.stdout.write(r.stopped ? `berth daemon stopped (pid ${r.pid})\n` : 'berth daemon was not running\n');
      return 0;
    }
    case 'status': {
      const info = await daemonRequest('status');
      const lock = readLock(paths.pid);
      const starting = !info && lock?.owner && ownerMayBeDaemon(ownerState(lock.owner, paths.dir)) ? lock.owner.pid : undefined;
      const older = !info && !starting && (await daemonAnswers());
      const state = info ? `running (pid ${info.pid})` : starting ? `starting (pid ${starting})` : older ? 'running (an older berth)' : 'not running';
      process.stdout.write(`berth daemon ${state}\n  socket: ${paths.socket}\n  log:    ${paths.log}\n`);
      return info || older ? 0 : 1;
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
    else {
      const help = mayBeHelp(args) ? await localHelp(args) : undefined;
      if (help !== undefined) code = help;
      else {
        await readManifest(new FolderArtifactSource()); // the build command, before a daemon is started
        code = await runViaDaemon(args);
      }
    }
  } catch (e) {
    process.stderr.write(`berth: ${(e as Error).message}\n`);
    code = 125;
  }
  process.exit(code);
}

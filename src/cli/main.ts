import { isHelpRequest, runDockerCommand } from '../engine/docker-cli/docker-cli.js';
import { ClientIO } from '../engine/docker-cli/io.js';
import type { Engine } from '../engine/engine.js';
import { readManifest } from '../vm/artifacts.js';
import { DaemonAlreadyRunning, runDaemon, type RunningDaemon } from '../node/daemon.js';
import { connectDaemon, daemonAnswers, daemonRequest, runViaDaemon, stopDaemon } from '../node/daemon-client.js';
import { ownerMayBeDaemon, ownerState, readLock } from '../node/daemon-lock.js';
import { DAEMON_RUNNING_EXIT, daemonPaths } from '../node/daemon-paths.js';
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

/** `--help` after the image (run/create) or the container (exec) is the container's: the command's own parser decides. */
const isHelp = (argv: string[]) => isHelpRequest(argv);

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
      // Set before the lock is taken: a SIGTERM while booting (`daemon stop` then signals) ends the process, and the lock with it.
      let d: RunningDaemon | undefined;
      const onSignal = () => (d ? void d.stop() : process.exit(0));
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
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

import { BerthError } from '../errors.js';
import { CommandNotRunnableError, type Engine } from '../engine.js';
import * as C from './containers.js';
import * as I from './images.js';
import * as V from './volumes-cmd.js';
import * as S from './system-cmd.js';
import * as FC from './files-cmd.js';
import * as N from './networks-cmd.js';
import * as B from './build-cmd.js';
import { BuildCache } from '../build/build-cache.js';
import { humanSize, table } from './format.js';
import type { ClientFiles, CommandIO } from './io.js';
import { CommandContext } from './context.js';
import { helpText, parseCommand, UsageError, type CommandSpec, type FlagSpec } from './parse.js';
import { CREATE_FLAGS, RUN_FLAGS } from './run-flags.js';

/**
 * Docker's command line, run by the engine: the `docker` client in the guest
 * and `berth` in Node send argv here and get streams and an exit code back.
 * Exit codes: the container's; 125 for a daemon/usage error; 126/127 when
 * the command cannot be invoked/found; 1 for partial failures (rm a b).
 */

interface Command extends CommandSpec {
  run(ctx: CommandContext): Promise<number>;
}

const F = {
  all: { long: 'all', short: 'a', type: 'bool', description: 'Show all' } as FlagSpec,
  quiet: { long: 'quiet', short: 'q', type: 'bool', description: 'Only display IDs' } as FlagSpec,
  force: { long: 'force', short: 'f', type: 'bool', description: 'Force the operation' } as FlagSpec,
  format: { long: 'format', type: 'string', description: 'Format output using a Go template' } as FlagSpec,
  time: { long: 'time', short: 't', type: 'string', value: 'int', description: 'Seconds to wait before killing the container', default: '10' } as FlagSpec,
};

const COMMANDS: Command[] = [
  { name: 'run', usage: '[OPTIONS] IMAGE [COMMAND] [ARG...]', description: 'Create and run a new container from an image', flags: RUN_FLAGS, haltAtFirstArg: true, minArgs: 1, run: C.run },
  { name: 'create', usage: '[OPTIONS] IMAGE [COMMAND] [ARG...]', description: 'Create a new container', flags: CREATE_FLAGS, haltAtFirstArg: true, minArgs: 1, run: C.create },
  { name: 'start', usage: '[OPTIONS] CONTAINER [CONTAINER...]', description: 'Start one or more stopped containers', minArgs: 1, flags: [
    { long: 'attach', short: 'a', type: 'bool', description: "Attach STDOUT/STDERR and forward signals" },
    { long: 'interactive', short: 'i', type: 'bool', description: "Attach container's STDIN" }], run: C.start },
  { name: 'stop', usage: '[OPTIONS] CONTAINER [CONTAINER...]', description: 'Stop one or more running containers', minArgs: 1, flags: [F.time, { long: 'signal', short: 's', type: 'string', description: 'Signal to send to the container' }], run: C.stop },
  { name: 'restart', usage: '[OPTIONS] CONTAINER [CONTAINER...]', description: 'Restart one or more containers', minArgs: 1, flags: [F.time], run: C.restart },
  { name: 'kill', usage: '[OPTIONS] CONTAINER [CONTAINER...]', description: 'Kill one or more running containers', minArgs: 1, flags: [{ long: 'signal', short: 's', type: 'string', description: 'Signal to send to the container', default: 'KILL' }], run: C.kill },
  { name: 'rm', usage: '[OPTIONS] CONTAINER [CONTAINER...]', description: 'Remove one or more containers', minArgs: 1, flags: [
    { ...F.force, description: 'Force the removal of a running container (uses SIGKILL)' },
    { long: 'volumes', short: 'v', type: 'bool', description: 'Remove anonymous volumes associated with the container' }], run: C.rm },
  { name: 'ps', usage: '[OPTIONS]', description: 'List containers', maxArgs: 0, flags: [
    { ...F.all, description: 'Show all containers (default shows just running)' }, F.quiet,
    { long: 'latest', short: 'l', type: 'bool', description: 'Show the latest created container (includes all states)' },
    { long: 'last', short: 'n', type: 'string', value: 'int', description: 'Show n last created containers' },
    { long: 'filter', short: 'f', type: 'list', value: 'filter', description: 'Filter output based on conditions provided' },
    { long: 'no-trunc', type: 'bool', description: "Don't truncate output" },
    { long: 'size', short: 's', type: 'bool', description: 'Display total file sizes' }, F.format], run: C.ps },
  { name: 'logs', usage: '[OPTIONS] CONTAINER', description: 'Fetch the logs of a container', minArgs: 1, maxArgs: 1, flags: [
    { long: 'follow', short: 'f', type: 'bool', description: 'Follow log output' },
    { long: 'tail', short: 'n', type: 'string', description: 'Number of lines to show from the end of the logs', default: 'all' },
    { long: 'timestamps', short: 't', type: 'bool', description: 'Show timestamps' }], run: C.logs },
  { name: 'exec', usage: '[OPTIONS] CONTAINER COMMAND [ARG...]', description: 'Execute a command in a running container', minArgs: 2, haltAtFirstArg: true, flags: [
    { long: 'interactive', short: 'i', type: 'bool', description: 'Keep STDIN open even if not attached' },
    { long: 'tty', short: 't', type: 'bool', description: 'Allocate a pseudo-TTY' },
    { long: 'detach', short: 'd', type: 'bool', description: 'Detached mode: run command in the background' },
    { long: 'env', short: 'e', type: 'list', description: 'Set environment variables' },
    { long: 'workdir', short: 'w', type: 'string', description: 'Working directory inside the container' },
    { long: 'user', short: 'u', type: 'string', description: 'Username or UID (format: "<name|uid>[:<group|gid>]")' },
    { long: 'privileged', type: 'bool', description: 'Give extended privileges to the command' }], run: C.exec },
  { name: 'attach', usage: '[OPTIONS] CONTAINER', description: 'Attach local standard input, output, and error streams to a running container', minArgs: 1, maxArgs: 1, flags: [
    { long: 'no-stdin', type: 'bool', description: 'Do not attach STDIN' }], run: C.attach },
  { name: 'wait', usage: 'CONTAINER [CONTAINER...]', description: 'Block until one or more containers stop, then print their exit codes', minArgs: 1, flags: [], run: C.wait },
  { name: 'top', usage: 'CONTAINER [ps OPTIONS]', description: 'Display the running processes of a container', minArgs: 1, flags: [], run: C.top },
  { name: 'inspect', usage: '[OPTIONS] NAME|ID [NAME|ID...]', description: 'Return low-level information on Docker objects', minArgs: 1, flags: [{ ...F.format, short: 'f' }], run: C.inspect },
  { name: 'rename', usage: 'CONTAINER NEW_NAME', description: 'Rename a container', minArgs: 2, maxArgs: 2, flags: [], run: C.rename },
  { name: 'pull', usage: '[OPTIONS] NAME[:TAG|@DIGEST]', description: 'Download an image from a registry', minArgs: 1, maxArgs: 1, flags: [{ long: 'quiet', short: 'q', type: 'bool', description: 'Suppress verbose output' }], run: I.pull },
  { name: 'push', usage: '[OPTIONS] NAME[:TAG]', description: 'Upload an image to a registry', minArgs: 1, maxArgs: 1, flags: [
    { long: 'all-tags', short: 'a', type: 'bool', description: 'Push all tags of an image to the repository' },
    { long: 'quiet', short: 'q', type: 'bool', description: 'Suppress verbose output' },
    { long: 'disable-content-trust', type: 'bool', description: 'Skip image signing (Berth signs nothing)' }], run: I.push },
  { name: 'images', usage: '[OPTIONS] [REPOSITORY[:TAG]]', description: 'List images', maxArgs: 1, flags: [{ ...F.all, description: 'Show all images (default hides intermediate images)' }, { ...F.quiet, description: 'Only show image IDs' }, { long: 'no-trunc', type: 'bool', description: "Don't truncate output" }, { long: 'digests', type: 'bool', description: 'Show digests' }, F.format], run: I.images },
  { name: 'rmi', usage: '[OPTIONS] IMAGE [IMAGE...]', description: 'Remove one or more images', minArgs: 1, flags: [{ ...F.force, description: 'Force removal of the image' }], run: I.rmi },
  { name: 'tag', usage: 'SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]', description: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE', minArgs: 2, maxArgs: 2, flags: [], run: I.tag },
  { name: 'history', usage: '[OPTIONS] IMAGE', description: 'Show the history of an image', minArgs: 1, maxArgs: 1, flags: [
    { long: 'human', short: 'H', type: 'string', description: 'Print sizes and dates in human readable format', default: 'true' },
    { long: 'no-trunc', type: 'bool', description: "Don't truncate output" },
    { ...F.quiet, description: 'Only show image IDs' }, F.format], run: I.history },
  { name: 'save', usage: '[OPTIONS] IMAGE [IMAGE...]', description: 'Save one or more images to a tar archive (streamed to STDOUT by default)', minArgs: 1, flags: [{ long: 'output', short: 'o', type: 'string', description: 'Write to a file, instead of STDOUT' }], run: I.save },
  { name: 'load', usage: '[OPTIONS]', description: 'Load an image from a tar archive or STDIN', maxArgs: 0, flags: [{ long: 'input', short: 'i', type: 'string', description: 'Read from tar archive file, instead of STDIN' }, { long: 'quiet', short: 'q', type: 'bool', description: 'Suppress the load output' }], run: I.load },
  { name: 'login', usage: '[OPTIONS] [SERVER]', description: 'Log in to a registry (credentials are kept in the engine\'s store)', maxArgs: 1, flags: [
    { long: 'username', short: 'u', type: 'string', description: 'Username' },
    { long: 'password', short: 'p', type: 'string', description: 'Password' },
    { long: 'password-stdin', type: 'bool', description: 'Take the password from stdin' }], run: S.login },
  { name: 'logout', usage: '[SERVER]', description: 'Log out from a registry', maxArgs: 1, flags: [], run: S.logout },
  { name: 'stats', usage: '[OPTIONS] [CONTAINER...]', description: 'Display a sample of container resource usage statistics', flags: [
    { long: 'no-stream', type: 'bool', description: 'Disable streaming stats and only pull the first result' },
    { ...F.all, description: 'Show all containers (default shows just running)' }, F.format], run: S.stats },
  { name: 'port', usage: 'CONTAINER [PRIVATE_PORT[/PROTO]]', description: 'List port mappings or a specific mapping for the container', minArgs: 1, maxArgs: 2, flags: [], run: N.port },
  { name: 'cp', usage: '[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tdocker cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH', description: 'Copy files/folders between a container and the local filesystem', minArgs: 2, maxArgs: 2, flags: [], run: FC.cp },
  { name: 'diff', usage: 'CONTAINER', description: "Inspect changes to files or directories on a container's filesystem", minArgs: 1, maxArgs: 1, flags: [], run: FC.diff },
  { name: 'export', usage: '[OPTIONS] CONTAINER', description: "Export a container's filesystem as a tar archive", minArgs: 1, maxArgs: 1, flags: [{ long: 'output', short: 'o', type: 'string', description: 'Write to a file, instead of STDOUT' }], run: FC.exportContainer },
  { name: 'version', usage: '[OPTIONS]', description: 'Show the Docker version information', maxArgs: 0, flags: [F.format], run: version },
  { name: 'info', usage: '[OPTIONS]', description: 'Display system-wide information', maxArgs: 0, flags: [F.format], run: info },
  { name: 'container prune', usage: '[OPTIONS]', description: 'Remove all stopped containers', maxArgs: 0, flags: [F.force], run: C.containerPrune },
  { name: 'image prune', usage: '[OPTIONS]', description: 'Remove unused images', maxArgs: 0, flags: [F.force, F.all], run: I.imagePrune },
  { name: 'image inspect', usage: '[OPTIONS] IMAGE [IMAGE...]', description: 'Display detailed information on one or more images', minArgs: 1, flags: [F.format], run: I.imageInspect },
  { name: 'volume create', usage: '[OPTIONS] [VOLUME]', description: 'Create a volume', maxArgs: 1, flags: [{ long: 'label', type: 'list', description: 'Set metadata for a volume' }, { long: 'driver', short: 'd', type: 'string', description: 'Specify volume driver name', default: 'local' }], run: V.volumeCreate },
  { name: 'volume ls', usage: '[OPTIONS]', description: 'List volumes', maxArgs: 0, flags: [{ ...F.quiet, description: 'Only display volume names' }, F.format], run: V.volumeLs },
  { name: 'volume inspect', usage: '[OPTIONS] VOLUME [VOLUME...]', description: 'Display detailed information on one or more volumes', minArgs: 1, flags: [F.format], run: V.volumeInspect },
  { name: 'volume rm', usage: '[OPTIONS] VOLUME [VOLUME...]', description: 'Remove one or more volumes', minArgs: 1, flags: [F.force], run: V.volumeRm },
  { name: 'volume prune', usage: '[OPTIONS]', description: 'Remove unused local volumes', maxArgs: 0, flags: [F.force, { ...F.all, description: 'Remove all unused volumes, not just anonymous ones' }], run: V.volumePrune },
  { name: 'network create', usage: '[OPTIONS] NETWORK', description: 'Create a network', minArgs: 1, maxArgs: 1, flags: [
    { long: 'driver', short: 'd', type: 'string', description: 'Driver to manage the Network', default: 'bridge' },
    { long: 'subnet', type: 'string', description: 'Subnet in CIDR format that represents a network segment' },
    { long: 'gateway', type: 'string', description: 'IPv4 Gateway for the master subnet' },
    { long: 'label', type: 'list', description: 'Set metadata on a network' }], run: N.networkCreate },
  { name: 'network ls', usage: '[OPTIONS]', description: 'List networks', maxArgs: 0, flags: [{ ...F.quiet, description: 'Only display network IDs' }, F.format,
    { long: 'filter', short: 'f', type: 'list', description: 'Provide filter values (e.g. "driver=bridge")' },
    { long: 'no-trunc', type: 'bool', description: "Don't truncate the output" }], run: N.networkLs },
  { name: 'network inspect', usage: '[OPTIONS] NETWORK [NETWORK...]', description: 'Display detailed information on one or more networks', minArgs: 1, flags: [F.format], run: N.networkInspect },
  { name: 'network rm', usage: 'NETWORK [NETWORK...]', description: 'Remove one or more networks', minArgs: 1, flags: [], run: N.networkRm },
  { name: 'network prune', usage: '[OPTIONS]', description: 'Remove all unused networks', maxArgs: 0, flags: [F.force], run: N.networkPrune },
  { name: 'network connect', usage: '[OPTIONS] NETWORK CONTAINER', description: 'Connect a container to a network', minArgs: 2, maxArgs: 2, flags: [
    { long: 'alias', type: 'list', description: 'Add network-scoped alias for the container' }], run: N.networkConnect },
  { name: 'network disconnect', usage: '[OPTIONS] NETWORK CONTAINER', description: 'Disconnect a container from a network', minArgs: 2, maxArgs: 2, flags: [F.force], run: N.networkDisconnect },
  { name: 'system prune', usage: '[OPTIONS]', description: 'Remove unused data', maxArgs: 0, flags: [F.force, F.all, { long: 'volumes', type: 'bool', description: 'Prune anonymous volumes' }], run: systemPrune },
  { name: 'system df', usage: '[OPTIONS]', description: 'Show docker disk usage', maxArgs: 0, flags: [F.format], run: systemDf },
  { name: 'build', usage: '[OPTIONS] PATH | -', description: 'Build an image from a Dockerfile', minArgs: 1, maxArgs: 1, flags: [
    { long: 'tag', short: 't', type: 'list', description: 'Name and optionally a tag (format: "name:tag")' },
    { long: 'file', short: 'f', type: 'string', description: 'Name of the Dockerfile (default: "PATH/Dockerfile")' },
    { long: 'build-arg', type: 'list', description: 'Set build-time variables' },
    { long: 'label', type: 'list', description: 'Set metadata for an image' },
    { long: 'target', type: 'string', description: 'Set the target build stage to build' },
    { long: 'no-cache', type: 'bool', description: 'Do not use cache when building the image' },
    { long: 'pull', type: 'bool', description: 'Always attempt to pull all referenced images' },
    { long: 'quiet', short: 'q', type: 'bool', description: 'Suppress the build output and print image ID on success' },
    { long: 'iidfile', type: 'string', description: 'Write the image ID to a file' },
    { long: 'progress', type: 'string', description: 'Set type of progress output ("auto", "plain", "tty", "quiet")', default: 'auto' },
    { long: 'network', type: 'string', description: 'Set the networking mode for the RUN instructions during build', default: 'default' },
    { long: 'platform', type: 'string', description: 'Set target platform for build (only linux/386)' },
    { long: 'rm', type: 'bool', description: 'Remove intermediate containers after a successful build (always)' },
    { long: 'force-rm', type: 'bool', description: 'Always remove intermediate containers (always)' }], run: B.build },
  { name: 'commit', usage: '[OPTIONS] CONTAINER [REPOSITORY[:TAG]]', description: "Create a new image from a container's changes", minArgs: 1, maxArgs: 2, flags: [
    { long: 'author', short: 'a', type: 'string', description: 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")' },
    { long: 'change', short: 'c', type: 'list', description: 'Apply Dockerfile instruction to the created image' },
    { long: 'message', short: 'm', type: 'string', description: 'Commit message' },
    { long: 'pause', short: 'p', type: 'bool', description: 'Pause container during commit (berth reads the changes without pausing)' }], run: B.commit },
  { name: 'builder prune', usage: '[OPTIONS]', description: 'Remove build cache', maxArgs: 0, flags: [F.force, F.all,
    { long: 'filter', type: 'list', description: 'Provide filter values (e.g. "until=24h")' }], run: B.builderPrune },
];

/** Management command aliases: `docker container ls` = `docker ps`, ... */
const ALIASES: Record<string, string> = {
  'container run': 'run', 'container create': 'create', 'container start': 'start', 'container stop': 'stop',
  'container restart': 'restart', 'container kill': 'kill', 'container rm': 'rm', 'container ls': 'ps', 'container ps': 'ps',
  'container list': 'ps', 'container logs': 'logs', 'container exec': 'exec', 'container attach': 'attach', 'container wait': 'wait',
  'container top': 'top', 'container cp': 'cp', 'container diff': 'diff', 'container export': 'export', 'container stats': 'stats', 'container port': 'port', 'container inspect': 'inspect', 'container rename': 'rename',
  'image pull': 'pull', 'image push': 'push', 'image save': 'save', 'image load': 'load', 'image ls': 'images', 'image list': 'images', 'image rm': 'rmi', 'image tag': 'tag', 'image history': 'history',
  'container commit': 'commit', 'image build': 'build', 'buildx build': 'build', 'builder build': 'build',
  'volume list': 'volume ls', 'volume remove': 'volume rm', 'network list': 'network ls', 'network remove': 'network rm', 'system info': 'info', 'image remove': 'rmi', 'container remove': 'rm',
};
const GROUPS = ['container', 'image', 'volume', 'network', 'system', 'builder', 'buildx'];

export const ENGINE_VERSION = '0.1.0';
/** The Docker API version whose behaviour the commands follow. */
export const API_VERSION = '1.43';

function findCommand(argv: string[]): { cmd: Command; rest: string[] } | { group: string } | undefined {
  const [a, b] = argv;
  if (a && GROUPS.includes(a)) {
    if (!b || b.startsWith('-')) return { group: a };
    const key = ALIASES[`${a} ${b}`] ?? `${a} ${b}`;
    const cmd = COMMANDS.find((c) => c.name === key);
    return cmd ? { cmd, rest: argv.slice(2) } : undefined;
  }
  const cmd = COMMANDS.find((c) => c.name === a);
  return cmd ? { cmd, rest: argv.slice(1) } : undefined;
}

function overview(): string {
  const top = COMMANDS.filter((c) => !c.name.includes(' '));
  const w = Math.max(...top.map((c) => c.name.length));
  return (
    '\nUsage:  docker [OPTIONS] COMMAND\n\nA self-sufficient runtime for containers — Berth runs them in a v86 guest in this tab.\n\nCommands:\n' +
    top.map((c) => `  ${c.name.padEnd(w)}  ${c.description}`).join('\n') +
    '\n\nManagement Commands:\n  container  Manage containers\n  image      Manage images\n  volume     Manage volumes\n  network    Manage networks\n  system     Manage Docker\n\nRun \'docker COMMAND --help\' for more information on a command.\n'
  );
}

const TOP_LEVEL_HELP = ['--help', '-h', 'help', '--version', '-v'];

/**
 * Whether a command line asks only for help (or the version), which needs no
 * engine. Decided by the command's own parser: after the image (`run`,
 * `create`) or the container (`exec`) arguments are the container's, so
 * `run busybox ls --help` runs `ls --help`. A line that does not parse is no
 * help request (the engine side reports its error).
 */
export function isHelpRequest(argv: string[]): boolean {
  const args = argv[0] === 'docker' ? argv.slice(1) : argv;
  if (args.length === 0 || TOP_LEVEL_HELP.includes(args[0]!)) return true;
  const found = findCommand(args);
  if (!found) return false;
  if ('group' in found) return true; // `docker image` lists its subcommands
  try {
    return parseCommand(found.cmd, found.rest).help;
  } catch {
    return false;
  }
}

/** Runs one docker command line (`files`: how to reach the client's files, if it shares them); resolves with the exit code. Never throws. */
export async function runDockerCommand(engine: Engine, argv: string[], io: CommandIO, files?: ClientFiles): Promise<number> {
  const args = argv[0] === 'docker' ? argv.slice(1) : argv;
  if (args.length === 0 || args[0] === '--help' || args[0] === '-h' || args[0] === 'help') {
    io.stdout(overview());
    return 0;
  }
  if (args[0] === '--version' || args[0] === '-v') {
    io.stdout(`Docker version ${ENGINE_VERSION}-berth, build berth\n`);
    return 0;
  }
  const found = findCommand(args);
  if (!found) {
    io.stderr(`docker: '${args[0]}${GROUPS.includes(args[0]!) ? ` ${args[1]}` : ''}' is not a docker command.\nSee 'docker --help'\n`);
    return 125;
  }
  if ('group' in found) {
    // Each subcommand with its description, as Docker lists them (aliases described by what they stand for).
    const described = new Map<string, string>();
    for (const c of COMMANDS) if (c.name.startsWith(`${found.group} `)) described.set(c.name.split(' ')[1]!, c.description);
    for (const [alias, target] of Object.entries(ALIASES)) {
      if (alias.startsWith(`${found.group} `)) described.set(alias.split(' ')[1]!, COMMANDS.find((c) => c.name === target)?.description ?? '');
    }
    const names = [...described.keys()].sort();
    const width = Math.max(...names.map((n) => n.length));
    io.stdout(`\nUsage:  docker ${found.group} COMMAND\n\nCommands:\n${names.map((n) => `  ${n.padEnd(width)}  ${described.get(n)}`).join('\n')}\n`);
    return 0;
  }
  const { cmd, rest } = found;
  try {
    const parsed = parseCommand(cmd, rest);
    if (parsed.help) {
      io.stdout(helpText(cmd));
      return 0;
    }
    return await cmd.run(new CommandContext(engine, io, cmd.name, parsed, files));
  } catch (e) {
    return reportError(io, cmd.name, e);
  }
}

function reportError(io: CommandIO, command: string, e: unknown): number {
  if (e instanceof UsageError) {
    io.stderr(`docker: ${e.message}\n\nSee 'docker ${command} --help'.\n`);
    return 125;
  }
  if (e instanceof CommandNotRunnableError) {
    io.stderr(`docker: Error response from daemon: ${e.message}\n`);
    return e.exitCode;
  }
  if (e instanceof BerthError) {
    if (e.message.startsWith('Unable to find image')) io.stderr(`${e.message}\n`);
    else io.stderr(`${command === 'run' || command === 'create' ? 'docker: ' : ''}Error response from daemon: ${e.message}\n`);
    return command === 'run' || command === 'create' || command === 'start' || command === 'exec' ? 125 : 1;
  }
  io.stderr(`docker: ${(e as Error)?.message ?? String(e)}\n`);
  return 125;
}

async function version(ctx: CommandContext): Promise<number> {
  const hello = ctx.engine.vm.agent;
  const os = 'linux';
  ctx.io.stdout(
    `Client:\n Version:           ${ENGINE_VERSION}-berth\n API version:       ${API_VERSION}\n OS/Arch:           ${os}/386\n\n` +
      `Server: Berth Engine\n Engine:\n  Version:          ${ENGINE_VERSION}\n  API version:      ${API_VERSION}\n  OS/Arch:          ${os}/386\n  Agent:            ${hello.agentVersion ?? 'unknown'}\n` +
      ` runc:\n  Version:          crun (${ctx.engine.vm.manifest.packages['crun'] ?? 'unknown'})\n Guest:\n  Id:               ${ctx.engine.vm.manifest.id}\n`,
  );
  return 0;
}

async function info(ctx: CommandContext): Promise<number> {
  const list = ctx.engine.list();
  const images = await ctx.engine.images.list();
  ctx.io.stdout(
    `Client:\n Context:    default\n\nServer:\n Containers: ${list.length}\n  Running: ${list.filter((c) => c.state === 'running').length}\n  Paused: 0\n  Stopped: ${list.filter((c) => c.state !== 'running').length}\n` +
      ` Images: ${images.length}\n Server Version: ${ENGINE_VERSION}-berth\n Storage Driver: overlay2 (9p lower layers, tmpfs upper)\n Cgroup Driver: cgroupfs\n Cgroup Version: 2\n` +
      ` Runtimes: crun\n Default Runtime: crun\n Kernel Version: ${ctx.engine.vm.manifest.packages['linux-source-6.1'] ?? '6.1'}\n Operating System: Berth guest (v86)\n OSType: linux\n Architecture: i686\n CPUs: 1\n Name: berth\n`,
  );
  return 0;
}

async function systemPrune(ctx: CommandContext): Promise<number> {
  await C.containerPrune(ctx);
  await I.imagePrune(ctx);
  // Docker's system prune takes the build cache too.
  const { entries, reclaimed } = await new BuildCache(ctx.engine.images.meta, ctx.engine.images).prune();
  if (entries) ctx.io.stdout(`Deleted build cache objects: ${entries}\nTotal reclaimed space: ${humanSize(reclaimed)}\n`);
  return 0;
}

async function systemDf(ctx: CommandContext): Promise<number> {
  const images = await ctx.engine.images.list();
  const used = new Set(ctx.engine.list().map((c) => c.imageId));
  const size = images.reduce((n, i) => n + i.size, 0);
  const reclaim = images.filter((i) => !used.has(i.id)).reduce((n, i) => n + i.size, 0);
  const list = ctx.engine.list();
  const cache = await new BuildCache(ctx.engine.images.meta, ctx.engine.images).size();
  ctx.io.stdout(
    table(['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE'], [
      ['Images', String(images.length), String(used.size), humanSize(size), humanSize(reclaim)],
      ['Containers', String(list.length), String(list.filter((c) => c.state === 'running').length), '0B', '0B'],
      ['Local Volumes', String(ctx.engine.volumes.list().length), '0', '0B', '0B'],
      ['Build Cache', String(cache.entries), '0', humanSize(cache.bytes), humanSize(cache.bytes)],
    ]),
  );
  return 0;
}

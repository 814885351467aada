import type { ClientSession } from '../../vm/client-session.js';
import type { Engine } from '../engine.js';
import { runDockerCommand } from './docker-cli.js';
import { ClientIO, type ClientFiles } from './io.js';

/** Runs one client session's docker command and answers with its exit code. */
export async function serveClientSession(engine: Engine, session: ClientSession, files?: ClientFiles): Promise<number> {
  const io = new ClientIO(session, session.cwd, session.env, session.terminal, session.stdoutIsTerminal);
  session.handlers = {
    stdin: (d) => io.pushStdin(d),
    stdinEnd: () => io.pushStdinEnd(),
    resize: (r, c) => io.pushResize(r, c),
    signal: (s) => io.pushSignal(s),
  };
  const code = await runDockerCommand(engine, session.argv, io, files);
  session.exit(code);
  return code;
}

/** Files of a client in the guest: read and written by `cat` and `tar` in the guest, at the client's cwd. */
export function guestFiles(engine: Engine): ClientFiles {
  const agent = engine.vm.agent;
  const tool = (script: string, args: string[], stdin?: Uint8Array) =>
    agent.runChecked(['/bin/sh', '-c', script, 'sh', ...args], stdin ? { stdin } : {});
  return {
    read: (path, cwd) =>
      tool('cd "$1" && cat -- "$2"', [cwd, path]).catch((e: Error) => {
        throw new Error(`open ${path}: ${e.message.replace(/^cat: /, '')}`);
      }),
    write: async (path, data, cwd) => void (await tool('cd "$1" && cat > "$2"', [cwd, path], data)),
    extractTar: async (dest, tar, name, cwd) =>
      void (await tool(
        `set -e; cd "$1"; t="$2"; b="$3"
if [ -d "$t" ]; then tar -xf - -C "$t"
else d=$(dirname "$t"); tmp="$d/.berth-cp.$$"; mkdir "$tmp"; tar -xf - -C "$tmp"; mv "$tmp/$b" "$t"; rmdir "$tmp"; fi`,
        [cwd, dest, name],
        tar,
      )),
    packTar: (src, cwd) => tool('cd "$1" && cd "$(dirname "$2")" && tar -cf - "$(basename "$2")"', [cwd, src]),
  };
}

/** Serves the `docker` command typed in the guest's terminals. */
export function serveGuestDockerClients(engine: Engine): void {
  const files = guestFiles(engine);
  engine.vm.agent.onClientSession = (session) => void serveClientSession(engine, session, files);
}

import type { ClientSession } from '../../vm/client-session.js';
import type { Engine } from '../engine.js';
import { dirAndBase, GuestFiles } from '../guest-files.js';
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

/** Files of a client in the guest (the `docker` of its terminals, the page's commands): the guest's own, at the client's cwd. */
export function guestClientFiles(engine: Engine): ClientFiles {
  const guest = new GuestFiles(engine);
  return {
    read: (path, cwd) =>
      guest.read(path, cwd).catch((e: Error) => {
        throw new Error(`open ${path}: ${e.message.replace(/^cat: /, '')}`);
      }),
    write: (path, data, cwd) => guest.write(path, data, { cwd }),
    extractTar: (dest, tar, name, cwd) => guest.place(dest, tar, name, { cwd }),
    packTar: (src, cwd) => {
      const { dir, base } = dirAndBase(src);
      return guest.pack(dir, base, cwd);
    },
  };
}

/** Serves the `docker` command typed in the guest's terminals. */
export function serveGuestDockerClients(engine: Engine): void {
  const files = guestClientFiles(engine);
  engine.vm.agent.onClientSession = (session) => void serveClientSession(engine, session, files);
}

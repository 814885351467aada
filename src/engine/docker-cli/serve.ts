import type { ClientSession } from '../../vm/client-session.js';
import type { Engine } from '../engine.js';
import { runDockerCommand } from './docker-cli.js';
import { concat } from '../../vm/agent-client.js';
import { ClientIO, type ClientFiles } from './io.js';

/** Runs one client session's docker command and answers with its exit code. */
export async function serveClientSession(engine: Engine, session: ClientSession, files?: ClientFiles): Promise<number> {
  const io = new ClientIO(session, session.cwd, session.env, session.terminal, session.stdoutIsTerminal, files);
  session.handlers = {
    stdin: (d) => io.pushStdin(d),
    stdinEnd: () => io.pushStdinEnd(),
    resize: (r, c) => io.pushResize(r, c),
    signal: (s) => io.pushSignal(s),
  };
  const code = await runDockerCommand(engine, session.argv, io);
  session.exit(code);
  return code;
}

/** Files of a client in the guest: read and written by `cat` in the guest, at the client's cwd. */
export function guestFiles(engine: Engine): ClientFiles {
  const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
  return {
    async read(path, cwd) {
      const parts: Uint8Array[] = [];
      let err = '';
      const proc = await engine.vm.agent.exec({
        argv: ['/bin/sh', '-c', 'cd "$1" && cat -- "$2"', 'sh', cwd, path],
        env,
        onStdout: (d) => parts.push(d),
        onStderr: (d) => (err += new TextDecoder().decode(d)),
      });
      if ((await proc.exit).code !== 0) throw new Error(`open ${path}: ${err.trim().replace(/^cat: /, '') || 'cannot read'}`);
      return concat(parts);
    },
    async write(path, data, cwd) {
      await guestRun(engine, ['/bin/sh', '-c', 'cd "$1" && cat > "$2"', 'sh', cwd, path], data);
    },
    async extractTar(dest, tar, name, cwd) {
      const script = `set -e; cd "$1"; t="$2"; b="$3"
if [ -d "$t" ]; then tar -xf - -C "$t"
else d=$(dirname "$t"); tmp="$d/.berth-cp.$$"; mkdir "$tmp"; tar -xf - -C "$tmp"; mv "$tmp/$b" "$t"; rmdir "$tmp"; fi`;
      await guestRun(engine, ['/bin/sh', '-c', script, 'sh', cwd, dest, name], tar);
    },
    async packTar(src, cwd) {
      const parts: Uint8Array[] = [];
      let err = '';
      const proc = await engine.vm.agent.exec({
        argv: ['/bin/sh', '-c', 'cd "$1" && cd "$(dirname "$2")" && tar -cf - "$(basename "$2")"', 'sh', cwd, src],
        env,
        onStdout: (d) => parts.push(d),
        onStderr: (d) => (err += new TextDecoder().decode(d)),
      });
      if ((await proc.exit).code !== 0) throw new Error(`${src}: ${err.trim() || 'cannot read'}`);
      return concat(parts);
    },
  };
}

async function guestRun(engine: Engine, argv: string[], stdin: Uint8Array): Promise<void> {
  let err = '';
  const proc = await engine.vm.agent.exec({ argv, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }, stdin: true, onStderr: (d) => (err += new TextDecoder().decode(d)) });
  await proc.write(stdin);
  proc.closeStdin();
  if ((await proc.exit).code !== 0) throw new Error(err.trim() || `${argv[0]} failed`);
}

/** Serves the `docker` command typed in the guest's terminals. */
export function serveGuestDockerClients(engine: Engine): void {
  const files = guestFiles(engine);
  engine.vm.agent.onClientSession = (session) => void serveClientSession(engine, session, files);
}

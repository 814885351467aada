/**
 * A docker command line fit for a log: the password given to `login` on the
 * command line (`-p X`, `-pX`, `-p=X`, `--password X`, `--password=X`) is
 * replaced by `***`. `--password` is no other command's flag, so it is hidden
 * wherever it appears; `-p` is only login's password (elsewhere it publishes
 * a port, which the log keeps).
 */
export const REDACTED = '***';

export function redactArgv(argv: readonly string[]): string[] {
  const skip = argv[0] === 'docker' ? 1 : 0;
  const isLogin = argv[skip] === 'login';
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (a === '--password' || (isLogin && a === '-p')) {
      out.push(a);
      if (i + 1 < argv.length) out.push(REDACTED);
      i++;
    } else if (a.startsWith('--password=')) {
      out.push(`--password=${REDACTED}`);
    } else if (isLogin && a.startsWith('-p') && a.length > 2) {
      out.push(`-p${REDACTED}`);
    } else {
      out.push(a);
    }
  }
  return out;
}

/** The command line as one log line. */
export const redactedCommandLine = (argv: readonly string[]): string => redactArgv(argv).join(' ');

import { describe, expect, it } from 'vitest';
import { redactArgv, redactedCommandLine } from '../../src/node/redact.js';

describe('redactArgv', () => {
  it('hides login passwords in every form pflag takes', () => {
    expect(redactArgv(['login', '-u', 'me', '-p', 'secret', 'reg.example'])).toEqual(['login', '-u', 'me', '-p', '***', 'reg.example']);
    expect(redactArgv(['login', '-u', 'me', '-psecret'])).toEqual(['login', '-u', 'me', '-p***']);
    expect(redactArgv(['login', '-p=secret'])).toEqual(['login', '-p***']);
    expect(redactArgv(['login', '--password', 'secret', '-u', 'me'])).toEqual(['login', '--password', '***', '-u', 'me']);
    expect(redactArgv(['login', '--password=secret'])).toEqual(['login', '--password=***']);
    expect(redactArgv(['docker', 'login', '-p', 'secret'])).toEqual(['docker', 'login', '-p', '***']);
    expect(redactedCommandLine(['login', 'host', '-u', 'me', '-p', 'secret'])).not.toMatch(/secret/);
  });

  it('keeps --password-stdin, the user name and the server', () => {
    expect(redactArgv(['login', '-u', 'me', '--password-stdin', 'reg.example'])).toEqual(['login', '-u', 'me', '--password-stdin', 'reg.example']);
  });

  it('keeps -p of other commands (published ports) but hides --password anywhere', () => {
    expect(redactArgv(['run', '-p', '8080:80', '-p8081:81', 'busybox'])).toEqual(['run', '-p', '8080:80', '-p8081:81', 'busybox']);
    expect(redactArgv(['run', 'img', '--password=x'])).toEqual(['run', 'img', '--password=***']);
  });

  it('leaves what follows -- alone, and a trailing -p with nothing after it', () => {
    expect(redactArgv(['login', '-p'])).toEqual(['login', '-p']);
    expect(redactArgv(['login', '--', '-p', 'x'])).toEqual(['login', '--', '-p', 'x']);
  });
});

import { describe, expect, it, vi } from 'vitest';

// The terminal itself needs a DOM; these tests are about the session logic around it.
vi.mock('@xterm/xterm', () => ({
  Terminal: class {
    rows = 24;
    cols = 80;
    loadAddon() {}
    open() {}
    write() {}
    onSelectionChange() {}
    onData() {}
    onResize() {}
    dispose() {}
  },
}));
vi.mock('@xterm/addon-fit', () => ({ FitAddon: class { fit() {} } }));
vi.mock('@xterm/addon-web-links', () => ({ WebLinksAddon: class {} }));
vi.mock('@xterm/xterm/css/xterm.css', () => ({}));

const { ShellTerminal } = await import('../../src/ui/shell-terminal.js');
type EngineClient = ConstructorParameters<typeof ShellTerminal>[0];
type Handlers = { onData(d: Uint8Array): void; onExit(code: number): void };

/** A guest shell: echoes a prompt, and `exit` ends it. */
function fakeEngine() {
  let handlers!: Handlers;
  const enc = new TextEncoder();
  const typed: string[] = [];
  const engine = {
    openShell: async (_rows: number, _cols: number, h: Handlers, command?: string) => {
      handlers = h;
      // A one-command session ends with its command; a login shell shows its prompt.
      setTimeout(() => (command ? h.onExit(3) : h.onData(enc.encode('berth:~# '))), 1);
      return 1;
    },
    write: async (_s: number, data: Uint8Array) => {
      const line = new TextDecoder().decode(data).trim();
      typed.push(line);
      // The shell's process ends: the agent reports the exit, no prompt follows.
      if (line === 'exit') setTimeout(() => handlers.onExit(0), 1);
      else setTimeout(() => handlers.onData(enc.encode(`${line}\r\nberth:~# `)), 1);
    },
    resize: () => {},
    closeShell: () => {},
  } as unknown as EngineClient;
  return { engine, typed };
}

const element = { offsetParent: null } as unknown as HTMLElement;
const within = <T>(p: Promise<T>, ms = 500) =>
  Promise.race([p.then(() => 'resolved', (e: Error) => `rejected: ${e.message}`), new Promise((r) => setTimeout(() => r('pending'), ms))]);

describe('ShellTerminal when the shell exits', () => {
  it('a command that ends the shell (exit) completes instead of waiting for a prompt forever', async () => {
    const { engine, typed } = fakeEngine();
    const shell = new ShellTerminal(engine, element);
    await shell.runCommand('echo hi');
    expect(await within(shell.runCommand('exit'))).toBe('resolved');
    expect(shell.exited).toBe(0);
    // The next command of a scenario says why it cannot run.
    expect(await within(shell.runCommand('echo again'))).toBe('rejected: the shell exited with code 0');
    expect(typed).toEqual(['echo hi', 'exit']);
  });

  it('someone waiting for a prompt hears that the session ended without one', async () => {
    const { engine } = fakeEngine();
    const shell = new ShellTerminal(engine, element, { command: 'docker logs -f x' });
    expect(await within(shell.waitForPrompt())).toBe('rejected: the shell exited with code 3');
  });
});

import { $, errorMessage, h, humanSize } from './dom.js';
import type { EngineClient } from './engine-client.js';
import type { Panels } from './panels.js';
import { decodeScenario, LIMITS, scenarioFromHash, scenarioLink, type Scenario, type ScenarioFile } from './scenario.js';
import type { TerminalTabs } from './terminal-tabs.js';
import { toast } from './toast.js';

/**
 * The Share dialog (edit a scenario prefilled from the page, get a link) and
 * the consent dialog a link opens (what it will pull, write and type; nothing
 * happens before Run). Link text only ever reaches the page as textContent.
 */

/** Images that come with the guest, which a link need not pull. */
const BUILT_IN = new Set(['busybox:latest']);

export class Sharing {
  constructor(
    private readonly engine: EngineClient,
    private readonly tabs: TerminalTabs,
    private readonly panels: Panels,
    private readonly booted: Promise<void>,
    private readonly showNotice: (text: string) => void,
  ) {
    $('#share-button').addEventListener('click', () => this.openShareDialog());
    $('#share-close').addEventListener('click', () => $<HTMLDialogElement>('#share-dialog').close());
    $('#share-add-file').addEventListener('click', () => this.addFileRow({ path: '/root/', content: '' }, true));
    $('#share-copy').addEventListener('click', () => {
      const link = $<HTMLInputElement>('#share-link');
      link.select();
      void navigator.clipboard?.writeText(link.value).then(
        () => toast('Link copied'),
        () => toast('Select the link and copy it (the clipboard is not available here)', 'error'),
      );
    });
    $('#share-form').addEventListener('input', () => this.updateLink());
    $('#share-form').addEventListener('submit', (e) => e.preventDefault());
    window.addEventListener('hashchange', () => this.fromLocation());
  }

  // ---------------------------------------------------------------- share dialog

  openShareDialog(): void {
    // Tagged images by tag; images pulled by digest by their digest (what a classroom pins).
    const images = this.panels.images.flatMap((i) => (i.tags.length ? i.tags : i.digests.slice(0, 1))).filter((t) => !BUILT_IN.has(t));
    $<HTMLTextAreaElement>('#share-images').value = images.slice(0, LIMITS.images).join('\n');
    const history = this.tabs.first?.shell.history ?? [];
    $<HTMLTextAreaElement>('#share-commands').value = history.slice(-10).join('\n');
    const shells = this.tabs.tabs.filter((t) => t.button.dataset['kind'] === 'shell').length;
    $<HTMLInputElement>('#share-tabs').value = String(Math.min(Math.max(shells, 1), LIMITS.tabs));
    $('#share-files').replaceChildren();
    $<HTMLDialogElement>('#share-dialog').showModal();
    this.updateLink();
  }

  private addFileRow(f: ScenarioFile, focus = false): void {
    const path = h('input', { class: 'file-path', type: 'text', value: f.path, placeholder: '/root/hello.txt', attrs: { 'aria-label': 'File path in the guest', spellcheck: 'false' } });
    const content = h('textarea', { class: 'file-content', placeholder: 'File content', attrs: { rows: '3', 'aria-label': 'File content', spellcheck: 'false' } });
    content.value = f.content;
    const rm = h('button', { class: 'action danger', type: 'button', title: 'Leave this file out' }, 'remove');
    const row = h('div', { class: 'share-file' }, h('div', { class: 'share-file-head' }, path, rm), content);
    rm.addEventListener('click', () => {
      row.remove();
      this.updateLink();
    });
    $('#share-files').append(row);
    if (focus) path.focus();
    this.updateLink();
  }

  /** The scenario the dialog's fields describe. */
  private dialogScenario(): Scenario {
    const lines = (sel: string) =>
      $<HTMLTextAreaElement>(sel)
        .value.split('\n')
        .map((l) => l.trim())
        .filter(Boolean);
    return {
      images: lines('#share-images'),
      files: [...$('#share-files').querySelectorAll('.share-file')].map((row) => ({
        path: row.querySelector<HTMLInputElement>('.file-path')!.value.trim(),
        content: row.querySelector<HTMLTextAreaElement>('.file-content')!.value,
      })),
      commands: lines('#share-commands'),
      layout: { tabs: Number($<HTMLInputElement>('#share-tabs').value) },
    };
  }

  private updateLink(): void {
    const out = scenarioLink(location.href, this.dialogScenario());
    const link = $<HTMLInputElement>('#share-link');
    const msg = $('#share-message');
    const copy = $<HTMLButtonElement>('#share-copy');
    if (out.ok) {
      link.value = out.link;
      msg.textContent = `${out.link.length} of ${LIMITS.link} characters. Whoever opens it sees this list and must click Run.`;
      msg.classList.remove('error');
      copy.disabled = false;
    } else {
      link.value = '';
      msg.textContent = out.error;
      msg.classList.add('error');
      copy.disabled = true;
    }
  }

  // ---------------------------------------------------------------- opening a link

  /** Handles `#s=…` in the address: consent for a good link, a message for a bad one. */
  fromLocation(): void {
    const encoded = scenarioFromHash(location.hash);
    if (encoded === undefined) return;
    const decoded = decodeScenario(encoded);
    if (!decoded.ok) {
      document.body.dataset['link'] = 'invalid';
      this.showNotice(decoded.error);
      return;
    }
    document.body.dataset['link'] = 'pending';
    this.askConsent(decoded.scenario);
  }

  private askConsent(s: Scenario): void {
    const dialog = $<HTMLDialogElement>('#consent-dialog');
    const body = $('#consent-body');
    const section = (title: string, ...content: Array<Node | string>) => h('section', {}, h('h3', {}, title), ...content);
    const parts: Node[] = [];
    if (s.images.length) {
      parts.push(section(`Pull ${s.images.length} image${s.images.length === 1 ? '' : 's'} (skipped when already here)`, h('ul', { class: 'mono' }, ...s.images.map((i) => h('li', {}, i)))));
    }
    if (s.files.length) {
      parts.push(
        section(
          `Write ${s.files.length} file${s.files.length === 1 ? '' : 's'} in the guest (replacing what is there)`,
          h(
            'ul',
            { class: 'mono' },
            ...s.files.map((f) =>
              h('li', {}, h('details', {}, h('summary', {}, `${f.path} (${humanSize(new TextEncoder().encode(f.content).length)})`), h('pre', {}, f.content))),
            ),
          ),
        ),
      );
    }
    if (s.commands.length) {
      parts.push(section(`Type ${s.commands.length} command${s.commands.length === 1 ? '' : 's'} into the first terminal, one after another`, h('ol', { class: 'mono' }, ...s.commands.map((c) => h('li', {}, c)))));
    }
    if (s.layout.tabs > 1) parts.push(section('Open terminals', h('p', {}, `${s.layout.tabs} terminal tabs`)));
    if (parts.length === 0) parts.push(h('p', {}, 'This link does nothing but open the playground.'));
    body.replaceChildren(...parts);
    const run = $<HTMLButtonElement>('#consent-run');
    const cancel = $<HTMLButtonElement>('#consent-cancel');
    const done = (go: boolean) => {
      run.onclick = cancel.onclick = null;
      dialog.close();
      document.body.dataset['link'] = go ? 'running' : 'declined';
      if (go) void this.run(s);
    };
    run.onclick = () => done(true);
    cancel.onclick = () => done(false);
    dialog.oncancel = () => {
      document.body.dataset['link'] = 'declined';
    };
    dialog.showModal();
    cancel.focus();
  }

  /** Does what the scenario says: tabs, pulls (with progress in the Images panel), files, then the commands. */
  async run(s: Scenario): Promise<void> {
    try {
      await this.booted;
      while (this.tabs.tabs.filter((t) => t.button.dataset['kind'] === 'shell').length < s.layout.tabs) this.tabs.open();
      const first = this.tabs.first ?? this.tabs.open();
      this.tabs.activate(first);
      for (const ref of s.images) {
        if (await this.engine.findImage(ref)) continue;
        if (!(await this.panels.pull(ref))) throw new Error(`could not pull ${ref} (see the Images panel)`);
      }
      for (const f of s.files) await this.engine.writeFile(f.path, new TextEncoder().encode(f.content));
      if (s.files.length) toast(`Wrote ${s.files.length} file${s.files.length === 1 ? '' : 's'}: ${s.files.map((f) => f.path).join(', ')}`);
      for (const cmd of s.commands) await first.shell.runCommand(cmd);
      document.body.dataset['link'] = 'done';
    } catch (e) {
      document.body.dataset['link'] = 'failed';
      toast(`The shared scenario stopped: ${errorMessage(e)}`, 'error');
    }
  }
}

import * as Comlink from 'comlink';
import { $, errorMessage, h, humanSize, shortId, shortRef } from './dom.js';
import type { EngineClient } from './engine-client.js';
import { portUrl } from './port-bridge.js';
import type { ContainerSummary, ImageSummary, PublishedPort, PullEvent, VolumeSummary } from './playground-api.js';
import type { TerminalTabs } from './terminal-tabs.js';
import { toast } from './toast.js';

/**
 * The side panels: images (with a pull form and per-layer progress),
 * containers (stop, rm, logs, exec), published ports (preview, new tab) and
 * volumes. They poll the engine every
 * 2 s and after each action; rows are kept by key and updated in place so
 * buttons keep focus and hover between refreshes.
 */

const REFRESH_MS = 2000;

/** Keeps `ul`'s rows in the order of `items`, creating, updating and dropping rows by key. */
function syncList<T>(ul: HTMLElement, items: T[], key: (t: T) => string, create: (t: T) => HTMLElement, update: (row: HTMLElement, t: T) => void): void {
  const existing = new Map<string, HTMLElement>();
  for (const el of [...ul.children] as HTMLElement[]) if (el.dataset['key']) existing.set(el.dataset['key'], el);
  let prev: Element | null = null;
  for (const item of items) {
    const k = key(item);
    let row = existing.get(k);
    existing.delete(k);
    if (!row) {
      row = create(item);
      row.dataset['key'] = k;
    }
    update(row, item);
    const want: Element | null = prev ? prev.nextElementSibling : ul.firstElementChild;
    if (want !== row) ul.insertBefore(row, want);
    prev = row;
  }
  for (const el of existing.values()) el.remove();
  for (const el of [...ul.children]) if (!(el as HTMLElement).dataset['key']) el.remove();
}

function setText(el: Element | null, text: string): void {
  if (el && el.textContent !== text) el.textContent = text;
}

export interface PanelsOptions {
  /** Called when the selected container changes (undefined: none). */
  onSelect?: (c: ContainerSummary | undefined) => void;
  /** Show a published port in the preview pane. */
  onPreview?: (p: PublishedPort) => void;
  /** Open a published port in a new tab (the link's own navigation when absent). */
  onOpenTab?: (p: PublishedPort) => void;
}

export class Panels {
  containers: ContainerSummary[] = [];
  images: ImageSummary[] = [];
  selected: string | undefined;
  ports: PublishedPort[] = [];
  /** Host ports seen so far (undefined before the first refresh, which announces nothing). */
  private knownPorts: Set<number> | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private refreshing: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly engine: EngineClient,
    private readonly tabs: TerminalTabs,
    private readonly options: PanelsOptions = {},
  ) {
    $<HTMLFormElement>('#pull-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const input = $<HTMLInputElement>('#pull-ref');
      const ref = input.value.trim();
      if (!ref) return input.focus();
      void this.pull(ref).then((ok) => ok && (input.value = ''));
    });
  }

  start(): void {
    void this.refresh();
    this.timer ??= setInterval(() => void this.refresh(), REFRESH_MS);
  }

  /** Re-reads images, containers and volumes (coalesced: one refresh runs at a time). */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      try {
        const [images, containers, volumes, ports] = await Promise.all([
          this.engine.listImages(),
          this.engine.listContainers(),
          this.engine.listVolumes(),
          this.engine.publishedPorts(),
        ]);
        this.renderImages(images);
        this.renderContainers(containers);
        this.renderPorts(ports);
        this.renderVolumes(volumes);
      } catch (e) {
        console.warn('panel refresh failed', e);
      } finally {
        this.refreshing = undefined;
        if (this.again) {
          this.again = false;
          void this.refresh();
        }
      }
    })();
    return this.refreshing;
  }

  /** Pulls with per-layer progress in the Images panel; true when it worked (errors are shown there). */
  async pull(ref: string): Promise<boolean> {
    const job = h('div', { class: 'pull-job', dataset: { ref } });
    const state = h('span', { class: 'pull-state' }, 'resolving…');
    const close = h('button', { class: 'icon', title: 'Dismiss', hidden: true }, '×');
    close.addEventListener('click', () => job.remove());
    const layers = h('div', { class: 'pull-layers' });
    const err = h('div', { class: 'pull-error', attrs: { role: 'alert' }, hidden: true });
    job.append(h('div', { class: 'pull-title' }, h('span', { class: 'pull-ref', title: ref }, shortRef(ref)), state, close), layers, err);
    $('#pulls').prepend(job);
    const rows = new Map<string, { bar: HTMLProgressElement; text: HTMLElement }>();
    const onEvent = (e: PullEvent) => {
      if (e.type === 'resolved') {
        setText(state, `${e.layers} layer${e.layers === 1 ? '' : 's'}`);
        job.title = `${e.ref} → ${e.digest}`;
        return;
      }
      let row = rows.get(e.digest);
      if (!row) {
        row = { bar: h('progress', { attrs: { max: '1' } }), text: h('span', { class: 'layer-text' }) };
        rows.set(e.digest, row);
        layers.append(h('div', { class: 'layer' }, h('code', { title: e.digest }, shortId(e.digest)), row.bar, row.text));
      }
      row.bar.max = Math.max(e.total, 1);
      row.bar.value = e.bytes;
      setText(row.text, e.status === 'exists' ? 'already here' : e.status === 'done' ? `${humanSize(e.total)} ✓` : `${humanSize(e.bytes)} / ${humanSize(e.total)}`);
    };
    try {
      const image = await this.engine.pull(ref, Comlink.proxy(onEvent));
      setText(state, 'done');
      job.classList.add('done');
      for (const r of rows.values()) r.bar.value = r.bar.max;
      toast(`Pulled ${shortRef(image.tags[0] ?? ref)} (${humanSize(image.size)})`);
      setTimeout(() => job.remove(), 2500);
      void this.refresh();
      return true;
    } catch (e) {
      setText(state, 'failed');
      job.classList.add('failed');
      err.textContent = errorMessage(e);
      err.hidden = false;
      close.hidden = false;
      return false;
    }
  }

  private renderImages(images: ImageSummary[]): void {
    this.images = images;
    images.sort((a, b) => (a.tags[0] ?? '~').localeCompare(b.tags[0] ?? '~'));
    setText($('#images-count'), String(images.length));
    const ul = $('#image-list');
    syncList(
      ul,
      images,
      (i) => i.id,
      (i) => {
        const rm = h('button', { class: 'action danger', title: 'Remove this image (docker rmi)' }, 'rm');
        rm.addEventListener('click', () => void this.act(`rmi ${i.tags[0] ?? shortId(i.id)}`, async () => {
          const lines = await this.engine.removeImage(i.tags[0] ?? i.id);
          return lines.join('\n');
        }));
        return h('li', { class: 'row' }, h('div', { class: 'main' }, h('span', { class: 'name' }), h('span', { class: 'meta' })), h('div', { class: 'actions' }, rm));
      },
      (row, i) => {
        const name = i.tags[0] ?? (i.digests[0] ? shortRef(i.digests[0]) : `<none> ${shortId(i.id)}`);
        setText(row.querySelector('.name'), name);
        setText(row.querySelector('.meta'), `${humanSize(i.size)} · ${shortId(i.id)}${i.tags.length > 1 ? ` · +${i.tags.length - 1} tags` : ''}`);
        row.title = [...i.tags, ...i.digests, i.id].join('\n');
      },
    );
    if (images.length === 0) ul.append(h('li', { class: 'empty' }, 'No images yet.'));
  }

  private renderContainers(containers: ContainerSummary[]): void {
    this.containers = containers;
    if (this.selected && !containers.some((c) => c.id === this.selected && c.state !== 'removing')) this.select(undefined);
    setText($('#containers-count'), String(containers.filter((c) => c.state === 'running').length) + ' / ' + containers.length);
    const ul = $('#container-list');
    syncList(
      ul,
      containers,
      (c) => c.id,
      (c) => {
        const button = (label: string, title: string, cls: string, fn: () => void) => {
          const b = h('button', { class: `action ${cls}`, title, dataset: { action: label } }, label);
          b.addEventListener('click', (e) => {
            e.stopPropagation();
            fn();
          });
          return b;
        };
        const row = h(
          'li',
          { class: 'row selectable', attrs: { tabindex: '0' } },
          h('span', { class: 'dot' }),
          h('div', { class: 'main' }, h('span', { class: 'name' }), h('span', { class: 'meta' })),
          h(
            'div',
            { class: 'actions' },
            button('logs', 'Follow its output in a new tab (docker logs -f)', '', () => this.tabs.open({ title: `logs ${c.name}`, command: `docker logs -f ${c.id}` })),
            button('exec', 'A shell inside it in a new tab (docker exec -it … sh)', '', () => this.tabs.open({ title: `exec ${c.name}`, command: `docker exec -it ${c.id} sh` })),
            button('stop', 'Stop it (docker stop)', '', () => void this.act(`stop ${c.name}`, () => this.engine.stopContainer(c.id))),
            button('rm', 'Remove it (docker rm)', 'danger', () => void this.act(`rm ${c.name}`, () => this.engine.removeContainer(c.id))),
          ),
        );
        const toggle = () => this.select(this.selected === c.id ? undefined : c);
        row.addEventListener('click', toggle);
        row.addEventListener('keydown', (e) => (e.key === 'Enter' || e.key === ' ') && e.target === row && (e.preventDefault(), toggle()));
        return row;
      },
      (row, c) => {
        row.dataset['state'] = c.state;
        row.classList.toggle('selected', c.id === this.selected);
        setText(row.querySelector('.name'), c.name);
        setText(row.querySelector('.meta'), `${c.image} · ${c.status}`);
        row.title = `${c.id}\n${c.command}\nClick to copy dropped files into this container`;
        const running = c.state === 'running';
        for (const b of row.querySelectorAll<HTMLButtonElement>('button[data-action]')) {
          const a = b.dataset['action'];
          b.hidden = (a === 'exec' || a === 'stop') ? !running : a === 'rm' ? running : false;
          b.disabled = c.state === 'removing';
        }
      },
    );
    if (containers.length === 0) ul.append(h('li', { class: 'empty' }, 'No containers. Try docker run -d busybox sleep 600'));
  }

  private renderPorts(ports: PublishedPort[]): void {
    ports = [...ports].sort((a, b) => a.hostPort - b.hostPort);
    this.ports = ports;
    if (this.knownPorts) {
      for (const p of ports) if (!this.knownPorts.has(p.hostPort)) toast(`${p.containerName} publishes port ${p.hostPort} → ${p.containerPort}/tcp: Preview it in the Ports panel`);
    }
    this.knownPorts = new Set(ports.map((p) => p.hostPort));
    setText($('#ports-count'), String(ports.length));
    const ul = $('#port-list');
    syncList(
      ul,
      ports,
      (p) => String(p.hostPort),
      (p) => {
        const preview = h('button', { class: 'action', title: 'Show it in a pane under the terminals', dataset: { action: 'preview' } }, 'Preview');
        preview.addEventListener('click', () => {
          const now = this.ports.find((x) => x.hostPort === p.hostPort);
          if (now) this.options.onPreview?.(now);
        });
        const open = h('a', { class: 'action link', title: 'Open it in a new tab', dataset: { action: 'open' }, attrs: { href: portUrl(p.hostPort), target: '_blank', rel: 'noopener' } }, 'New tab');
        open.addEventListener('click', (e) => {
          const now = this.ports.find((x) => x.hostPort === p.hostPort);
          if (!now || !this.options.onOpenTab) return;
          e.preventDefault();
          this.options.onOpenTab(now);
        });
        return h('li', { class: 'row', dataset: { port: String(p.hostPort) } }, h('div', { class: 'main' }, h('span', { class: 'name' }), h('span', { class: 'meta' })), h('div', { class: 'actions' }, preview, open));
      },
      (row, p) => {
        setText(row.querySelector('.name'), `${p.hostPort} → ${p.containerPort}/${p.protocol}`);
        setText(row.querySelector('.meta'), p.containerName);
        row.title = `localhost:${p.hostPort} → port ${p.containerPort} of container ${p.containerName} (${p.containerId.slice(0, 12)})`;
      },
    );
    if (ports.length === 0) ul.append(h('li', { class: 'empty' }, 'No published ports. Try docker run -d -p 8080:80 busybox httpd -f -p 80'));
  }

  private renderVolumes(volumes: VolumeSummary[]): void {
    setText($('#volumes-count'), String(volumes.length));
    const ul = $('#volume-list');
    syncList(
      ul,
      volumes,
      (v) => v.name,
      (v) => {
        const rm = h('button', { class: 'action danger', title: 'Remove this volume (docker volume rm)' }, 'rm');
        rm.addEventListener('click', () => void this.act(`volume rm ${v.name}`, () => this.engine.removeVolume(v.name)));
        return h('li', { class: 'row' }, h('div', { class: 'main' }, h('span', { class: 'name' }), h('span', { class: 'meta' })), h('div', { class: 'actions' }, rm));
      },
      (row, v) => {
        setText(row.querySelector('.name'), v.anonymous ? shortId(v.name) : v.name);
        setText(row.querySelector('.meta'), v.usedBy.length ? `used by ${v.usedBy.join(', ')}` : v.anonymous ? 'anonymous, unused' : 'unused');
        row.title = v.name;
      },
    );
    if (volumes.length === 0) ul.append(h('li', { class: 'empty' }, 'No volumes.'));
  }

  select(c: ContainerSummary | undefined): void {
    this.selected = c?.id;
    for (const row of $('#container-list').querySelectorAll<HTMLElement>('li[data-key]')) row.classList.toggle('selected', row.dataset['key'] === this.selected);
    this.options.onSelect?.(c);
  }

  /** Runs a panel action; errors become a toast with the engine's message; panels refresh after. */
  private async act(what: string, fn: () => Promise<unknown>): Promise<void> {
    try {
      const out = await fn();
      if (typeof out === 'string' && out) toast(out);
    } catch (e) {
      toast(`${what}: ${errorMessage(e)}`, 'error');
    } finally {
      void this.refresh();
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

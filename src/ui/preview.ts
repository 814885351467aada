import { $, errorMessage } from './dom.js';
import { pathOfPortUrl, portUrl, serviceWorkerInControl } from './port-bridge.js';
import { toast } from './toast.js';

/**
 * The preview pane under the terminals: what listens behind a published port,
 * in an iframe served through the service worker, with an address bar (the
 * path on the server), reload, open-in-a-new-tab and close. Drag its top
 * edge (or use the arrow keys on it) to resize it.
 */

const MIN_HEIGHT = 120;

/** Opens a port's page in a new tab, once the service worker can answer for it. */
export async function openPortInNewTab(hostPort: number, path = '/'): Promise<void> {
  // Opened before awaiting, while the click still counts as one: a tab opened after an await may be blocked.
  const tab = navigator.serviceWorker?.controller ? undefined : window.open('about:blank', '_blank');
  try {
    await serviceWorkerInControl();
  } catch (e) {
    tab?.close();
    toast(`Port ${hostPort}: ${errorMessage(e)}`, 'error');
    return;
  }
  const url = portUrl(hostPort, path);
  if (tab) {
    tab.opener = null;
    tab.location.href = url;
  } else window.open(url, '_blank', 'noopener');
}

export class PreviewPane {
  private readonly pane = $('#preview');
  private readonly frame = $<HTMLIFrameElement>('#preview-frame');
  private readonly address = $<HTMLInputElement>('#preview-address');
  private readonly message = $('#preview-message');
  /** The host port shown, if any. */
  port: number | undefined;

  constructor() {
    $('#preview-close').addEventListener('click', () => this.close());
    $('#preview-reload').addEventListener('click', () => this.reload());
    $('#preview-newtab').addEventListener('click', () => this.port !== undefined && void openPortInNewTab(this.port, this.currentPath()));
    $<HTMLFormElement>('#preview-form').addEventListener('submit', (e) => {
      e.preventDefault();
      if (this.port === undefined) return;
      const raw = this.address.value.trim();
      this.navigate(raw.startsWith('/') ? raw : `/${raw}`);
    });
    this.frame.addEventListener('load', () => this.showLocation());
    this.installResize();
  }

  /** Shows `path` of `hostPort`, waiting first (with a note in the pane) for the service worker to control the page. */
  async open(hostPort: number, label: string, path = '/'): Promise<void> {
    this.port = hostPort;
    this.pane.hidden = false;
    this.pane.dataset['port'] = String(hostPort);
    $('#preview-title').textContent = `localhost:${hostPort}`;
    this.pane.title = `Port ${hostPort} of ${label}`;
    this.address.value = path;
    if (!navigator.serviceWorker?.controller) this.note('Waiting for the service worker to take control of this page…');
    try {
      await serviceWorkerInControl();
    } catch (e) {
      this.note(`Cannot show port ${hostPort}: ${errorMessage(e)}`, true);
      return;
    }
    if (this.port !== hostPort) return; // another port was chosen meanwhile
    this.note('');
    this.navigate(path);
  }

  close(): void {
    this.port = undefined;
    this.pane.hidden = true;
    delete this.pane.dataset['port'];
    this.frame.src = 'about:blank';
    this.note('');
  }

  reload(): void {
    if (this.port === undefined) return;
    try {
      this.frame.contentWindow!.location.reload();
    } catch {
      this.navigate(this.currentPath());
    }
  }

  private navigate(path: string): void {
    if (this.port === undefined) return;
    this.address.value = path;
    const url = portUrl(this.port, path);
    if (this.frame.src === url) this.reload();
    else this.frame.src = url;
  }

  /** The path the frame shows now (what the address bar shows when the frame is elsewhere). */
  private currentPath(): string {
    if (this.port === undefined) return '/';
    try {
      return pathOfPortUrl(this.frame.contentWindow!.location.href, this.port) ?? this.address.value;
    } catch {
      return this.address.value;
    }
  }

  private showLocation(): void {
    if (this.port === undefined || document.activeElement === this.address) return;
    let href: string | undefined;
    try {
      href = this.frame.contentWindow?.location.href;
    } catch {
      href = undefined; // the page navigated to another site
    }
    if (!href || href === 'about:blank') return;
    this.address.value = pathOfPortUrl(href, this.port) ?? href;
  }

  private note(text: string, error = false): void {
    this.message.textContent = text;
    this.message.hidden = text === '';
    this.message.classList.toggle('error', error);
  }

  private installResize(): void {
    const handle = $('#preview-resize');
    const area = $('#term-area');
    const setHeight = (px: number) => {
      const max = Math.max(MIN_HEIGHT, area.clientHeight - MIN_HEIGHT);
      this.pane.style.height = `${Math.round(Math.min(Math.max(px, MIN_HEIGHT), max))}px`;
    };
    handle.addEventListener('pointerdown', (e) => {
      e.preventDefault();
      // Captured, so the drag keeps going over the iframe (which would take the events).
      handle.setPointerCapture(e.pointerId);
      this.pane.classList.add('resizing');
    });
    handle.addEventListener('pointermove', (e) => {
      if (handle.hasPointerCapture(e.pointerId)) setHeight(area.getBoundingClientRect().bottom - e.clientY);
    });
    const stop = (e: PointerEvent) => {
      if (handle.hasPointerCapture(e.pointerId)) handle.releasePointerCapture(e.pointerId);
      this.pane.classList.remove('resizing');
    };
    handle.addEventListener('pointerup', stop);
    handle.addEventListener('pointercancel', stop);
    handle.addEventListener('keydown', (e) => {
      const step = e.key === 'ArrowUp' ? 24 : e.key === 'ArrowDown' ? -24 : 0;
      if (!step) return;
      e.preventDefault();
      setHeight(this.pane.getBoundingClientRect().height + step);
    });
  }
}

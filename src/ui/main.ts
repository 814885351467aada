import { $, errorMessage, h } from './dom.js';
import { boot as bootEmbedded, type BerthHandle } from './embed-api.js';
import { FilesPanel } from './files.js';
import { Panels } from './panels.js';
import { followProgress } from './boot-progress.js';
import { playgroundEngine } from './playground-engine.js';
import { announceEngineHost, answerPortRequests, registerServiceWorker } from './port-bridge.js';
import { openPortInNewTab, PreviewPane } from './preview.js';
import { formatMirrors, initialMirrors, parseMirrors, saveMirrors } from './registry-settings.js';
import { initialCorsProxy, parseCorsProxy, saveCorsProxy } from './cors-proxy.js';
import { Sharing } from './share.js';
import { TerminalTabs } from './terminal-tabs.js';

declare global {
  interface Window {
    /** In `?embed` mode: the embed API's handle on this page's guest (see README, Embedding). */
    berth?: BerthHandle;
  }
}

const params = new URLSearchParams(location.search);

/** Adds a line to the notice bar under the header (textContent only). */
function showNotice(text: string): void {
  $('#notice .lines').append(h('div', { class: 'notice-line' }, text));
  $('#notice').hidden = false;
}

function playground(): void {
  const status = $('#status');
  const bar = $<HTMLProgressElement>('#progress');
  const newTab = $<HTMLButtonElement>('#new-tab');
  const { engine, booted: engineBooted, onProgress, onStopped } = playgroundEngine();
  const tabs = new TerminalTabs(engine, $('#tabs'), newTab, $('#terminals'));
  const files = new FilesPanel(engine);
  const preview = new PreviewPane();
  // The service worker may ask before the guest is up: the engine then says it is not ready.
  answerPortRequests(() => engine);
  const panels = new Panels(engine, tabs, {
    onSelect: (c) => files.setContainer(c),
    onPreview: (p) => void preview.open(p.hostPort, p.containerName),
    onOpenTab: (p) => void openPortInNewTab(p.hostPort),
  });
  newTab.addEventListener('click', () => tabs.open());
  $('#notice-close').addEventListener('click', () => {
    $('#notice').hidden = true;
    $('#notice .lines').replaceChildren();
  });

  const initial = initialMirrors(params);
  let mirrors = initial.mirrors;
  if (initial.error) showNotice(initial.error);
  const showMirrors = () => {
    const entries = Object.entries(mirrors);
    $('#mirror-hint').textContent = entries.length
      ? `Mirrors: ${entries.map(([k, v]) => `${k} → ${v}`).join(', ')}${initial.fromUrl ? ' (from the address)' : ''}`
      : 'No registry mirror: Docker Hub needs one (it sends no CORS headers). Loopback registries work directly.';
  };
  showMirrors();
  const cors = initialCorsProxy(params);
  let corsProxy = cors.value;
  if (cors.error) showNotice(cors.error);
  installSettings(
    () => ({ mirrors, corsProxy }),
    async (next) => {
      mirrors = next.mirrors;
      corsProxy = next.corsProxy;
      saveMirrors(mirrors);
      saveCorsProxy(corsProxy);
      showMirrors();
      await engine.setRegistryMirrors(mirrors);
      await engine.setCorsProxy(corsProxy);
    },
  );

  let markBooted!: () => void;
  const booted = new Promise<void>((resolve) => (markBooted = resolve));
  const sharing = new Sharing(engine, tabs, panels, booted, showNotice);
  // A link's consent dialog can be read while the guest boots; Run waits for it.
  sharing.fromLocation();

  void (async () => {
    try {
      const stopClock = followProgress(onProgress, (text, percent) => {
        status.textContent = text;
        bar.value = percent;
      });
      const { bootMs, restored, notice } = await engineBooted.finally(stopClock);
      status.textContent = `Ready in ${(bootMs / 1000).toFixed(1)} s${restored ? ' (restored from snapshot)' : ''} — try: docker run --rm busybox echo hello`;
      document.body.dataset['state'] = 'ready';
      document.body.dataset['boot'] = restored ? 'restored' : 'cold';
      // Milliseconds from navigation to ready, for benchmarks (what a visitor waits).
      document.body.dataset['readyMs'] = String(Math.round(performance.now()));
      if (notice) showNotice(notice);
      // Tests and benchmarks wait for this before a reload; a failure is worth a notice (the next visit boots cold).
      void engine.whenSnapshotSaved().then((r) => {
        document.body.dataset['snapshot'] = r.ok ? 'saved' : 'failed';
        if (!r.ok && r.message) showNotice(r.message);
      });
      newTab.disabled = false;
      if (tabs.tabs.length === 0) tabs.open();
      panels.start();
      announceEngineHost();
      markBooted();
      onStopped((message) => {
        document.body.dataset['state'] = 'stopped';
        status.textContent = 'The Linux guest stopped: reload the page to start a new one';
        newTab.disabled = true;
        showNotice(`${message} Reload the page to start a new guest (images stay; containers are gone).`);
      });
    } catch (e) {
      document.body.dataset['state'] = 'error';
      status.textContent = `Could not start: ${errorMessage(e)}`;
    }
  })();
}

interface Settings {
  mirrors: Record<string, string>;
  corsProxy: string;
}

function installSettings(current: () => Settings, apply: (s: Settings) => Promise<void>): void {
  const dialog = $<HTMLDialogElement>('#settings-dialog');
  const input = $<HTMLTextAreaElement>('#mirrors-input');
  const msg = $('#mirrors-message');
  const corsInput = $<HTMLInputElement>('#cors-input');
  const corsMsg = $('#cors-message');
  $('#settings-button').addEventListener('click', () => {
    input.value = formatMirrors(current().mirrors);
    corsInput.value = current().corsProxy;
    msg.textContent = '';
    corsMsg.textContent = '';
    dialog.showModal();
    input.focus();
  });
  $('#settings-cancel').addEventListener('click', () => dialog.close());
  $<HTMLFormElement>('#settings-form').addEventListener('submit', (e) => {
    e.preventDefault();
    let mirrors: Record<string, string>;
    let corsProxy: string;
    try {
      mirrors = parseMirrors(input.value);
    } catch (err) {
      msg.textContent = errorMessage(err);
      return;
    }
    try {
      corsProxy = parseCorsProxy(corsInput.value);
    } catch (err) {
      corsMsg.textContent = errorMessage(err);
      return;
    }
    void apply({ mirrors, corsProxy }).then(() => dialog.close());
  });
}

/** `?embed`: only a terminal, driven by the same API embedders use; `window.berth` is its handle. */
function embedded(): void {
  document.body.classList.add('embed');
  const root = $('#embed-root');
  root.hidden = false;
  const { mirrors } = initialMirrors(params);
  bootEmbedded(root, { registryMirrors: mirrors }).then(
    (handle) => {
      window.berth = handle;
      document.body.dataset['state'] = 'ready';
      document.body.dataset['boot'] = handle.info.restored ? 'restored' : 'cold';
      window.dispatchEvent(new CustomEvent('berth-ready'));
    },
    () => (document.body.dataset['state'] = 'error'),
  );
}

if (params.has('embed')) {
  // No engine for published ports here: say so at once, so the service worker asks another tab.
  answerPortRequests(() => undefined);
  embedded();
} else playground();

// The service worker serves published ports (dev server and built app) and, in the built app only, keeps the page and the guest for offline use.
registerServiceWorker({ production: import.meta.env.PROD, disabled: params.has('nosw') });

import { $, errorMessage, h } from './dom.js';
import type { EngineClient } from './engine-client.js';
import type { ContainerSummary, FileTarget, UploadEntry } from './playground-api.js';
import { toast } from './toast.js';

/**
 * Files in and out of the guest: drop files or folders on the page (or pick
 * them) to copy them into the guest (`/root` by default) or into the
 * selected container's root filesystem; download a file, or a folder as a
 * tar, from either.
 */

const MAX_ENTRIES = 5000;

export class FilesPanel {
  private target: FileTarget = { kind: 'guest' };
  private targetName = 'the guest';

  constructor(private readonly engine: EngineClient) {
    const fileInput = $<HTMLInputElement>('#file-input');
    const dirInput = $<HTMLInputElement>('#dir-input');
    $('#choose-files').addEventListener('click', () => fileInput.click());
    $('#choose-folder').addEventListener('click', () => dirInput.click());
    for (const input of [fileInput, dirInput]) {
      input.addEventListener('change', () => {
        const files = [...(input.files ?? [])];
        input.value = '';
        if (files.length) void this.upload(files.map((f) => ({ path: f.webkitRelativePath || f.name, file: f })));
      });
    }
    $<HTMLFormElement>('#download-form').addEventListener('submit', (e) => {
      e.preventDefault();
      void this.download($<HTMLInputElement>('#download-path').value.trim());
    });
    this.installDropZone();
    this.showTarget();
  }

  /** Follows the Containers panel's selection: dropped files go into that container. */
  setContainer(c: ContainerSummary | undefined): void {
    this.target = c ? { kind: 'container', id: c.id } : { kind: 'guest' };
    this.targetName = c ? `container ${c.name}` : 'the guest';
    $<HTMLInputElement>('#upload-dest').value = c ? '/' : '/root';
    $<HTMLInputElement>('#download-path').placeholder = c ? '/etc/hostname' : '/root/notes.txt';
    this.showTarget();
  }

  private showTarget(): void {
    $('#files-target').textContent = this.targetName;
    $('#drop-target').textContent = `${this.targetName} at ${$<HTMLInputElement>('#upload-dest').value || '/'}`;
  }

  /** Copies entries into the destination folder of the current target; a toast says where. */
  async upload(entries: UploadEntry[]): Promise<void> {
    const dest = $<HTMLInputElement>('#upload-dest').value.trim() || (this.target.kind === 'guest' ? '/root' : '/');
    try {
      const r = await this.engine.putFiles(this.target, dest, entries);
      const what = r.files === 1 && r.dirs === 0 ? '1 file' : `${r.files} file${r.files === 1 ? '' : 's'}${r.dirs ? ` and ${r.dirs} folder${r.dirs === 1 ? '' : 's'}` : ''}`;
      toast(`Copied ${what} to ${this.target.kind === 'guest' ? r.dest : `${r.dest} (${this.targetName})`}`);
    } catch (e) {
      toast(`Copying into ${this.targetName} failed: ${errorMessage(e)}`, 'error');
    }
  }

  async download(path: string): Promise<void> {
    if (!path) return void toast('Type the path of a file or folder to download', 'error');
    try {
      const r = await this.engine.readPath(this.target, path);
      const blob = new Blob([r.data as Uint8Array<ArrayBuffer>], { type: r.kind === 'tar' ? 'application/x-tar' : 'application/octet-stream' });
      const url = URL.createObjectURL(blob);
      const a = h('a', { attrs: { href: url, download: r.name } });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      toast(`Downloading ${r.name}${r.kind === 'tar' ? ' (the folder as a tar)' : ''}`);
    } catch (e) {
      toast(`Download failed: ${errorMessage(e)}`, 'error');
    }
  }

  private installDropZone(): void {
    const overlay = $('#drop-overlay');
    let depth = 0;
    const hasFiles = (e: DragEvent) => [...(e.dataTransfer?.types ?? [])].includes('Files');
    document.addEventListener('dragenter', (e) => {
      if (!hasFiles(e)) return;
      depth++;
      this.showTarget();
      overlay.hidden = false;
    });
    document.addEventListener('dragleave', () => {
      depth = Math.max(0, depth - 1);
      if (depth === 0) overlay.hidden = true;
    });
    document.addEventListener('dragover', (e) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
    });
    document.addEventListener('drop', (e) => {
      depth = 0;
      overlay.hidden = true;
      if (!e.dataTransfer) return;
      e.preventDefault();
      // Entries must be taken while the event runs: the DataTransfer is emptied after it.
      const items = [...e.dataTransfer.items].filter((i) => i.kind === 'file');
      const roots = items.map((i) => i.webkitGetAsEntry?.() ?? null);
      const files = [...e.dataTransfer.files];
      if (files.length === 0 && items.length === 0) return;
      void (async () => {
        let entries: UploadEntry[];
        if (roots.length > 0 && roots.every((r) => r !== null)) {
          try {
            entries = await walkEntries(roots as FileSystemEntry[]);
          } catch (err) {
            return void toast(`Could not read what was dropped: ${errorMessage(err)}`, 'error');
          }
        } else {
          entries = files.map((f) => ({ path: f.name, file: f }));
        }
        if (entries.length) await this.upload(entries);
      })();
    });
  }
}

/** Files and folders under dropped entries, with paths relative to the drop. */
async function walkEntries(roots: FileSystemEntry[]): Promise<UploadEntry[]> {
  const out: UploadEntry[] = [];
  const visit = async (entry: FileSystemEntry, prefix: string): Promise<void> => {
    if (out.length >= MAX_ENTRIES) throw new Error(`more than ${MAX_ENTRIES} files; copy a tar instead`);
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isFile) {
      const file = await new Promise<File>((res, rej) => (entry as FileSystemFileEntry).file(res, rej));
      out.push({ path, file });
    } else if (entry.isDirectory) {
      out.push({ path });
      const reader = (entry as FileSystemDirectoryEntry).createReader();
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((res, rej) => reader.readEntries(res, rej));
        if (batch.length === 0) break;
        for (const child of batch) await visit(child, path);
      }
    }
  };
  for (const r of roots) await visit(r, '');
  return out;
}

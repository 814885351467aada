/**
 * Registry mirrors for the page: Docker Hub sends no CORS headers, so a page
 * pulls through a mirror (see the README). Set with `?registry=HOST=URL`
 * (repeatable, or comma-separated, like BERTH_REGISTRY_MIRRORS) for one
 * visit, or in the settings dialog, which keeps them in localStorage.
 */

const STORAGE_KEY = 'berth.registryMirrors';

/** `docker.io=http://mirror:5000, ghcr.io=https://…` (commas or new lines) → a map; throws on a bad entry. */
export function parseMirrors(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/[,\n]/)) {
    const item = raw.trim();
    if (!item) continue;
    const eq = item.indexOf('=');
    if (eq <= 0) throw new Error(`"${item}" is not HOST=URL (e.g. docker.io=http://127.0.0.1:5000)`);
    const host = item.slice(0, eq).trim().toLowerCase();
    const url = item.slice(eq + 1).trim();
    if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?$/.test(host)) throw new Error(`"${host}" is not a registry host name`);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new Error(`"${url}" is not a URL`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`"${url}": a mirror is spoken to over http or https`);
    out[host] = parsed.href.replace(/\/$/, '');
  }
  return out;
}

export function formatMirrors(m: Record<string, string>): string {
  return Object.entries(m)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
}

export function savedMirrors(): Record<string, string> {
  try {
    return parseMirrors(localStorage.getItem(STORAGE_KEY) ?? '');
  } catch {
    return {};
  }
}

export function saveMirrors(m: Record<string, string>): void {
  try {
    if (Object.keys(m).length) localStorage.setItem(STORAGE_KEY, formatMirrors(m));
    else localStorage.removeItem(STORAGE_KEY);
  } catch {
    /* storage may be disabled (embedded, private mode): the setting lasts this visit */
  }
}

/** The mirrors for this visit: `?registry=` when given (it wins), else the saved ones. */
export function initialMirrors(params: URLSearchParams): { mirrors: Record<string, string>; fromUrl: boolean; error?: string } {
  const given = params.getAll('registry');
  if (given.length === 0) return { mirrors: savedMirrors(), fromUrl: false };
  try {
    return { mirrors: parseMirrors(given.join(',')), fromUrl: true };
  } catch (e) {
    return { mirrors: savedMirrors(), fromUrl: false, error: `Ignored ?registry=: ${(e as Error).message}` };
  }
}

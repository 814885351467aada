/**
 * The CORS proxy containers' outbound HTTP goes through in the page: a
 * browser reads answers only from servers that send CORS headers, so
 * `wget http://example.com/` in a container needs one. The target URL is
 * appended URL-encoded (`https://proxy.example/?url=` + encoded URL).
 * Set with `?cors=URL` for one visit, or in the settings dialog (kept in
 * localStorage).
 */
const STORAGE_KEY = 'berth.corsProxy';

/** '' (none) or an http(s) URL prefix; throws with a message otherwise. */
export function parseCorsProxy(text: string): string {
  const value = text.trim();
  if (!value) return '';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`"${value}" is not a URL (e.g. https://proxy.example.org/?url=)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`"${value}": a CORS proxy is spoken to over http or https`);
  return value;
}

export function saveCorsProxy(value: string): void {
  try {
    if (value) localStorage.setItem(STORAGE_KEY, value);
    else localStorage.removeItem(STORAGE_KEY);
  } catch {
    /* storage may be disabled: the setting lasts this visit */
  }
}

/** `?cors=` when given (it wins), else the saved one. */
export function initialCorsProxy(params: URLSearchParams): { value: string; error?: string } {
  const given = params.get('cors');
  let saved = '';
  try {
    saved = parseCorsProxy(localStorage.getItem(STORAGE_KEY) ?? '');
  } catch {
    /* a bad saved value is dropped */
  }
  if (given === null) return { value: saved };
  try {
    return { value: parseCorsProxy(given) };
  } catch (e) {
    return { value: saved, error: `Ignored ?cors=: ${(e as Error).message}` };
  }
}

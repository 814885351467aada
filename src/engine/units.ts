import { invalidArgument } from './errors.js';

/** Docker's memory sizes: `16m`, `1g`, `512k`, `1024` (bytes). */
export function parseBytes(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmg]?)b?$/i.exec(text.trim());
  if (!m) throw invalidArgument(`invalid size: '${text}' (use a number with an optional unit: b, k, m, g)`);
  const unit = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as '' | 'b' | 'k' | 'm' | 'g'];
  return Math.floor(Number(m[1]) * unit);
}

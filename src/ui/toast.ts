import { $, h } from './dom.js';

/** A short message in the corner; errors stay until dismissed or replaced by many others. */
export function toast(text: string, kind: 'info' | 'error' = 'info'): void {
  const box = $('#toasts');
  const close = h('button', { class: 'toast-close', title: 'Dismiss', attrs: { 'aria-label': 'Dismiss' } }, '×');
  const el = h('div', { class: `toast ${kind}`, attrs: { role: kind === 'error' ? 'alert' : 'status' } }, h('span', {}, text), close);
  close.addEventListener('click', () => el.remove());
  box.append(el);
  while (box.children.length > 4) box.firstElementChild?.remove();
  if (kind === 'info') setTimeout(() => el.remove(), 5000);
}

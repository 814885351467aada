/**
 * Element building for the page. Text always goes in as text nodes
 * (textContent), never as markup: nothing the engine, a registry or a share
 * link says can become page script.
 */
import { humanSize as dockerHumanSize } from '../engine/docker-cli/format.js';

type Child = Node | string | number | false | null | undefined;

export interface Props {
  class?: string;
  title?: string;
  type?: string;
  value?: string;
  placeholder?: string;
  disabled?: boolean;
  hidden?: boolean;
  dataset?: Record<string, string>;
  attrs?: Record<string, string>;
  onclick?: (e: MouseEvent) => void;
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props.class) el.className = props.class;
  if (props.title) el.title = props.title;
  if (props.type) el.setAttribute('type', props.type);
  if (props.value !== undefined) (el as HTMLInputElement).value = props.value;
  if (props.placeholder) el.setAttribute('placeholder', props.placeholder);
  if (props.disabled) (el as HTMLButtonElement).disabled = true;
  if (props.hidden) el.hidden = true;
  for (const [k, v] of Object.entries(props.dataset ?? {})) el.dataset[k] = v;
  for (const [k, v] of Object.entries(props.attrs ?? {})) el.setAttribute(k, v);
  const onclick = props.onclick;
  if (onclick) el.addEventListener('click', (e) => onclick(e as MouseEvent));
  append(el, ...children);
  return el;
}

export function append(el: Element, ...children: Child[]): void {
  for (const c of children) {
    if (c === false || c === null || c === undefined) continue;
    el.append(typeof c === 'number' ? String(c) : c);
  }
}

export function $<T extends HTMLElement = HTMLElement>(selector: string, root: ParentNode = document): T {
  const el = root.querySelector<T>(selector);
  if (!el) throw new Error(`the page lacks ${selector}`);
  return el;
}

/** `1.2 MB`: Docker's decimal units, with a space for reading in the page. */
export function humanSize(bytes: number): string {
  return dockerHumanSize(bytes).replace(/^([\d.]+)(\w*B)$/, '$1 $2');
}

/** `repo@sha256:0123456789ab…` for display (the full reference stays in titles). */
export const shortRef = (ref: string) => ref.replace(/@sha256:([a-f0-9]{12})[a-f0-9]{52}/g, '@sha256:$1…');

export const shortId = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);

/** The message of anything thrown (comlink rebuilds the worker's errors with their message). */
export const errorMessage = (e: unknown) => (e instanceof Error ? e.message : String(e));

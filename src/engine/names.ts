// Docker-style random names ("brave_turing") for containers created without --name.
const LEFT = ['admiring', 'brave', 'clever', 'dreamy', 'eager', 'focused', 'gallant', 'happy', 'jolly', 'keen', 'lucid', 'modest', 'nifty', 'quirky', 'serene', 'tender', 'upbeat', 'vibrant', 'wizardly', 'zealous'];
const RIGHT = ['babbage', 'curie', 'darwin', 'euler', 'fermi', 'galois', 'hopper', 'knuth', 'lamport', 'lovelace', 'noether', 'pike', 'ritchie', 'shannon', 'thompson', 'turing', 'wozniak', 'yalow', 'hamilton', 'liskov'];

export function randomName(taken: (name: string) => boolean): string {
  for (let i = 0; ; i++) {
    const pick = (a: string[]) => a[Math.floor(Math.random() * a.length)]!;
    const name = `${pick(LEFT)}_${pick(RIGHT)}${i > 10 ? i : ''}`;
    if (!taken(name)) return name;
  }
}

export function randomHexId(bytes = 32): string {
  const b = new Uint8Array(bytes);
  crypto.getRandomValues(b);
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

// CRC-32 (IEEE 802.3, as zlib's crc32). Node has zlib.crc32 only from 20.15 and
// browsers have none, so this table version serves both hosts.
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32Update(crc: number, data: Uint8Array): number {
  let c = ~crc;
  for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

export function crc32(...parts: Uint8Array[]): number {
  let c = 0;
  for (const p of parts) c = crc32Update(c, p);
  return c;
}

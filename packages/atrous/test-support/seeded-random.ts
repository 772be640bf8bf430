/** xorshift32: the same numbers in [0, 1) every run for a seed, so a failing case names a reproducible seed. */
export function xorshift32(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

/**
 * Mutant `index` of a valid model file (bit flips, truncation, inserted or deleted bytes, bytes overwritten
 * with extremes, in turn), drawn from `salt` and the index, for the loaders' fuzz tests.
 */
export function mutateBytes(bytes: Uint8Array, index: number, salt: number): { bytes: Uint8Array; how: string } {
  const r = xorshift32(salt ^ (index * 2654435761));
  const at = (n: number) => Math.floor(r() * n);
  switch (index % 5) {
    case 0: {
      const out = bytes.slice();
      const flips = 1 + at(8);
      for (let i = 0; i < flips; i++) out[at(out.length)]! ^= 1 << at(8);
      return { bytes: out, how: `${flips} bit flips` };
    }
    case 1: {
      const len = at(bytes.length);
      return { bytes: bytes.slice(0, len), how: `truncated to ${len} bytes` };
    }
    case 2: {
      const pos = at(bytes.length + 1);
      const extra = Uint8Array.from({ length: 1 + at(16) }, () => at(256));
      const out = new Uint8Array(bytes.length + extra.length);
      out.set(bytes.subarray(0, pos));
      out.set(extra, pos);
      out.set(bytes.subarray(pos), pos + extra.length);
      return { bytes: out, how: `${extra.length} bytes inserted at ${pos}` };
    }
    case 3: {
      const pos = at(bytes.length);
      const n = 1 + at(16);
      const out = new Uint8Array(bytes.length - Math.min(n, bytes.length - pos));
      out.set(bytes.subarray(0, pos));
      out.set(bytes.subarray(pos + n), pos);
      return { bytes: out, how: `${n} bytes deleted at ${pos}` };
    }
    default: {
      const out = bytes.slice();
      const pos = at(out.length);
      const n = 1 + at(4);
      for (let i = 0; i < n && pos + i < out.length; i++) out[pos + i] = [0x00, 0xff, 0x7f, 0x80][at(4)]!;
      return { bytes: out, how: `${n} bytes overwritten with extremes at ${pos}` };
    }
  }
}

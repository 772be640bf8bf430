// The ABI's numbers are defined once, in crates/atrous-wasm/src/abi_table.rs; the module hands them out
// as text. This test holds the TypeScript mirror (abi.ts) against that text in both directions, for every
// build, so a descriptor slot, enum code or status that changes on one side fails here.
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { instantiate } from './loader.js';
import { ABI_TABLES } from './abi.js';
import { BUILDS, engineSupports } from './builds.js';

/** `hardSigmoid` and `same-upper` as the Rust side writes them: `HARD_SIGMOID`, `SAME_UPPER`. */
const rustName = (table: string, key: string) => (table === 'status' ? key : key.replace(/-/g, '_').replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase());

// Node 20 keeps relaxed SIMD behind a flag; set before any module is compiled so that every build is checked.
setFlagsFromString('--experimental-wasm-relaxed-simd');

describe('ABI table', () => {
  const variants = BUILDS.flatMap((build) => (build === 'scalar' ? [[build, false] as const] : [[build, false] as const, [build, true] as const]));
  for (const [build, shared] of variants) {
    it(`${build}${shared ? ' (shared memory)' : ''}: TypeScript constants equal the module's table`, async () => {
      expect(engineSupports(build), `${build} must validate here`).toBe(true);
      const engine = await instantiate(build, shared);
      expect(engine.shared !== undefined).toBe(shared);
      const e = engine.exports;
      const needed = e.atrous_abi_table(0, 0);
      const ptr = engine.alloc(needed, 'abi table');
      expect(e.atrous_abi_table(ptr, needed)).toBe(needed);
      const text = new TextDecoder().decode(new Uint8Array(e.memory.buffer, ptr, needed));
      engine.free(ptr, needed);
      const rust = new Map<string, number>();
      for (const line of text.trim().split('\n')) {
        const [key, value] = line.split('=');
        rust.set(key!, Number(value));
      }
      const ours = new Map<string, number>();
      for (const [table, entries] of Object.entries(ABI_TABLES)) {
        for (const [key, value] of Object.entries(entries)) ours.set(`${table}.${rustName(table, key)}`, value);
      }
      expect(Object.fromEntries([...ours].sort())).toEqual(Object.fromEntries([...rust].sort()));
      expect(e.atrous_isa()).toBe(ABI_TABLES.isa![build]);
    });
  }
});

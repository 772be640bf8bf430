// The oracle as a vitest browser command: browser tests cannot load onnxruntime-node, so they send the
// case and its arrays to the Node side (vitest.config.ts registers this under `browser.commands`).
import type { BrowserCommand } from 'vitest/node';
import type { ConvCase } from './cases.js';
import { oracleConv, type OracleFeeds } from './oracle.js';

export interface ConvOracleReply {
  data: number[];
  dims: number[];
}

export const convOracle: BrowserCommand<[c: ConvCase, feeds: OracleFeeds], ConvOracleReply> = async (_context, c, feeds) => {
  const { data, dims } = await oracleConv(c, feeds);
  return { data: Array.from(data), dims };
};

declare module 'vitest/browser' {
  interface BrowserCommands {
    convOracle: (c: ConvCase, feeds: OracleFeeds) => Promise<ConvOracleReply>;
  }
}

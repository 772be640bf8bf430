// atrous in Node as a vitest browser command: a browser test sends a selfie model's input tensor here and
// gets back what the same model gives in Node (vitest.config.ts registers this under `browser.commands`),
// so the browser's outputs can be held to Node's.
import type { BrowserCommand } from 'vitest/node';
import type { InferenceSession, WasmBuild } from 'atrous';

export type SelfieKind = 'general' | 'landscape';

export interface SelfieNodeReply {
  /** The output, float32 little-endian, base64. */
  output: string;
  dims: number[];
  /** The wasm build Node ran. */
  build: WasmBuild;
}

const sessions = new Map<SelfieKind, Promise<InferenceSession>>();

export const selfieInNode: BrowserCommand<[kind: SelfieKind, input: string], SelfieNodeReply> = async (_context, kind, input) => {
  // Loaded here, not when the config loads: a checkout without the models still runs every other test.
  const { InferenceSession, Tensor, init } = await import('atrous');
  const { selfieModels } = await import('./selfie-models.js');
  const model = selfieModels[kind];
  if (!model) throw new Error(`selfieInNode: kind must be one of ${Object.keys(selfieModels).join(', ')}, got ${JSON.stringify(kind)}`);
  const engine = await init();
  let session = sessions.get(kind);
  if (!session) sessions.set(kind, (session = InferenceSession.create(model.path)));
  const s = await session;
  const bytes = Buffer.from(input, 'base64');
  const x = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const out = (await s.run({ [s.inputNames[0]!]: new Tensor('float32', x, [1, model.height, model.width, 3]) }))[s.outputNames[0]!]!;
  const data = out.data as Float32Array;
  return { output: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64'), dims: [...out.dims], build: engine.build };
};

declare module 'vitest/browser' {
  interface BrowserCommands {
    selfieInNode: (kind: SelfieKind, input: string) => Promise<SelfieNodeReply>;
  }
}

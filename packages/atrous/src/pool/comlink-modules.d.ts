// comlink 4.4.2 has no exports map and no typings for its ES module files; these deep imports are the ones
// that work unbundled in Node and in browsers (its "main" is a UMD file). The types are comlink's own.
declare module 'comlink/dist/esm/comlink.mjs' {
  export * from 'comlink';
}

declare module 'comlink/dist/esm/node-adapter.mjs' {
  import type { Endpoint } from 'comlink';
  /** Wraps a worker_threads Worker or MessagePort (`on`/`off` events) as a comlink Endpoint. */
  export default function nodeEndpoint(port: unknown): Endpoint;
}

// What the team's code needs from a thread, the same in Node and in browsers; thread-host-node.ts and
// thread-host-browser.ts implement it (chosen by the "#thread-host" import condition in package.json).

/** A thread this one started. */
export interface ThreadHandle {
  post(message: unknown): void;
  onMessage(listener: (message: any) => void): void;
  /** `listener` hears, once, that the thread ended without being asked to, with how. */
  onExit(listener: (what: string) => void): void;
  /** Ends the thread; resolves once it is gone. */
  terminate(): Promise<void>;
  /** Node: lets the process exit while this thread lives (browsers have no such notion). */
  unref(): void;
}

/** Inside a thread: how to talk to the one that started it. */
export interface ParentPort {
  post(message: unknown): void;
  onMessage(listener: (message: any) => void): void;
  /** Ends this thread. */
  close(): void;
}

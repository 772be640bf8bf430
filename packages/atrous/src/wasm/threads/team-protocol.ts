// Messages between a team's owner (team.ts), its supervisor and its helpers (team-worker.ts).

export interface SupervisorStart {
  role: 'supervisor';
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  team: number;
  /** Address of the team's `crashed` word. */
  crashedWord: number;
  /** One per helper: the top of its stack (stacks grow down). */
  stackTops: number[];
}

export interface HelperStart {
  role: 'helper';
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  team: number;
  index: number;
  stackTop: number;
}

export type SupervisorCommand =
  | { role: 'command'; type: 'kill'; index: number; afterMs: number }
  | { role: 'command'; type: 'stop' };

export type TeamEvent =
  | { type: 'serving'; index: number }
  | { type: 'ready' }
  | { type: 'crashed'; index: number; what: string }
  | { type: 'stopped' };

// The script of a team's threads, in one of two roles (see team.ts):
// - the supervisor: starts the helpers and watches them. It is a thread of its own so that a helper that
//   dies is noticed even while the engine's thread is inside a kernel: it sets the team's `crashed` bit,
//   which the kernel's caller polls, and so fails that call instead of waiting forever.
// - a helper: instantiates the kernels' module over the shared memory, moves its stack pointer onto its
//   own stack, and serves the team's jobs inside wasm (blocking on an atomic) until the team shuts down.
import { parentThread, spawnThread } from '#thread-host';
import type { ThreadHandle } from './thread-host.js';
import type { HelperStart, SupervisorStart, SupervisorCommand, TeamEvent } from './team-protocol.js';

const parent = parentThread();

parent.onMessage((message: SupervisorStart | HelperStart | SupervisorCommand) => {
  if (message.role === 'helper') serveAsHelper(message);
  else if (message.role === 'supervisor') supervise(message);
});

function serveAsHelper(start: HelperStart): void {
  const instance = new WebAssembly.Instance(start.module, { env: { memory: start.memory } });
  const exports = instance.exports as unknown as {
    __stack_pointer: WebAssembly.Global;
    atrous_team_serve(team: number, index: number): number;
  };
  // The linker starts every instance's stack pointer at the same address: this one gets its own stack.
  exports.__stack_pointer.value = start.stackTop;
  parent.post({ type: 'serving', index: start.index } satisfies TeamEvent);
  exports.atrous_team_serve(start.team, start.index);
  parent.close();
}

function supervise(start: SupervisorStart): void {
  const helpers: ThreadHandle[] = [];
  let stopping = false;
  let serving = 0;
  let alive = start.stackTops.length;
  const crashedWord = new Int32Array(start.memory.buffer, start.crashedWord, 1);
  start.stackTops.forEach((stackTop, index) => {
    const helper = spawnThread();
    helpers.push(helper);
    helper.onMessage((event: TeamEvent) => {
      if (event.type === 'serving' && ++serving === helpers.length) parent.post({ type: 'ready' } satisfies TeamEvent);
    });
    helper.onExit((what) => {
      alive -= 1;
      if (stopping) {
        if (alive === 0) parent.post({ type: 'stopped' } satisfies TeamEvent);
        return;
      }
      Atomics.or(crashedWord, 0, 1 << index);
      parent.post({ type: 'crashed', index, what } satisfies TeamEvent);
    });
    helper.post({ role: 'helper', module: start.module, memory: start.memory, team: start.team, index, stackTop } satisfies HelperStart);
  });
  parent.onMessage((command: SupervisorStart | SupervisorCommand) => {
    if (command.role !== 'command') return;
    if (command.type === 'kill') {
      // Fault tests: end one helper from outside, as a crash would, `afterMs` from now.
      setTimeout(() => void helpers[command.index]?.terminate().then(() => {
        Atomics.or(crashedWord, 0, 1 << command.index);
        parent.post({ type: 'crashed', index: command.index, what: 'terminated by a fault test' } satisfies TeamEvent);
      }), command.afterMs);
    } else if (command.type === 'stop') {
      // The owner has called atrous_team_shutdown: helpers return from serving and end themselves.
      stopping = true;
      if (alive === 0) parent.post({ type: 'stopped' } satisfies TeamEvent);
    }
  });
}

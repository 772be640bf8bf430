import type { ResolvedOptions } from './options.js';

/** One trained tensor: its values (updated in place), its gradient for this step, the optimizer's state. */
export interface Parameter {
  name: string;
  values: Float32Array;
  grad: Float32Array;
  /** SGD's momentum buffer or Adam's first moment; allocated on first use. */
  first?: Float32Array;
  /** Adam's second moment. */
  second?: Float32Array;
}

/**
 * Applies one update to every parameter from its `grad`, as PyTorch's `torch.optim.SGD` (momentum without
 * dampening: the buffer starts at the first gradient) and `torch.optim.Adam` (bias-corrected moments,
 * `weight_decay` added to the gradient) do. `step` counts from 1. The state is float32, as PyTorch's for
 * float32 parameters; each element's arithmetic is in double and rounded once per stored value.
 */
export function applyUpdate(params: readonly Parameter[], o: ResolvedOptions['optimizer'], step: number): void {
  const { learningRate: lr, weightDecay: wd } = o;
  for (const p of params) {
    const { values: w, grad: g } = p;
    const n = w.length;
    if (o.type === 'sgd') {
      if (o.momentum === 0) {
        for (let i = 0; i < n; i++) w[i] = w[i]! - lr * (g[i]! + wd * w[i]!);
        continue;
      }
      const first = p.first === undefined;
      const buf = (p.first ??= new Float32Array(n));
      for (let i = 0; i < n; i++) {
        const d = g[i]! + wd * w[i]!;
        buf[i] = first ? d : o.momentum * buf[i]! + d;
        w[i] = w[i]! - lr * buf[i]!;
      }
      continue;
    }
    const [b1, b2] = o.betas;
    const m = (p.first ??= new Float32Array(n));
    const v = (p.second ??= new Float32Array(n));
    const c1 = 1 - b1 ** step;
    const c2 = Math.sqrt(1 - b2 ** step);
    for (let i = 0; i < n; i++) {
      const d = g[i]! + wd * w[i]!;
      m[i] = b1 * m[i]! + (1 - b1) * d;
      v[i] = b2 * v[i]! + (1 - b2) * d * d;
      // PyTorch: w -= lr / c1 * m / (sqrt(v) / c2 + eps).
      w[i] = w[i]! - (lr / c1) * (m[i]! / (Math.sqrt(v[i]!) / c2 + o.epsilon));
    }
  }
}

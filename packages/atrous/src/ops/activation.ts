import { AtrousError, show } from '../errors.js';
import { ActivationCode } from '../wasm/abi.js';

/** An activation fused into the convolution: applied to `conv + bias (+ residual)` before it is stored. */
export type Activation =
  | 'none'
  | 'relu'
  | 'relu6'
  | 'hardSwish'
  | 'sigmoid'
  | 'hardSigmoid' // alpha 0.2, beta 0.5 (ONNX defaults)
  | 'leakyRelu' // alpha 0.01 (ONNX default)
  | { type: 'clip'; min: number; max: number }
  | { type: 'hardSigmoid'; alpha?: number; beta?: number }
  | { type: 'leakyRelu'; alpha?: number };

type NamedActivation = Extract<Activation, string>;

/** What the kernels receive: a code and up to two parameters. */
export interface ActivationParams {
  code: number;
  p0: number;
  p1: number;
}

function finite(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new AtrousError('INVALID_ARGUMENT', `${name} must be a finite number, got ${show(value)}`);
  }
  return value;
}

/** The activations named by a string, with their default parameters. */
const NAMED: Record<NamedActivation, ActivationParams> = {
  none: { code: ActivationCode.none, p0: 0, p1: 0 },
  relu: { code: ActivationCode.relu, p0: 0, p1: 0 },
  relu6: { code: ActivationCode.clip, p0: 0, p1: 6 },
  hardSwish: { code: ActivationCode.hardSwish, p0: 0, p1: 0 },
  sigmoid: { code: ActivationCode.sigmoid, p0: 0, p1: 0 },
  hardSigmoid: { code: ActivationCode.hardSigmoid, p0: 0.2, p1: 0.5 },
  leakyRelu: { code: ActivationCode.leakyRelu, p0: 0.01, p1: 0 },
};

export function resolveActivation(activation: Activation | undefined, name: string): ActivationParams {
  const a = activation ?? 'none';
  if (typeof a === 'string' && Object.hasOwn(NAMED, a)) return { ...NAMED[a as NamedActivation] };
  if (a !== null && typeof a === 'object') {
    switch (a.type) {
      case 'clip': {
        const min = finite(a.min, `${name}.min`);
        const max = finite(a.max, `${name}.max`);
        if (min > max) throw new AtrousError('INVALID_ARGUMENT', `${name}: min must not exceed max, got min ${min} and max ${max}`);
        return { code: ActivationCode.clip, p0: min, p1: max };
      }
      case 'hardSigmoid':
        return { code: ActivationCode.hardSigmoid, p0: finite(a.alpha ?? 0.2, `${name}.alpha`), p1: finite(a.beta ?? 0.5, `${name}.beta`) };
      case 'leakyRelu':
        return { code: ActivationCode.leakyRelu, p0: finite(a.alpha ?? 0.01, `${name}.alpha`), p1: 0 };
    }
  }
  throw new AtrousError(
    'INVALID_ARGUMENT',
    `${name} must be one of "none", "relu", "relu6", "hardSwish", "sigmoid", "hardSigmoid", "leakyRelu", ` +
      `{ type: "clip", min, max }, { type: "hardSigmoid", alpha, beta } or { type: "leakyRelu", alpha }, got ${show(a)}`,
  );
}

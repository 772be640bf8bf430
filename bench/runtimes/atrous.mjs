import { Tensor, init, loadedBuild, prepareConv2d, supportedBuilds } from 'atrous';

export const TIMING =
  'atrous: `plan.run(x)` on a plan from `prepareConv2d` (packing excluded); the call includes copying the input ' +
  'into wasm memory and the output out into a new Float32Array (the public API has no resident input)';

/**
 * Engines for the builds to measure. `init({ build })` switches the current build and a plan keeps the engine
 * it was made with, so all plans of one build are prepared right after its init.
 */
export function atrousBuilds() {
  const supported = supportedBuilds();
  const best = supported[0];
  return { best, builds: supported.includes('simd128') && best !== 'simd128' ? [best, 'simd128'] : [best] };
}

/** Prepares one plan per case on `build`; returns a map case id -> runner factory. */
export async function prepareAtrous(build, cases) {
  await init({ build });
  if (loadedBuild() !== build) throw new Error(`atrous: asked for the ${build} build, loaded ${loadedBuild()}`);
  const runners = new Map();
  for (const { k, data } of cases) {
    const plan = prepareConv2d(new Tensor('float32', data.weights, [k.m, k.c / k.groups, k.kernel[0], k.kernel[1]]), {
      bias: data.bias,
      strides: k.strides,
      dilations: k.dilations,
      pads: k.pads,
      groups: k.groups,
    });
    if (plan.build !== build) throw new Error(`atrous: a plan made after init({ build: '${build}' }) runs on ${plan.build}`);
    const x = new Tensor('float32', data.input, [1, k.c, k.hw[0], k.hw[1]]);
    let last;
    runners.set(k.id, {
      run() {
        last = plan.run(x);
      },
      output() {
        return last.data;
      },
      dispose() {
        plan.dispose();
      },
    });
  }
  return runners;
}

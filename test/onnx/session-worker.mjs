// Runs in a worker_threads Worker: an InferenceSession must load and run off the main thread.
import { parentPort, workerData } from 'node:worker_threads';
import { InferenceSession, Tensor, init } from 'atrous';

await init({ build: 'simd128' }); // the same build as the main thread, so results are bit-identical
const session = await InferenceSession.create(workerData.model);
const { y } = await session.run({ x: new Tensor('float32', workerData.x, workerData.dims) });
parentPort.postMessage({ dims: y.dims, data: y.data }, [y.data.buffer]);
session.dispose();

import type { Engine } from '../wasm/engine.js';
import { ConvKernels } from './conv-kernels.js';
import { BackwardKernels } from './backward-kernels.js';
import { TrainingKernels } from './training-kernels.js';
import { ConvTransposeKernels } from './conv-transpose-kernels.js';
import { LayoutKernels } from './layout-kernels.js';
import { GemmKernels } from './gemm-kernels.js';
import { ElementwiseKernels } from './elementwise-kernels.js';
import { FeatureMapKernels } from './feature-map-kernels.js';
import { NormalizationKernels } from './normalization-kernels.js';
import { SelectKernels } from './select-kernels.js';

/**
 * The kernels as ops see them: typed calls on buffers in one memory (addresses of float32 data), each
 * checking its status and throwing an AtrousError that names the op. This facade is the seam: every op
 * calls it, nothing else calls the wasm exports, and a second backend would implement these families.
 */
export class Kernels {
  readonly conv: ConvKernels;
  readonly backward: BackwardKernels;
  readonly training: TrainingKernels;
  readonly maps: FeatureMapKernels;
  readonly layout: LayoutKernels;
  readonly convTranspose: ConvTransposeKernels;
  readonly gemm: GemmKernels;
  readonly elementwise: ElementwiseKernels;
  readonly norm: NormalizationKernels;
  readonly select: SelectKernels;

  constructor(readonly engine: Engine) {
    this.conv = new ConvKernels(engine);
    this.backward = new BackwardKernels(engine);
    this.training = new TrainingKernels(engine);
    this.maps = new FeatureMapKernels(engine);
    this.layout = new LayoutKernels(engine);
    this.convTranspose = new ConvTransposeKernels(engine);
    this.gemm = new GemmKernels(engine);
    this.elementwise = new ElementwiseKernels(engine);
    this.norm = new NormalizationKernels(engine);
    this.select = new SelectKernels(engine);
  }
}

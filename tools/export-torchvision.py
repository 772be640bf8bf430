#!/usr/bin/python3
"""Export a torchvision segmentation network to ONNX with random (seeded) weights, cached.

Pretrained weights cannot be downloaded on these machines, and the test models must not be committed,
so the parity tests and the benchmarks build their models here, from Debian's python3-torch 1.13,
python3-torchvision 0.14 and python3-onnx 1.12 (run with /usr/bin/python3).

    /usr/bin/python3 tools/export-torchvision.py deeplabv3_mobilenet_v3_large \
        [--opset 13] [--size 321x481 | dynamic H and W by default] [--batch 2 | dynamic batch by default]

The last line printed on stdout is the path of the .onnx file (under test/fixtures/models/, git-ignored).
A file is reused when a sidecar .json records the same arguments and the same version of this script.

Weights: torch's default initialisation under a fixed seed. BatchNorm then gets random affine
parameters and running statistics measured on random inputs (train-mode passes with a cumulative
average), so folding BatchNorm into Conv is exercised with non-trivial mean, variance, scale and shift,
and activations keep a sane range through 50 layers. The BatchNorm that closes a residual branch gets a
small scale (0.1 to 0.5), as trained ResNets have (torchvision's zero_init_residual is the extreme): with
scales around 1 a random ResNet-50 is chaotic and amplifies float32 rounding to about 1e-4 of its output
(torch float32 against float64), the very tolerance the parity tests hold atrous to; damped, it is 1e-5.
`--fp32-error HxW` prints that float32-against-float64 error for a noise input.
The graph outputs only 'out' (no aux head).
"""
import argparse
import hashlib
import json
import os
import sys
import time
import warnings

MODELS = (
    'deeplabv3_mobilenet_v3_large',
    'deeplabv3_resnet50',
    'lraspp_mobilenet_v3_large',
    'fcn_resnet50',
)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(ROOT, 'test', 'fixtures', 'models')


def parse_size(text):
    try:
        h, w = text.lower().split('x')
        h, w = int(h), int(w)
    except ValueError:
        raise argparse.ArgumentTypeError(f'--size must be HxW (e.g. 321x481), got {text!r}')
    if h < 32 or w < 32:
        raise argparse.ArgumentTypeError(f'--size must be at least 32x32, got {text!r}')
    return h, w


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('model', choices=MODELS)
    p.add_argument('--opset', type=int, default=13, choices=range(11, 18), metavar='11..17')
    p.add_argument('--size', type=parse_size, default=None,
                   help='fixed input HxW; H and W are dynamic axes when omitted')
    p.add_argument('--batch', type=int, default=None, help='fixed batch; dynamic when omitted')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--num-classes', type=int, default=21)
    p.add_argument('--out-dir', default=DEFAULT_OUT)
    p.add_argument('--force', action='store_true', help='export even when a cached file matches')
    p.add_argument('--fp32-error', type=parse_size, default=None, metavar='HxW',
                   help='only print max |float32 - float64| / max |float64| of the model on noise of this size')
    args = p.parse_args(argv)
    if args.batch is not None and args.batch < 1:
        p.error(f'--batch must be >= 1, got {args.batch}')
    return args


def cache_name(args):
    n = str(args.batch) if args.batch is not None else 'N'
    hw = f'{args.size[0]}x{args.size[1]}' if args.size else 'HxW'
    return f'{args.model}_op{args.opset}_{n}x3x{hw}_seed{args.seed}_c{args.num_classes}'


def script_digest():
    with open(os.path.abspath(__file__), 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


def residual_closing_norms(model, torch):
    """The BatchNorm at the end of each residual branch (ResNet Bottleneck, MobileNetV3 block with a skip)."""
    from torchvision.models.resnet import Bottleneck
    from torchvision.models.mobilenetv3 import InvertedResidual

    for m in model.modules():
        if isinstance(m, Bottleneck):
            yield m.bn3
        elif isinstance(m, InvertedResidual) and m.use_res_connect:
            yield [b for b in m.block.modules() if isinstance(b, torch.nn.BatchNorm2d)][-1]


def build_model(args, torch):
    from torchvision.models import segmentation

    torch.manual_seed(args.seed)
    ctor = getattr(segmentation, args.model)
    kwargs = dict(weights=None, weights_backbone=None, num_classes=args.num_classes)
    if args.model != 'lraspp_mobilenet_v3_large':
        kwargs['aux_loss'] = False
    model = ctor(**kwargs)

    g = torch.Generator().manual_seed(args.seed + 1)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    closing = {id(bn) for bn in residual_closing_norms(model, torch)}
    with torch.no_grad():
        for bn in bns:
            low, high = (0.1, 0.5) if id(bn) in closing else (0.5, 1.5)
            bn.weight.copy_(torch.empty_like(bn.weight).uniform_(low, high, generator=g))
            bn.bias.copy_(torch.empty_like(bn.bias).normal_(0.0, 0.1, generator=g))
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average over the calibration passes
        model.train()
        for _ in range(3):
            model(torch.randn(4, 3, 97, 129, generator=g))
    model.eval()

    class OutOnly(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner(x)['out']

    return OutOnly(model).eval()


def export(args, path):
    import torch
    import onnx

    # torch 1.13 warns once per Constant node about its own shape inference; nothing to act on.
    warnings.filterwarnings('ignore', message='The shape inference of prim::Constant')
    torch.set_num_threads(1)
    model = build_model(args, torch)
    h, w = args.size if args.size else (129, 161)
    dummy = torch.randn(args.batch or 1, 3, h, w)
    axes = {}
    if args.batch is None:
        axes[0] = 'N'
    if args.size is None:
        axes[2] = 'H'
        axes[3] = 'W'
    dynamic_axes = {'input': dict(axes), 'out': dict(axes)} if axes else None
    tmp = f'{path}.{os.getpid()}.tmp'
    with torch.no_grad():
        torch.onnx.export(model, (dummy,), tmp, opset_version=args.opset, input_names=['input'],
                          output_names=['out'], dynamic_axes=dynamic_axes, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(tmp))
    os.replace(tmp, path)


def fp32_error(args):
    import torch

    torch.set_num_threads(1)
    model = build_model(args, torch)
    h, w = args.fp32_error
    x = torch.randn(args.batch or 1, 3, h, w, generator=torch.Generator().manual_seed(args.seed + 2))
    with torch.no_grad():
        y64 = model.double()(x.double())
        y32 = model.float()(x)
    rel = ((y32.double() - y64).abs().max() / y64.abs().max()).item()
    print(f'{args.model} {h}x{w}: max |float32 - float64| / max |float64| = {rel:.2e} (max |y| {y64.abs().max().item():.3g})')
    return 0


def main(argv):
    args = parse_args(argv)
    if args.fp32_error:
        return fp32_error(args)
    os.makedirs(args.out_dir, exist_ok=True)
    name = cache_name(args)
    path = os.path.join(args.out_dir, name + '.onnx')
    meta_path = os.path.join(args.out_dir, name + '.json')
    meta = {
        'model': args.model, 'opset': args.opset, 'size': args.size, 'batch': args.batch,
        'seed': args.seed, 'num_classes': args.num_classes, 'script': script_digest(),
    }
    if not args.force and os.path.exists(path) and os.path.exists(meta_path):
        with open(meta_path) as f:
            if json.load(f) == json.loads(json.dumps(meta)):
                print(path)
                return 0
    t0 = time.time()
    export(args, path)
    # Parallel test files may export the same model at once: private temporary names, atomic renames.
    meta_tmp = f'{meta_path}.{os.getpid()}.tmp'
    with open(meta_tmp, 'w') as f:
        json.dump(meta, f, indent=1)
    os.replace(meta_tmp, meta_path)
    print(f'exported {name}.onnx ({os.path.getsize(path) / 2**20:.1f} MiB) in {time.time() - t0:.1f} s',
          file=sys.stderr)
    print(path)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))

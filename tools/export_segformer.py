#!/usr/bin/python3
"""Export a SegFormer-like network (MiT-B0 widths) or a plain ViT attention block to ONNX, seeded, cached.

The transformer-era counterpart of export-torchvision.py (issue 9): the model is defined here, from the
SegFormer paper's description (Xie et al. 2021, "SegFormer: Simple and Efficient Design for Semantic
Segmentation with Transformers"), not taken from any implementation; weights are random under a seed.

    /usr/bin/python3 tools/export_segformer.py segformer [--opset 17|14] [--size HxW] [--batch N]
    /usr/bin/python3 tools/export_segformer.py vit_block [--opset 17|14] [--tokens T] [--batch N]

`segformer`: input `input` [N, 3, H, W], output `out` [N, classes, ceil(H/4), ceil(W/4)] (logits at 1/4
resolution, as the paper's decoder produces them); N, H and W dynamic unless fixed.
`vit_block`: input `tokens` [N, T, 192], output `out` [N, T, 192]; N and T dynamic unless fixed.
Opset 17 writes LayerNorm as one LayerNormalization node; opset 14 as the decomposition torch writes below
17 (ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, Mul, Add). GELU is always the Erf pattern
(x * 0.5 * (1 + erf(x / sqrt 2))). The script checks both with onnx.checker and by listing the op types.

The last line on stdout is the .onnx path (test/fixtures/models/, git-ignored); a .json sidecar records the
arguments and a digest of this script, and a matching file is reused.

Conditioning: with plain default initialisations the attention logits of a random model are near zero
(softmax would be uniform: a weak test) or, scaled up, the network becomes chaotic and float32 rounding
grows towards the 1e-4 parity tolerance. Here the query/key projections are scaled so that attention logits
have a standard deviation of about 1 (softmax rows are peaked but not one-hot), residual branches end with a
damped projection (x0.5) and LayerNorm/BatchNorm affine parameters are random near (1, 0).
`--fp32-error HxW` prints max |float32 - float64| / max |float64| on noise.
"""
import argparse
import hashlib
import json
import math
import os
import sys
import time
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(ROOT, 'test', 'fixtures', 'models')

# MiT-B0, per stage.
EMBED_DIMS = (32, 64, 160, 256)
DEPTHS = (2, 2, 2, 2)
HEADS = (1, 2, 5, 8)
SR_RATIOS = (8, 4, 2, 1)
MLP_RATIO = 4
DECODER_DIM = 256

VIT_DIM = 192
VIT_HEADS = 3


def parse_size(text, minimum=32):
    try:
        h, w = text.lower().split('x')
        h, w = int(h), int(w)
    except ValueError:
        raise argparse.ArgumentTypeError(f'--size must be HxW (e.g. 200x328), got {text!r}')
    if h < minimum or w < 1:
        raise argparse.ArgumentTypeError(f'--size must be at least {minimum}x{minimum}, got {text!r}')
    return h, w


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('model', choices=('segformer', 'vit_block'))
    p.add_argument('--opset', type=int, default=17, choices=range(13, 18), metavar='13..17')
    p.add_argument('--size', type=parse_size, default=None, help='segformer: fixed input HxW (dynamic when omitted)')
    p.add_argument('--tokens', type=int, default=None, help='vit_block: fixed token count (dynamic when omitted)')
    p.add_argument('--batch', type=int, default=None, help='fixed batch; dynamic when omitted')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--num-classes', type=int, default=19)
    p.add_argument('--out-dir', default=DEFAULT_OUT)
    p.add_argument('--force', action='store_true', help='export even when a cached file matches')
    p.add_argument('--fp32-error', type=lambda t: parse_size(t, 1), default=None, metavar='HxW',
                   help='only print max |float32 - float64| / max |float64| on noise (vit_block: Tx1, T tokens)')
    args = p.parse_args(argv)
    if args.batch is not None and args.batch < 1:
        p.error(f'--batch must be >= 1, got {args.batch}')
    if args.model == 'vit_block' and args.size is not None:
        p.error('--size is for segformer; vit_block takes --tokens')
    if args.model == 'segformer' and args.tokens is not None:
        p.error('--tokens is for vit_block; segformer takes --size')
    return args


def cache_name(args):
    n = str(args.batch) if args.batch is not None else 'N'
    if args.model == 'segformer':
        hw = f'{args.size[0]}x{args.size[1]}' if args.size else 'HxW'
        return f'segformer_b0_op{args.opset}_{n}x3x{hw}_seed{args.seed}_c{args.num_classes}'
    t = str(args.tokens) if args.tokens is not None else 'T'
    return f'vit_block_op{args.opset}_{n}x{t}x{VIT_DIM}_seed{args.seed}'


def script_digest():
    with open(os.path.abspath(__file__), 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


def define_modules(torch):
    """The module classes; defined inside a function so that --help works without importing torch."""
    nn = torch.nn
    F = torch.nn.functional

    def to_tokens(x):
        # [N, C, H, W] -> [N, H*W, C]
        return x.flatten(2).transpose(1, 2)

    def to_map(t, h, w):
        # [N, H*W, C] -> [N, C, H, W]
        n, _, c = t.shape
        return t.transpose(1, 2).reshape(n, c, h, w)

    class PatchEmbedding(nn.Module):
        """Overlapping patches: a strided conv whose kernel is larger than its stride, then LayerNorm on tokens."""

        def __init__(self, cin, dim, kernel, stride):
            super().__init__()
            self.conv = nn.Conv2d(cin, dim, kernel, stride=stride, padding=kernel // 2)
            self.norm = nn.LayerNorm(dim)

        def forward(self, x):
            x = self.conv(x)
            h, w = x.shape[2], x.shape[3]
            return self.norm(to_tokens(x)), h, w

    class ReducedAttention(nn.Module):
        """Multi-head attention whose keys and values come from a map shrunk by a strided conv (ratio r)."""

        def __init__(self, dim, heads, ratio):
            super().__init__()
            self.heads = heads
            self.head_dim = dim // heads
            self.query = nn.Linear(dim, dim)
            self.key = nn.Linear(dim, dim)
            self.value = nn.Linear(dim, dim)
            self.out = nn.Linear(dim, dim)
            self.ratio = ratio
            if ratio > 1:
                self.reduce = nn.Conv2d(dim, dim, ratio, stride=ratio)
                self.reduce_norm = nn.LayerNorm(dim)

        def split_heads(self, t):
            n, length, _ = t.shape
            return t.reshape(n, length, self.heads, self.head_dim).permute(0, 2, 1, 3)

        def forward(self, x, h, w):
            n, length, dim = x.shape
            q = self.split_heads(self.query(x)) * (1.0 / math.sqrt(self.head_dim))
            src = x
            if self.ratio > 1:
                small = self.reduce(to_map(x, h, w))
                src = self.reduce_norm(to_tokens(small))
            k = self.split_heads(self.key(src))
            v = self.split_heads(self.value(src))
            weights = torch.softmax(torch.matmul(q, k.transpose(-2, -1)), dim=-1)
            mixed = torch.matmul(weights, v).permute(0, 2, 1, 3).reshape(n, length, dim)
            return self.out(mixed)

    class MixFeedForward(nn.Module):
        """Linear, 3x3 depthwise conv on the token map (positional information without embeddings), GELU, Linear."""

        def __init__(self, dim, hidden):
            super().__init__()
            self.expand = nn.Linear(dim, hidden)
            self.depthwise = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
            self.act = nn.GELU()
            self.project = nn.Linear(hidden, dim)

        def forward(self, x, h, w):
            y = self.expand(x)
            y = to_tokens(self.depthwise(to_map(y, h, w)))
            return self.project(self.act(y))

    class EncoderBlock(nn.Module):
        def __init__(self, dim, heads, ratio):
            super().__init__()
            self.norm1 = nn.LayerNorm(dim)
            self.attention = ReducedAttention(dim, heads, ratio)
            self.norm2 = nn.LayerNorm(dim)
            self.ffn = MixFeedForward(dim, dim * MLP_RATIO)

        def forward(self, x, h, w):
            x = x + self.attention(self.norm1(x), h, w)
            return x + self.ffn(self.norm2(x), h, w)

    class EncoderStage(nn.Module):
        def __init__(self, cin, dim, depth, heads, ratio, first):
            super().__init__()
            self.embed = PatchEmbedding(cin, dim, 7 if first else 3, 4 if first else 2)
            self.blocks = nn.ModuleList([EncoderBlock(dim, heads, ratio) for _ in range(depth)])
            self.norm = nn.LayerNorm(dim)

        def forward(self, x):
            t, h, w = self.embed(x)
            for block in self.blocks:
                t = block(t, h, w)
            return to_map(self.norm(t), h, w)

    class AllMlpDecoder(nn.Module):
        """Per stage a Linear to a common width, upsampled to 1/4, concatenated, fused by 1x1 conv + BN + ReLU."""

        def __init__(self, dims, width, classes):
            super().__init__()
            self.lift = nn.ModuleList([nn.Linear(d, width) for d in dims])
            self.fuse = nn.Conv2d(width * len(dims), width, 1, bias=False)
            self.fuse_norm = nn.BatchNorm2d(width)
            self.classify = nn.Conv2d(width, classes, 1)

        def forward(self, features):
            h, w = features[0].shape[2], features[0].shape[3]
            maps = []
            for i, (f, lift) in enumerate(zip(features, self.lift)):
                m = to_map(lift(to_tokens(f)), f.shape[2], f.shape[3])
                if i > 0:
                    m = F.interpolate(m, size=(h, w), mode='bilinear', align_corners=False)
                maps.append(m)
            fused = torch.relu(self.fuse_norm(self.fuse(torch.cat(maps[::-1], dim=1))))
            return self.classify(fused)

    class SegFormerLike(nn.Module):
        def __init__(self, classes):
            super().__init__()
            cins = (3,) + EMBED_DIMS[:-1]
            self.stages = nn.ModuleList([
                EncoderStage(cins[i], EMBED_DIMS[i], DEPTHS[i], HEADS[i], SR_RATIOS[i], i == 0) for i in range(4)
            ])
            self.decoder = AllMlpDecoder(EMBED_DIMS, DECODER_DIM, classes)

        def forward(self, x):
            features = []
            for stage in self.stages:
                x = stage(x)
                features.append(x)
            return self.decoder(features)

    class VitBlock(nn.Module):
        """Pre-norm transformer block: x + MHA(LN(x)), then x + MLP(LN(x)) with GELU; one fused qkv Linear."""

        def __init__(self, dim, heads):
            super().__init__()
            self.heads = heads
            self.head_dim = dim // heads
            self.norm1 = nn.LayerNorm(dim)
            self.qkv = nn.Linear(dim, 3 * dim)
            self.out = nn.Linear(dim, dim)
            self.norm2 = nn.LayerNorm(dim)
            self.fc1 = nn.Linear(dim, 4 * dim)
            self.act = nn.GELU()
            self.fc2 = nn.Linear(4 * dim, dim)

        def forward(self, x):
            n, length, dim = x.shape
            qkv = self.qkv(self.norm1(x)).reshape(n, length, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            scores = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(self.head_dim))
            mixed = torch.matmul(torch.softmax(scores, dim=-1), v).transpose(1, 2).reshape(n, length, dim)
            x = x + self.out(mixed)
            return x + self.fc2(self.act(self.fc1(self.norm2(x))))

    return SegFormerLike, VitBlock


def initialise(model, torch, seed, calibrate):
    """Seeded weights with the conditioning described in the module docstring."""
    nn = torch.nn
    g = torch.Generator().manual_seed(seed)
    damped = set()
    for m in model.modules():
        # The projections that close a residual branch.
        for name in ('out', 'project', 'fc2'):
            sub = getattr(m, name, None)
            if isinstance(sub, nn.Linear):
                damped.add(id(sub))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Linear):
                # 1 / sqrt(fan_in): on LayerNormed tokens (unit variance) q and k entries have std ~1, so
                # the attention logits q.k / sqrt(d_head) have std ~1 too.
                std = 1.0 / math.sqrt(m.in_features)
                if id(m) in damped:
                    std *= 0.5
                m.weight.normal_(0.0, std, generator=g)
                m.bias.normal_(0.0, 0.02, generator=g)
            elif isinstance(m, nn.Conv2d):
                fan_in = m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
                m.weight.normal_(0.0, math.sqrt(1.0 / fan_in), generator=g)
                if m.bias is not None:
                    m.bias.normal_(0.0, 0.02, generator=g)
            elif isinstance(m, nn.LayerNorm):
                m.weight.uniform_(0.8, 1.2, generator=g)
                m.bias.normal_(0.0, 0.05, generator=g)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.normal_(0.0, 0.1, generator=g)
                m.reset_running_stats()
                m.momentum = None  # cumulative average over the calibration passes
        if calibrate is not None:
            model.train()
            for _ in range(2):
                model(calibrate(g))
    model.eval()
    return model


def build(args, torch):
    SegFormerLike, VitBlock = define_modules(torch)
    torch.manual_seed(args.seed)
    if args.model == 'segformer':
        model = SegFormerLike(args.num_classes)
        return initialise(model, torch, args.seed + 1, lambda g: torch.randn(2, 3, 96, 128, generator=g))
    return initialise(VitBlock(VIT_DIM, VIT_HEADS), torch, args.seed + 1, None)


def op_types(graph):
    return sorted({n.op_type for n in graph.node})


def check_graph(args, model_proto, onnx):
    onnx.checker.check_model(model_proto)
    ops = op_types(model_proto.graph)
    problems = []
    if 'Erf' not in ops:
        problems.append('no Erf node (GELU must be the Erf pattern)')
    if args.opset >= 17 and 'LayerNormalization' not in ops:
        problems.append('opset >= 17 but no LayerNormalization node')
    if args.opset < 17:
        if 'LayerNormalization' in ops:
            problems.append(f'opset {args.opset} has a LayerNormalization node')
        for needed in ('ReduceMean', 'Sub', 'Pow', 'Sqrt', 'Div'):
            if needed not in ops:
                problems.append(f'decomposed LayerNorm without {needed}')
    for needed in ('MatMul', 'Softmax', 'Transpose', 'Reshape'):
        if needed not in ops:
            problems.append(f'no {needed} node')
    if args.model == 'segformer' and 'Resize' not in ops:
        problems.append('no Resize node (decoder upsampling)')
    if problems:
        raise SystemExit(f'{cache_name(args)}: exported graph is not what the tests expect: ' + '; '.join(problems) +
                         f' (op types: {", ".join(ops)})')
    return ops


def export(args, path):
    import torch
    import onnx

    warnings.filterwarnings('ignore', message='The shape inference of prim::Constant')
    warnings.filterwarnings('ignore', category=torch.jit.TracerWarning)
    torch.set_num_threads(1)
    model = build(args, torch)
    axes = {}
    if args.batch is None:
        axes[0] = 'N'
    if args.model == 'segformer':
        h, w = args.size if args.size else (96, 128)
        dummy = torch.randn(args.batch or 1, 3, h, w)
        if args.size is None:
            axes[2] = 'H'
            axes[3] = 'W'
        in_name, out_axes = 'input', {k: v for k, v in axes.items()}
        if args.size is None:
            out_axes = {0: 'N', 2: 'H4', 3: 'W4'} if args.batch is None else {2: 'H4', 3: 'W4'}
    else:
        t = args.tokens or 50
        dummy = torch.randn(args.batch or 1, t, VIT_DIM)
        if args.tokens is None:
            axes[1] = 'T'
        in_name, out_axes = 'tokens', dict(axes)
    dynamic_axes = {in_name: axes, 'out': out_axes} if axes else None
    tmp = f'{path}.{os.getpid()}.tmp'
    with torch.no_grad():
        torch.onnx.export(model, (dummy,), tmp, opset_version=args.opset, input_names=[in_name],
                          output_names=['out'], dynamic_axes=dynamic_axes, do_constant_folding=True)
    proto = onnx.load(tmp)
    ops = check_graph(args, proto, onnx)
    os.replace(tmp, path)
    return ops


def fp32_error(args):
    import torch

    torch.set_num_threads(1)
    model = build(args, torch)
    h, w = args.fp32_error
    g = torch.Generator().manual_seed(args.seed + 2)
    x = torch.randn(args.batch or 1, 3, h, w, generator=g) if args.model == 'segformer' else torch.randn(
        args.batch or 1, h, VIT_DIM, generator=g)
    with torch.no_grad():
        y64 = model.double()(x.double())
        y32 = model.float()(x)
    rel = ((y32.double() - y64).abs().max() / y64.abs().max()).item()
    agree = (y32.double().argmax(1) == y64.argmax(1)).double().mean().item() if args.model == 'segformer' else float('nan')
    print(f'{args.model} {h}x{w}: max |float32 - float64| / max |float64| = {rel:.2e} (max |y| '
          f'{y64.abs().max().item():.3g}' + (f', argmax agreement {agree * 100:.3f} %)' if agree == agree else ')'))
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
        'model': args.model, 'opset': args.opset, 'size': args.size, 'tokens': args.tokens, 'batch': args.batch,
        'seed': args.seed, 'num_classes': args.num_classes, 'script': script_digest(),
    }
    if not args.force and os.path.exists(path) and os.path.exists(meta_path):
        with open(meta_path) as f:
            cached = json.load(f)
            cached.pop('op_types', None)
            if cached == json.loads(json.dumps(meta)):
                print(path)
                return 0
    t0 = time.time()
    ops = export(args, path)
    meta['op_types'] = ops
    # Parallel test files may export the same model at once: private temporary names, atomic renames.
    meta_tmp = f'{meta_path}.{os.getpid()}.tmp'
    with open(meta_tmp, 'w') as f:
        json.dump(meta, f, indent=1)
    os.replace(meta_tmp, meta_path)
    print(f'exported {name}.onnx ({os.path.getsize(path) / 2**20:.1f} MiB, {len(ops)} op types) in '
          f'{time.time() - t0:.1f} s', file=sys.stderr)
    print(path)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/python3
"""The oracle of the conv backward tests: PyTorch autograd in float64.

Reads one JSON array of cases on stdin (all of a test file's cases: one process, not one per case) and writes
one JSON array of results on stdout, in order. A case:
  {"op": "conv2d" | "conv1d", "input": [...], "inputDims": [N, C, H, W] | [N, C, L],
   "weights": [...], "weightDims": [...], "gradOutput": [...], "gradOutputDims": [...],
   "strides": [...], "dilations": [...], "groups": g,
   "pads": {"kind": "explicit", "begin": [...], "end": [...]} | {"kind": "same-upper" | "same-lower" | "valid"}
          | {"kind": "causal"},
   "bias": [...] | null, "activation": {"kind": "none" | "relu" | "relu6" | "hardSwish" | "sigmoid"}
          | {"kind": "clip", "min", "max"} | {"kind": "hardSigmoid", "alpha"?, "beta"?} | {"kind": "leakyRelu", "alpha"?}}
Per spatial axis the pads are resolved here, from ONNX's definitions, not taken from the code under test:
SAME keeps ceil(in / stride) outputs with total pad (out - 1) * stride + (k - 1) * dilation + 1 - in, the odd
pixel at the end (upper) or the beginning (lower); causal pads (k - 1) * dilation at the beginning only.
The activation is ONNX's (HardSigmoid defaults alpha 0.2, beta 0.5; LeakyRelu alpha 0.01), applied to
conv(x, w) + b. A result: {"gradInput": [...], "gradWeight": [...], "gradBias": [...]} (the bias gradient is
returned whether or not the case has a bias: a zero one then). A case whose output shape is not
gradOutputDims is an error: the sizes disagree.
"""
import json
import sys

import torch
import torch.nn.functional as F

torch.set_num_threads(1)


def axis_pads(kind, size, k, s, d):
    eff = (k - 1) * d + 1
    if kind == "valid":
        return 0, 0
    if kind == "causal":
        return eff - 1, 0
    out = -(-size // s)
    total = max(0, (out - 1) * s + eff - size)
    small, large = total // 2, total - total // 2
    return (small, large) if kind == "same-upper" else (large, small)


def activate(a, z):
    kind = a["kind"]
    if kind == "none":
        return z
    if kind == "relu":
        return F.relu(z)
    if kind == "relu6":
        return F.hardtanh(z, 0.0, 6.0)
    if kind == "clip":
        return F.hardtanh(z, a["min"], a["max"])
    if kind == "hardSigmoid":
        return torch.clamp(a.get("alpha", 0.2) * z + a.get("beta", 0.5), 0.0, 1.0)
    if kind == "hardSwish":
        return F.hardswish(z)
    if kind == "sigmoid":
        return torch.sigmoid(z)
    if kind == "leakyRelu":
        return F.leaky_relu(z, a.get("alpha", 0.01))
    raise SystemExit(f"unknown activation {a}")


def run(case):
    x = torch.tensor(case["input"], dtype=torch.float64).reshape(case["inputDims"]).requires_grad_()
    w = torch.tensor(case["weights"], dtype=torch.float64).reshape(case["weightDims"]).requires_grad_()
    m = case["weightDims"][0]
    bias = case.get("bias")
    b = (torch.tensor(bias, dtype=torch.float64) if bias is not None else torch.zeros(m, dtype=torch.float64)).requires_grad_()
    gy = torch.tensor(case["gradOutput"], dtype=torch.float64).reshape(case["gradOutputDims"])
    spatial = case["inputDims"][2:]
    kernel = case["weightDims"][2:]
    pads = case["pads"]
    per_axis = []
    for a, size in enumerate(spatial):
        if pads["kind"] == "explicit":
            per_axis.append((pads["begin"][a], pads["end"][a]))
        else:
            per_axis.append(axis_pads(pads["kind"], size, kernel[a], case["strides"][a], case["dilations"][a]))
    # F.pad takes the last axis first.
    flat = [p for pair in reversed(per_axis) for p in pair]
    xp = F.pad(x, flat)
    conv = F.conv2d if case["op"] == "conv2d" else F.conv1d
    y = activate(case.get("activation", {"kind": "none"}), conv(xp, w, b, stride=case["strides"], dilation=case["dilations"], groups=case["groups"]))
    if list(y.shape) != case["gradOutputDims"]:
        raise SystemExit(f"output dims {list(y.shape)} but gradOutput {case['gradOutputDims']} (pads {per_axis})")
    y.backward(gy)
    return {
        "gradInput": x.grad.flatten().tolist(),
        "gradWeight": w.grad.flatten().tolist(),
        "gradBias": b.grad.flatten().tolist(),
    }


def main():
    cases = json.load(sys.stdin)
    json.dump([run(c) for c in cases], sys.stdout)


if __name__ == "__main__":
    main()

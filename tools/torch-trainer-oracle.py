#!/usr/bin/python3
"""The oracle of the trainer test: a small dilated segmentation net trained in PyTorch (float64).

Reads one JSON object on stdin:
  {"dir": path, "seed": s, "batch": N, "size": H (= W), "classes": C, "ignoreIndex": i,
   "classWeights": [...], "scenarios": [{"optimizer": {"type": "sgd"|"adam", "learningRate", "momentum"?,
   "weightDecay"?}, "steps": k, "frozen": [module names]}]}
Builds the net with the seed (stem conv -> relu -> dilated conv -> BatchNorm (random running statistics)
-> relu, plus the stem's output (residual Add) -> Concat with the stem's output -> 2x2 max pool -> 1x1 head
conv -> bilinear 2x upsampling), exports it in float32 to dir/net.onnx (opset 13, BatchNorm kept: not folded
into the conv), and draws the batch (inputs and labels, some pixels ignoreIndex). Then, per scenario, from
the same float32 initial weights, runs `steps` steps of torch.optim.SGD / Adam in float64, in eval mode
(BatchNorm normalises with its running statistics: the trainer's inference mode), with
F.cross_entropy(weight=classWeights, ignore_index=ignoreIndex), the modules named in "frozen" not trained.
Writes JSON: {"onnx": path, "input": [...], "inputDims": [...], "labels": [...], "params": {onnx initializer
name: module parameter name}, "nodes": [[name, op_type], ...], "scenarios": [{"losses": [...], "weights":
{initializer name: [...]}}]}.
"""
import copy
import json
import sys

import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)


class Net(nn.Module):
    def __init__(self, cin, mid, classes):
        super().__init__()
        self.stem = nn.Conv2d(cin, mid, 3, padding=1)
        self.atrous = nn.Conv2d(mid, mid, 3, padding=2, dilation=2, bias=False)
        self.bn = nn.BatchNorm2d(mid)
        self.head = nn.Conv2d(2 * mid, classes, 1)

    def forward(self, x):
        h = F.relu(self.stem(x))
        y = F.relu(self.bn(self.atrous(h))) + h
        z = F.max_pool2d(torch.cat([y, h], 1), 2)
        return F.interpolate(self.head(z), scale_factor=2.0, mode="bilinear", align_corners=False)


def main():
    cfg = json.load(sys.stdin)
    torch.manual_seed(cfg["seed"])
    n, size, classes = cfg["batch"], cfg["size"], cfg["classes"]
    net = Net(3, 6, classes)
    with torch.no_grad():
        net.bn.running_mean.uniform_(-0.3, 0.3)
        net.bn.running_var.uniform_(0.5, 1.5)
        net.bn.weight.uniform_(0.5, 1.5)
        net.bn.bias.uniform_(-0.2, 0.2)
    net.eval()
    x = torch.randn(n, 3, size, size)
    labels = torch.randint(0, classes, (n, size, size))
    labels[torch.rand(n, size, size) < 0.15] = cfg["ignoreIndex"]
    path = cfg["dir"] + "/net.onnx"
    torch.onnx.export(net, x, path, opset_version=13, input_names=["input"], output_names=["logits"],
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=True)
    model = onnx.load(path)
    inits = {t.name for t in model.graph.initializer}
    names = [name for name, _ in net.named_parameters()]
    missing = [name for name in names if name not in inits]
    if missing:
        raise SystemExit(f"parameters {missing} are not initializers of the export ({sorted(inits)})")
    weight = torch.tensor(cfg["classWeights"], dtype=torch.float64)
    scenarios = []
    for s in cfg["scenarios"]:
        ref = copy.deepcopy(net).double()
        ref.eval()
        trained = [(name, p) for name, p in ref.named_parameters() if name.split(".")[0] not in s["frozen"]]
        o = s["optimizer"]
        params = [p for _, p in trained]
        if o["type"] == "sgd":
            opt = torch.optim.SGD(params, lr=o["learningRate"], momentum=o.get("momentum", 0), weight_decay=o.get("weightDecay", 0))
        else:
            opt = torch.optim.Adam(params, lr=o["learningRate"], weight_decay=o.get("weightDecay", 0))
        losses = []
        for _ in range(s["steps"]):
            opt.zero_grad()
            loss = F.cross_entropy(ref(x.double()), labels, weight=weight, ignore_index=cfg["ignoreIndex"])
            loss.backward()
            opt.step()
            losses.append(loss.item())
        scenarios.append({"losses": losses, "weights": {name: p.detach().flatten().tolist() for name, p in ref.named_parameters()}})
    json.dump({
        "onnx": path,
        "input": x.flatten().tolist(),
        "inputDims": list(x.shape),
        "labels": labels.flatten().tolist(),
        "nodes": [[nd.name, nd.op_type] for nd in model.graph.node],
        "scenarios": scenarios,
    }, sys.stdout)


main()

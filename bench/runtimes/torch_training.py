#!/usr/bin/python3
"""PyTorch side of bench/training-bench.mjs: training steps of an ONNX model on the CPU, one thread.

Reads one JSON command per line on stdin and answers each with one JSON line on stdout:
  {"cmd": "prepare", "id": k, "onnx": path, "input": path (float32 NCHW), "inputDims": [...],
   "labels": path (int32 [N, H, W]), "optimizer": {"type": "sgd", "learningRate": lr, "momentum": m}}
      -> {"ok": true, "params": count}
  {"cmd": "step", "id": k}  -> {"loss": l, "wall": ms, "cpu": ms}   (one forward + backward + update)
  {"cmd": "dispose", "id": k} -> {"ok": true}
Errors answer {"error": message}.

The ONNX graph runs as an nn.Module (OnnxModule): every Conv weight and bias an nn.Parameter with the file's
float32 values, every node the torch op with exactly the file's attributes (Conv: strides, pads, dilations,
group; Resize linear half_pixel = F.interpolate bilinear align_corners=False). Shape ops (Shape, Gather,
Unsqueeze, Slice, Cast, Concat of shapes, Constant) run on Python lists. A step is PyTorch's ordinary
training step: zero_grad, F.cross_entropy(logits, labels) (mean over pixels), backward, torch.optim.SGD.step.
Timed inside this process with perf_counter and process_time, so the pipe round trip is not counted.
"""
import os

# Before torch loads: its BLAS and OpenMP pools read these at start (torch.set_num_threads alone left
# Debian's build running about two cores' worth of CPU per step on the models' 1x1 convs).
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from onnx import numpy_helper  # noqa: E402

torch.set_num_threads(1)
torch.set_num_interop_threads(1)


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


class OnnxModule(nn.Module):
    """An ONNX graph of Conv, Relu, Add, Concat, GlobalAveragePool, Resize and shape ops as a module."""

    SHAPE_OPS = {"Shape", "Gather", "Unsqueeze", "Slice", "Cast", "Constant"}

    def __init__(self, model):
        super().__init__()
        self.graph = model.graph
        self.params = nn.ParameterDict()
        self.names = {}
        used = {i for n in self.graph.node if n.op_type == "Conv" for i in n.input[1:]}
        for init in self.graph.initializer:
            if init.name in used:
                key = "p%d" % len(self.names)
                self.names[init.name] = key
                self.params[key] = nn.Parameter(torch.from_numpy(numpy_helper.to_array(init).astype(np.float32).copy()))
        unsupported = {n.op_type for n in self.graph.node} - self.SHAPE_OPS - {
            "Conv", "Relu", "Add", "Concat", "GlobalAveragePool", "Resize"}
        if unsupported:
            raise ValueError("torch_training.py: no mapping for ONNX ops %s" % sorted(unsupported))

    def forward(self, x):
        env = {self.graph.input[0].name: x}
        for n in self.graph.node:
            a = attrs(n)
            ins = [env.get(i) if i else None for i in n.input]
            op = n.op_type
            if op == "Conv":
                w = self.params[self.names[n.input[1]]]
                b = self.params[self.names[n.input[2]]] if len(n.input) > 2 and n.input[2] else None
                pads = a.get("pads", [0, 0, 0, 0])
                if pads[0] != pads[2] or pads[1] != pads[3]:
                    raise ValueError("%s: asymmetric pads %s" % (n.name, pads))
                y = F.conv2d(ins[0], w, b, stride=tuple(a.get("strides", [1, 1])), padding=(pads[0], pads[1]),
                             dilation=tuple(a.get("dilations", [1, 1])), groups=a.get("group", 1))
            elif op == "Relu":
                y = F.relu(ins[0])
            elif op == "Add":
                y = ins[0] + ins[1]
            elif op == "Concat":
                if isinstance(ins[0], list):
                    y = [v for part in ins for v in part]
                else:
                    y = torch.cat(ins, a["axis"])
            elif op == "GlobalAveragePool":
                y = ins[0].mean(dim=(2, 3), keepdim=True)
            elif op == "Resize":
                if a.get("mode") != b"linear" or a.get("coordinate_transformation_mode") != b"half_pixel":
                    raise ValueError("%s: only linear half_pixel Resize is mapped" % n.name)
                size = ins[3]
                if list(size[:2]) != list(ins[0].shape[:2]):
                    raise ValueError("%s: Resize sizes %s change N or C" % (n.name, size))
                y = F.interpolate(ins[0], size=(int(size[2]), int(size[3])), mode="bilinear", align_corners=False)
            elif op == "Shape":
                y = list(ins[0].shape)
            elif op == "Constant":
                y = numpy_helper.to_array(a["value"]).tolist()
            elif op == "Gather":
                y = ins[0][ins[1]] if not isinstance(ins[1], list) else [ins[0][i] for i in ins[1]]
            elif op == "Unsqueeze":
                y = [ins[0]]
            elif op == "Slice":
                (start,), (end,) = ins[1], ins[2]
                y = ins[0][start:end]
            elif op == "Cast":
                y = list(ins[0])
            env[n.output[0]] = y
        return env[self.graph.output[0].name]


class Case:
    def __init__(self, cmd):
        self.model = OnnxModule(onnx.load(cmd["onnx"]))
        dims = cmd["inputDims"]
        self.x = torch.from_numpy(np.fromfile(cmd["input"], dtype=np.float32).reshape(dims))
        self.labels = torch.from_numpy(np.fromfile(cmd["labels"], dtype=np.int32).astype(np.int64)).reshape(
            [dims[0]] + [int(d) for d in cmd["labelDims"][1:]])
        o = cmd["optimizer"]
        if o["type"] != "sgd":
            raise ValueError("optimizer %s: the bench uses sgd" % o["type"])
        self.opt = torch.optim.SGD(self.model.parameters(), lr=o["learningRate"], momentum=o.get("momentum", 0))
        self.model.train()

    def step(self):
        t0, c0 = time.perf_counter(), time.process_time()
        self.opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(self.model(self.x), self.labels)
        loss.backward()
        self.opt.step()
        value = loss.item()
        return {"loss": value, "wall": (time.perf_counter() - t0) * 1e3, "cpu": (time.process_time() - c0) * 1e3}


def main():
    cases = {}
    for line in sys.stdin:
        cmd = json.loads(line)
        try:
            if cmd["cmd"] == "prepare":
                cases[cmd["id"]] = Case(cmd)
                answer = {"ok": True, "params": sum(p.numel() for p in cases[cmd["id"]].model.parameters()),
                          "torch": torch.__version__, "threads": torch.get_num_threads()}
            elif cmd["cmd"] == "step":
                answer = cases[cmd["id"]].step()
            elif cmd["cmd"] == "dispose":
                cases.pop(cmd["id"], None)
                answer = {"ok": True}
            else:
                answer = {"error": "unknown command %s" % cmd["cmd"]}
        except Exception as e:  # reported to the bench, which prints it in the table's notes
            answer = {"error": "%s: %s" % (type(e).__name__, e)}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()

"""Train, export and evaluate atrous's built-in default segmentation model (run by hand, not by tests).

A compact DeepLab-style network (dilated residual backbone at output stride 8, hybrid dilation rates
1-2-5, ASPP with image pooling, a DeepLabV3+-style decoder with one stride-4 skip) trained on CPU with
Debian's python3-torch on the synthetic scenes of models/scenes.py.

  /usr/bin/python3 models/train_default.py all       # samples + train + export + eval (the recipe)
  /usr/bin/python3 models/train_default.py samples   # write the 20 held-out scenes to models/default/samples
  /usr/bin/python3 models/train_default.py train     # train, writes models/default/checkpoint.pt (not committed)
  /usr/bin/python3 models/train_default.py train --resume 1 --lr 1.5e-3   # continue from checkpoint.pt (warm restart)
  /usr/bin/python3 models/train_default.py export    # checkpoint -> models/default/model.onnx
  /usr/bin/python3 models/train_default.py eval      # mIoU of the checkpoint and the ONNX file, writes model.json

Options: --steps N (default 1800), --seed S (default 0), --threads T (default 1),
  --resume 1 (continue from checkpoint.pt: fresh Adam, new scenes, warm restart), --lr PEAK (default 3e-3,
  1.5e-3 with --resume), --warmup N (default 50), --save-every N (checkpoint every N steps, default 200),
  --budget S (decide the step count after the warm-up from the measured s/step so the run ends ~S s after start;
  the chosen count is printed and recorded in the checkpoint, so `--steps` reproduces the schedule).
"""

import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import scenes  # noqa: E402  (the one copy of the scene generator)

OUT = os.path.join(HERE, "default")
SAMPLES = os.path.join(OUT, "samples")
CKPT = os.path.join(OUT, "checkpoint.pt")
ONNX_PATH = os.path.join(OUT, "model.onnx")
NUM_CLASSES = len(scenes.CLASSES)
MEAN = [0.5, 0.5, 0.5]
STD = [0.25, 0.25, 0.25]
SCENE_SIZE = 256
CROP = 160
BATCH = 12
POOL = 1200
REFRESH_PER_STEP = 3
LR = 3e-3
WEIGHT_DECAY = 1e-4
CLASS_WEIGHTS = [0.5, 1.0, 1.0, 1.0, 1.0, 1.0]
EXTRA_EVAL_SCENES = 200  # held-out seeds beyond the 20 committed ones, for the card


# ----------------------------------------------------------------------------------------------
# the network

def cbr(cin, cout, k=3, stride=1, dilation=1):
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride, padding=dilation * (k - 1) // 2, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class Block(nn.Module):
    """Residual basic block: two 3x3 convs (own dilations), projection shortcut when the shape changes."""

    def __init__(self, cin, cout, stride=1, dilations=(1, 1)):
        super().__init__()
        d1, d2 = dilations
        self.c1 = nn.Conv2d(cin, cout, 3, stride, padding=d1, dilation=d1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, padding=d2, dilation=d2, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        s = x if self.short is None else self.short(x)
        return F.relu(y + s)


class ASPP(nn.Module):
    def __init__(self, cin, cout, rates):
        super().__init__()
        self.branches = nn.ModuleList([cbr(cin, cout, 1)] + [cbr(cin, cout, 3, dilation=r) for r in rates])
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, cout, 1, bias=False),
                                  nn.BatchNorm2d(cout), nn.ReLU(inplace=True))
        self.project = cbr(cout * (len(rates) + 2), cout, 1)

    def forward(self, x):
        h, w = x.shape[-2:]
        outs = [b(x) for b in self.branches]
        outs.append(F.interpolate(self.pool(x), size=(h, w), mode="bilinear", align_corners=False))
        return self.project(torch.cat(outs, 1))


class DefaultNet(nn.Module):
    def __init__(self, num_classes=NUM_CLASSES, w=(16, 24, 48, 64), aspp_rates=(2, 5, 9), dec=48):
        super().__init__()
        self.stem = nn.Sequential(cbr(3, w[0], 3, 2), cbr(w[0], w[0], 3))               # OS2
        self.layer1 = Block(w[0], w[1], 2)                                                # OS4 (skip)
        self.layer2 = nn.Sequential(Block(w[1], w[2], 2), Block(w[2], w[2]))               # OS8
        self.layer3 = nn.Sequential(                                                      # OS8, dilated
            Block(w[2], w[3], 1, (1, 2)), Block(w[3], w[3], 1, (5, 1)), Block(w[3], w[3], 1, (2, 5)))
        self.aspp = ASPP(w[3], w[3], aspp_rates)
        self.low = cbr(w[1], 24, 1)
        self.decoder = nn.Sequential(cbr(w[3] + 24, dec, 3), cbr(dec, dec, 3))
        self.classifier = nn.Conv2d(dec, num_classes, 1)

    def forward(self, image):
        h, w = image.shape[-2:]
        x = self.stem(image)
        low = self.layer1(x)
        x = self.layer3(self.layer2(low))
        x = self.aspp(x)
        x = F.interpolate(x, size=low.shape[-2:], mode="bilinear", align_corners=False)
        x = self.decoder(torch.cat([x, self.low(low)], 1))
        x = self.classifier(x)
        return F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)


def count_params(model):
    return sum(p.numel() for p in model.parameters())


def conv_flops(model, size=SCENE_SIZE):
    """Multiply-accumulates of every Conv2d at size x size (BN folded away; adds/resizes not counted)."""
    macs = [0]

    def hook(mod, inp, out):
        k = mod.kernel_size[0] * mod.kernel_size[1] * (mod.in_channels // mod.groups)
        macs[0] += out.numel() // out.shape[0] * k

    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size))
    for h in hs:
        h.remove()
    return macs[0]


# ----------------------------------------------------------------------------------------------
# data

def normalise(img_u8):
    """uint8 [N,H,W,3] -> float32 [N,3,H,W], (x/255 - mean)/std."""
    x = img_u8.astype(np.float32) / 255.0
    x = (x - np.array(MEAN, np.float32)) / np.array(STD, np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def batch_from_pool(rng, imgs, labs):
    idx = rng.integers(0, len(imgs), size=BATCH)
    xb = np.empty((BATCH, CROP, CROP, 3), np.uint8)
    yb = np.empty((BATCH, CROP, CROP), np.int64)
    for j, i in enumerate(idx):
        y0, x0 = rng.integers(0, SCENE_SIZE - CROP + 1, size=2)
        im = imgs[i, y0:y0 + CROP, x0:x0 + CROP]
        lb = labs[i, y0:y0 + CROP, x0:x0 + CROP]
        k = int(rng.integers(0, 4))
        im, lb = np.rot90(im, k), np.rot90(lb, k)
        if rng.uniform() < 0.5:
            im, lb = im[:, ::-1], lb[:, ::-1]
        xb[j], yb[j] = im, lb
    return torch.from_numpy(normalise(xb)), torch.from_numpy(yb)


# ----------------------------------------------------------------------------------------------
# metrics

def confusion(pred, lab, n=NUM_CLASSES):
    return np.bincount(lab.ravel().astype(np.int64) * n + pred.ravel().astype(np.int64),
                       minlength=n * n).reshape(n, n)


def miou_from_confusion(cm):
    inter = np.diag(cm).astype(np.float64)
    union = cm.sum(0) + cm.sum(1) - np.diag(cm)
    ious = np.where(union > 0, inter / np.maximum(union, 1), np.nan)
    return float(np.nanmean(ious)), [None if math.isnan(v) else float(v) for v in ious]


def predict_torch(model, imgs_u8, chunk=4):
    model.eval()
    preds = []
    with torch.no_grad():
        for i in range(0, len(imgs_u8), chunk):
            logits = model(torch.from_numpy(normalise(imgs_u8[i:i + chunk])))
            preds.append(logits.argmax(1).numpy().astype(np.uint8))
    return np.concatenate(preds)


def load_samples():
    names = sorted(f[:-4] for f in os.listdir(SAMPLES) if f.endswith(".png") and not f.endswith(".mask.png"))
    imgs = np.stack([scenes.read_png(os.path.join(SAMPLES, n + ".png")) for n in names])
    labs = np.stack([scenes.read_png(os.path.join(SAMPLES, n + ".mask.png")) for n in names])
    return names, imgs, labs


# ----------------------------------------------------------------------------------------------
# commands

def cmd_samples(opts):
    names = scenes.write_samples(SAMPLES, 20, SCENE_SIZE, scenes.HELD_OUT_FIRST_SEED)
    with open(os.path.join(SAMPLES, "index.json"), "w") as f:
        json.dump({"size": SCENE_SIZE, "scenes": [{"image": n + ".png", "mask": n + ".mask.png", "seed": s}
                                                   for n, s in names]}, f, indent=2)
        f.write("\n")
    print("samples: wrote %d scenes to %s" % (len(names), SAMPLES))


def cmd_train(opts):
    """Train from scratch, or with --resume 1 continue from checkpoint.pt (warm restart: a fresh Adam, --warmup
    steps of linear warm-up to --lr, then cosine decay to 0). With --budget S the step count is decided after the
    warm-up from the measured seconds per step so that the run ends about S seconds after it started."""
    steps, seed, resume = opts["steps"], opts["seed"], opts["resume"]
    stages = []
    init_state = None
    scenes_before = 0
    if resume:
        ck = torch.load(CKPT, map_location="cpu")
        init_state = ck["model"]
        stages = ck.get("stages") or [{  # a checkpoint of the original one-stage recipe
            "init": "scratch", "steps": ck.get("step"), "peak_lr": LR, "warmup": 50,
            "seconds": round(ck.get("train_seconds", 0)), "threads": ck.get("threads"),
            "scenes_generated": ck.get("scenes_seen"), "first_scene_seed": seed * 10_000_000}]
        scenes_before = sum(st["scenes_generated"] for st in stages)
    peak = opts["lr"] if opts["lr"] is not None else (1.5e-3 if resume else LR)
    warm = opts["warmup"]
    stage_no = len(stages)
    torch.manual_seed(seed + 1000 * stage_no)
    rng = np.random.default_rng(seed + 1000 * stage_no)
    t0 = time.time()
    imgs = np.empty((POOL, SCENE_SIZE, SCENE_SIZE, 3), np.uint8)
    labs = np.empty((POOL, SCENE_SIZE, SCENE_SIZE), np.uint8)
    # training seeds stay far below scenes.HELD_OUT_FIRST_SEED for seed 0; a continuation only sees new scenes
    first_seed = seed * 10_000_000 + scenes_before
    next_seed = first_seed
    for i in range(POOL):
        imgs[i], labs[i] = scenes.make_scene(next_seed, SCENE_SIZE)
        next_seed += 1
    assert next_seed < scenes.HELD_OUT_FIRST_SEED or seed > 0
    print("pool of %d scenes (seeds from %d) in %.1f s" % (POOL, first_seed, time.time() - t0), flush=True)

    model = DefaultNet()
    if init_state is not None:
        model.load_state_dict(init_state)
        print("resumed from %s after %d stage(s), %d steps" % (CKPT, stage_no, sum(st["steps"] for st in stages)),
              flush=True)
    print("params %d, conv MACs at %d: %.1f M" % (count_params(model), SCENE_SIZE, conv_flops(model) / 1e6),
          flush=True)
    opt = torch.optim.Adam(model.parameters(), lr=peak, weight_decay=WEIGHT_DECAY)
    weights = torch.tensor(CLASS_WEIGHTS)
    _, vimgs, vlabs = load_samples() if os.path.isdir(SAMPLES) else (None, None, None)
    t_train = time.time()
    ema = None

    def stage_record(done):
        return {"init": "checkpoint" if resume else "scratch", "steps": done, "planned_steps": steps,
                "peak_lr": peak, "warmup": warm, "seconds": round(time.time() - t0),
                "threads": torch.get_num_threads(), "scenes_generated": next_seed - first_seed,
                "first_scene_seed": first_seed}

    def save(done):
        all_stages = stages + [stage_record(done)]
        torch.save({"model": model.state_dict(), "step": sum(st["steps"] for st in all_stages),
                    "train_seconds": sum(st["seconds"] for st in all_stages),
                    "scenes_seen": sum(st["scenes_generated"] for st in all_stages),
                    "threads": torch.get_num_threads(), "stages": all_stages}, CKPT)

    step = 0
    while step < steps:
        lr = peak * (step + 1) / warm if step < warm else \
            0.5 * peak * (1 + math.cos(math.pi * (step - warm) / (steps - warm)))
        for g in opt.param_groups:
            g["lr"] = lr
        model.train()
        xb, yb = batch_from_pool(rng, imgs, labs)
        loss = F.cross_entropy(model(xb), yb, weight=weights)
        opt.zero_grad()
        loss.backward()
        opt.step()
        ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
        for _ in range(REFRESH_PER_STEP):  # keep the pool fresh: replace a few scenes with new ones
            j = int(rng.integers(0, POOL))
            imgs[j], labs[j] = scenes.make_scene(next_seed, SCENE_SIZE)
            next_seed += 1
        step += 1
        if opts["budget"] > 0 and step == warm:
            pace = (time.time() - t_train) / warm
            left = opts["budget"] - (time.time() - t0)
            steps = warm + max(1, int(0.93 * left / pace))
            print("budget: %.3f s/step over the warm-up, %.0f s left -> %d steps in all" % (pace, left, steps),
                  flush=True)
        if step % 50 == 0 or step == steps:
            msg = "step %d/%d loss %.4f lr %.5f elapsed %.0f s" % (step, steps, ema, lr, time.time() - t_train)
            if vimgs is not None and (step % 300 == 0 or step == steps):
                cm = confusion(predict_torch(model, vimgs), vlabs)
                msg += " samples-mIoU %.4f" % miou_from_confusion(cm)[0]
            print(msg, flush=True)
        if step % opts["save_every"] == 0 and step < steps:
            save(step)
    save(steps)
    print("trained %d steps in %.0f s (%d scenes generated)" % (steps, time.time() - t0, next_seed - first_seed),
          flush=True)


def load_model():
    ck = torch.load(CKPT, map_location="cpu")
    model = DefaultNet()
    model.load_state_dict(ck["model"])
    model.eval()
    return model, ck


def cmd_export(opts):
    model, _ = load_model()
    dummy = torch.zeros(1, 3, SCENE_SIZE, SCENE_SIZE)
    torch.onnx.export(model, dummy, ONNX_PATH, opset_version=13, input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "N", 2: "H", 3: "W"}, "logits": {0: "N", 2: "H", 3: "W"}},
                      do_constant_folding=True, training=torch.onnx.TrainingMode.EVAL)
    import onnx
    m = onnx.load(ONNX_PATH)
    out_dims = m.graph.output[0].type.tensor_type.shape.dim
    out_dims[1].Clear()
    out_dims[1].dim_value = NUM_CLASSES  # torch names it 'Resizelogits_dim_1'; it is the class count
    onnx.checker.check_model(m)
    ops = {}
    for n in m.graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    # metadata the apps can read without the card
    for k, v in (("classes", json.dumps(scenes.CLASSES)), ("palette", json.dumps(scenes.PALETTE)),
                 ("mean", json.dumps(MEAN)), ("std", json.dumps(STD)),
                 ("input", "image: float32 [N,3,H,W] RGB, (x/255 - mean)/std"),
                 ("output", "logits: float32 [N,%d,H,W]; argmax over C = class" % NUM_CLASSES)):
        e = m.metadata_props.add()
        e.key, e.value = k, v
    onnx.save(m, ONNX_PATH)
    print("export: %s (%d bytes), ops %s" % (ONNX_PATH, os.path.getsize(ONNX_PATH), json.dumps(ops)))


def cmd_eval(opts):
    model, ck = load_model()
    names, imgs, labs = load_samples()
    cm_t = confusion(predict_torch(model, imgs), labs)
    miou_t, ious_t = miou_from_confusion(cm_t)
    print("torch  mIoU on %d committed samples: %.4f  per class %s" % (len(names), miou_t,
                                                                       [round(v, 4) for v in ious_t]))
    res = {"torch_samples": miou_t}
    try:
        import onnxruntime as ort  # optional: Debian has no python3-onnxruntime; the node check covers it
        sess = ort.InferenceSession(ONNX_PATH)
        pred = np.concatenate([sess.run(["logits"], {"image": normalise(imgs[i:i + 1])})[0].argmax(1)
                               for i in range(len(imgs))]).astype(np.uint8)
        res["onnxruntime_samples"] = miou_from_confusion(confusion(pred, labs))[0]
    except ImportError:
        pass
    # a larger held-out set for the card: seeds after the committed ones, generated here
    extra_seeds = range(scenes.HELD_OUT_FIRST_SEED + 100, scenes.HELD_OUT_FIRST_SEED + 100 + EXTRA_EVAL_SCENES)
    cm_x = np.zeros_like(cm_t)
    for i in range(0, EXTRA_EVAL_SCENES, 10):
        chunk = [scenes.make_scene(s, SCENE_SIZE) for s in list(extra_seeds)[i:i + 10]]
        cm_x += confusion(predict_torch(model, np.stack([c[0] for c in chunk])), np.stack([c[1] for c in chunk]))
    miou_x, ious_x = miou_from_confusion(cm_x)
    print("torch  mIoU on %d more held-out scenes (seeds %d..%d): %.4f per class %s" % (
        EXTRA_EVAL_SCENES, extra_seeds[0], extra_seeds[-1], miou_x, [round(v, 4) for v in ious_x]))
    model_cpu = DefaultNet()
    info = {
        "name": "atrous-default-synthetic-v1",
        "file": "model.onnx",
        "input": {"name": "image", "dims": ["N", 3, "H", "W"], "type": "float32", "layout": "NCHW RGB",
                  "normalise": "(pixel / 255 - mean) / std", "mean": MEAN, "std": STD,
                  "trained_size": [CROP, CROP], "native_size": [SCENE_SIZE, SCENE_SIZE],
                  "size_note": "fully convolutional: any H, W (multiples of 8 keep the grids aligned)"},
        "output": {"name": "logits", "dims": ["N", NUM_CLASSES, "H", "W"], "type": "float32",
                   "decode": "argmax over C"},
        "classes": scenes.CLASSES,
        "palette": [list(c) for c in scenes.PALETTE],
        "samples": {"dir": "samples", "index": "samples/index.json", "count": len(names),
                    "image": "scene-XX.png (8-bit RGB)", "mask": "scene-XX.mask.png (8-bit grey, value = class index)"},
        "miou": {
            "definition": "confusion matrix summed over all pixels of all images; IoU per class = TP/(TP+FP+FN); "
                          "mIoU = mean over the %d classes (a class absent from both truth and prediction is "
                          "skipped)" % NUM_CLASSES,
            "samples_torch": round(miou_t, 4),
            "samples_per_class_torch": [round(v, 4) for v in ious_t],
            "held_out_%d_torch" % EXTRA_EVAL_SCENES: round(miou_x, 4),
            "held_out_%d_per_class_torch" % EXTRA_EVAL_SCENES: [round(v, 4) for v in ious_x],
        },
        "parameters": count_params(model_cpu),
        "conv_macs_256": conv_flops(model_cpu),
        "training": {"steps": ck.get("step"), "seconds": round(ck.get("train_seconds", 0)),
                     "threads": ck.get("threads"), "scenes_generated": ck.get("scenes_seen")},
    }
    if ck.get("stages"):  # a warm-restarted continuation: one entry per run, in order
        info["training"]["stages"] = ck["stages"]
    if "onnxruntime_samples" in res:
        info["miou"]["samples_onnxruntime_python"] = round(res["onnxruntime_samples"], 4)
    path = os.path.join(OUT, "model.json")
    # samples_onnxruntime_node is not carried over from an older model.json: it may describe another model.
    # Run `node models/verify_onnx_node.mjs --write` after this to record it for the current model.onnx.
    with open(path, "w") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    print("eval: wrote %s" % path)


def main(argv):
    opts = {"steps": 1800, "seed": 0, "threads": 1, "resume": 0, "lr": None, "warmup": 50, "budget": 0,
            "save_every": 200}
    floats = {"lr", "budget"}
    cmds = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("--"):
            key = a[2:].replace("-", "_")
            if key not in opts or i + 1 >= len(argv):
                raise SystemExit("unknown or incomplete option %r" % a)
            opts[key] = float(argv[i + 1]) if key in floats else int(argv[i + 1])
            i += 2
        else:
            cmds.append(a)
            i += 1
    torch.set_num_threads(opts["threads"])
    table = {"samples": cmd_samples, "train": cmd_train, "export": cmd_export, "eval": cmd_eval}
    if cmds == ["all"]:
        cmds = ["samples", "train", "export", "eval"]
    if not cmds or any(c not in table for c in cmds):
        print(__doc__)
        return 2
    os.makedirs(OUT, exist_ok=True)
    for c in cmds:
        table[c](opts)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

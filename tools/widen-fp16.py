#!/usr/bin/python3
"""Rewrite an fp16 ONNX model as the same network computed in float32, for use as a reference.

    /usr/bin/python3 tools/widen-fp16.py test/fixtures/models/isnet_fp16.onnx test/fixtures/models/isnet_fp32.onnx

float16 initializers and Constant values become float32 (every fp16 value is exact in float32), Cast-to-fp16
nodes cast to float32 instead, and fp16 value types become float32. Nothing else changes: same nodes, same
weights. Why: onnxruntime's CPU provider keeps an fp16 graph's activations in fp16 (measured on ISNet: its
outputs differ from its own float32 run of the same weights by up to 1.9e-3 of max |output|), while atrous
widens fp16 weights at load and computes in float32. Against this widened graph both compute in float32, so the
parity tests can hold atrous to 1e-4 on ISNet too. Prints the output path (cached by source size and mtime).
"""
import json
import os
import sys


def widen(src, dst):
    import numpy as np
    import onnx
    from onnx import TensorProto, numpy_helper

    model = onnx.load(src)
    g = model.graph
    changed = {'initializers': 0, 'constants': 0, 'casts': 0, 'value_types': 0}
    for t in g.initializer:
        if t.data_type == TensorProto.FLOAT16:
            t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float32), t.name))
            changed['initializers'] += 1
    for node in g.node:
        if any(a.g.node or a.graphs for a in node.attribute):
            raise SystemExit(f'{src}: node {node.name} ({node.op_type}) has a subgraph, which this tool does not rewrite')
        for a in node.attribute:
            if node.op_type == 'Cast' and a.name == 'to' and a.i == TensorProto.FLOAT16:
                a.i = TensorProto.FLOAT
                changed['casts'] += 1
            elif a.type == onnx.AttributeProto.TENSOR and a.t.data_type == TensorProto.FLOAT16:
                a.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(a.t).astype(np.float32), a.t.name))
                changed['constants'] += 1
    for vi in list(g.value_info) + list(g.input) + list(g.output):
        if vi.type.tensor_type.elem_type == TensorProto.FLOAT16:
            vi.type.tensor_type.elem_type = TensorProto.FLOAT
            changed['value_types'] += 1
    # No onnx.checker: ISNet itself fails it (its input Cast is node 643 of 734, after its users); onnxruntime
    # sorts the graph, and the parity test loads the result in onnxruntime anyway.
    tmp = f'{dst}.{os.getpid()}.tmp'
    onnx.save(model, tmp)
    os.replace(tmp, dst)
    return changed


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    src, dst = (os.path.abspath(p) for p in argv)
    st = os.stat(src)
    key = {'source': src, 'size': st.st_size, 'mtime_ns': st.st_mtime_ns}
    stamp = dst + '.json'
    if os.path.exists(dst) and os.path.exists(stamp):
        with open(stamp) as f:
            if json.load(f) == key:
                print(dst)
                return 0
    changed = widen(src, dst)
    with open(stamp, 'w') as f:
        json.dump(key, f)
    print(f'widened {os.path.basename(src)}: {changed}', file=sys.stderr)
    print(dst)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))

"""Writes the fuzzer's seed corpus (Tests/FuzzCorpus/seeds): small ONNX models built with
onnx.helper that exercise the reader (raw and typed tensor fields, symbolic dims, attributes,
sub-graphs, external-data markers) and the load-time compiler (conv, matmul, add, reshape chains).

    .venv/bin/python tools/fuzz_seeds.py
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "FuzzCorpus", "seeds")
rng = np.random.default_rng(0)


def f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def init(name, array, raw=True):
    t = numpy_helper.from_array(array, name)
    if not raw:  # typed repeated fields instead of raw_data
        t = helper.make_tensor(name, helper.np_dtype_to_tensor_dtype(array.dtype), array.shape, array.flatten().tolist())
    return t


def model(name, nodes, inputs, outputs, inits=(), opset=17):
    g = helper.make_graph(nodes, name, inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="tmrvc-fuzz-seeds")
    m.ir_version = 8
    data = m.SerializeToString()
    with open(os.path.join(OUT, name + ".onnx"), "wb") as f:
        f.write(data)
    return len(data)


def vi(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def main():
    os.makedirs(OUT, exist_ok=True)
    sizes = {}
    sizes["add"] = model("add", [helper.make_node("Add", ["x", "w"], ["y"])],
                         [vi("x", [2, 3])], [vi("y", [2, 3])], [init("w", f32(3))])
    sizes["add_typed"] = model("add_typed", [helper.make_node("Mul", ["x", "w"], ["t"]), helper.make_node("Sub", ["t", "x"], ["y"])],
                               [vi("x", [1, 4])], [vi("y", [1, 4])], [init("w", f32(4), raw=False)])
    sizes["arith_chain"] = model("arith_chain", [
        helper.make_node("Add", ["x", "a"], ["t1"]),
        helper.make_node("Mul", ["t1", "b"], ["t2"]),
        helper.make_node("Div", ["t2", "c"], ["t3"]),
        helper.make_node("Sub", ["t3", "x"], ["y"]),
    ], [vi("x", [1, "C", "T"])], [vi("y", [1, "C", "T"])],
        [init("a", f32(1, 1, 1)), init("b", f32(1)), init("c", np.full((1,), 2.0, np.float32))])
    sizes["reshape_chain"] = model("reshape_chain", [
        helper.make_node("Reshape", ["x", "s1"], ["r1"]),
        helper.make_node("Identity", ["r1"], ["r2"]),
        helper.make_node("Reshape", ["r2", "s2"], ["r3"], allowzero=0),
        helper.make_node("Shape", ["r3"], ["shp"], start=0, end=-1),
        helper.make_node("Add", ["r3", "r3"], ["y"]),
    ], [vi("x", [2, 3, 4])], [vi("y", [6, 4]), vi("shp", [1], TensorProto.INT64)],
        [init("s1", np.array([6, -1], np.int64)), init("s2", np.array([0, 4], np.int64), raw=False)])
    sizes["constant_fold"] = model("constant_fold", [
        helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(f32(2, 2))),
        helper.make_node("Constant", [], ["k"], value_floats=[1.0, 2.0]),
        helper.make_node("Constant", [], ["shape"], value_ints=[4]),
        helper.make_node("Add", ["c", "k"], ["ck"]),
        helper.make_node("Reshape", ["ck", "shape"], ["flat"]),
        helper.make_node("Mul", ["x", "flat"], ["y"]),
    ], [vi("x", [4])], [vi("y", [4])])
    sizes["conv"] = model("conv", [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[3], pads=[2, 0], dilations=[1], strides=[1], group=1),
        helper.make_node("Relu", ["c"], ["y"]),
    ], [vi("x", [1, 2, "T"])], [vi("y", [1, 4, "T"])], [init("w", f32(4, 2, 3)), init("b", f32(4))])
    sizes["conv_depthwise"] = model("conv_depthwise", [
        helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3], pads=[1, 1], group=4),
        helper.make_node("Add", ["c", "x"], ["y"]),
    ], [vi("x", [1, 4, 8])], [vi("y", [1, 4, 8])], [init("w", f32(4, 1, 3))])
    sizes["matmul"] = model("matmul", [
        helper.make_node("MatMul", ["x", "w"], ["m"]),
        helper.make_node("Add", ["m", "b"], ["y"]),
    ], [vi("x", [1, "T", 8])], [vi("y", [1, "T", 4])], [init("w", f32(8, 4)), init("b", f32(4))])
    sizes["gemm_reshape"] = model("gemm_reshape", [
        helper.make_node("Reshape", ["x", "s"], ["r"]),
        helper.make_node("Gemm", ["r", "w", "b"], ["g"], transB=1, alpha=0.5),
        helper.make_node("Reshape", ["g", "s2"], ["y"]),
    ], [vi("x", [2, 2, 3])], [vi("y", [2, 2, 2])],
        [init("s", np.array([-1, 3], np.int64)), init("w", f32(2, 3)), init("b", f32(2)),
         init("s2", np.array([2, 2, 2], np.int64))])
    # A sub-graph attribute and typed int/double fields for the reader.
    then_g = helper.make_graph([helper.make_node("Identity", ["x"], ["t"])], "then", [], [vi("t", [2])])
    else_g = helper.make_graph([helper.make_node("Neg", ["x"], ["e"])], "else", [], [vi("e", [2])])
    sizes["if_subgraph"] = model("if_subgraph", [
        helper.make_node("If", ["cond"], ["y"], then_branch=then_g, else_branch=else_g),
    ], [vi("x", [2]), vi("cond", [], TensorProto.BOOL)], [vi("y", [2])],
        [init("unused_d", np.array([1.5, 2.5]), raw=False), init("unused_i", np.array([1, 2, 3], np.int32), raw=False)])
    # ONNX Runtime's dynamic quantisation pattern: DynamicQuantizeLinear feeding MatMulInteger and
    # ConvInteger (constant int8 weights, zero zero points), cast and rescaled.
    q8 = lambda *shape: rng.integers(-64, 64, shape).astype(np.int8)
    sizes["quantized"] = model("quantized", [
        helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"]),
        helper.make_node("MatMulInteger", ["xq", "w", "xz", "wz"], ["mi"]),
        helper.make_node("Cast", ["mi"], ["mf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["mf", "xs"], ["y"]),
        helper.make_node("DynamicQuantizeLinear", ["c"], ["cq", "cs", "cz"]),
        helper.make_node("ConvInteger", ["cq", "k", "cz"], ["ci"], kernel_shape=[3], pads=[2, 0]),
        helper.make_node("Cast", ["ci"], ["z"], to=TensorProto.FLOAT),
    ], [vi("x", [1, 3, 8]), vi("c", [1, 4, 5])], [vi("y", [1, 3, 4]), vi("z", [1, 2, 5])],
        [init("w", q8(8, 4)), init("wz", np.zeros(4, np.int8)), init("k", q8(2, 4, 3))])
    total = sum(sizes.values())
    print(f"wrote {len(sizes)} seeds, {total} bytes, to {os.path.relpath(OUT)}")
    assert total < 1 << 20


if __name__ == "__main__":
    sys.exit(main())

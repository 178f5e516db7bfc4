"""Write an :class:`~middleware.ml.nn.MLP` as an ONNX graph, and check onnxruntime agrees with it.

Train-time only: imports the ``onnx`` package (the ``train`` extra). Run time never imports this
module; it loads the written file with onnxruntime alone.

The graph is the literal mirror of ``MLP.forward``: per layer ``MatMul -> Add -> activation``,
float32, a dynamic batch dimension, and string metadata (``metadata_props``) carrying what the
loader needs to check the model matches its scene (feature names, output names, versions).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np

from ..errors import ModelError
from .nn import MLP
from .sessions import session

OPSET = 17


def mlp_to_onnx(
    net: MLP,
    input_name: str,
    output_name: str,
    metadata: Mapping[str, object],
    graph_name: str,
    producer: str = "soundscape-middleware",
) -> bytes:
    """Serialised ONNX model for ``net`` (metadata values that are not strings are JSON-encoded)."""
    from onnx import TensorProto, checker, helper, numpy_helper

    nodes, inits = [], []
    cur = input_name
    last = len(net.W) - 1
    for i, (W, c, act) in enumerate(zip(net.W, net.b, net.acts, strict=True)):
        inits.append(numpy_helper.from_array(W.astype(np.float32), f"W{i}"))
        inits.append(numpy_helper.from_array(c.astype(np.float32), f"b{i}"))
        nodes.append(helper.make_node("MatMul", [cur, f"W{i}"], [f"mm{i}"]))
        pre = output_name if (i == last and act == "linear") else f"z{i}"
        nodes.append(helper.make_node("Add", [f"mm{i}", f"b{i}"], [pre]))
        if act != "linear":
            out = output_name if i == last else f"h{i}"
            nodes.append(helper.make_node("Tanh" if act == "tanh" else "Sigmoid", [pre], [out]))
            cur = out
        else:
            cur = pre
    n_in, n_out = net.W[0].shape[0], net.W[-1].shape[1]
    graph = helper.make_graph(
        nodes,
        graph_name,
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["N", n_in])],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["N", n_out])],
        inits,
    )
    model = helper.make_model(
        graph, producer_name=producer, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=8
    )
    for k, v in metadata.items():
        entry = model.metadata_props.add()
        entry.key = k
        entry.value = v if isinstance(v, str) else json.dumps(v)
    checker.check_model(model)
    return model.SerializeToString()


def verify(net: MLP, model: bytes, x: np.ndarray, tol: float = 1e-5) -> float:
    """Max |onnxruntime - training forward| over rows ``x``; raises ModelError above ``tol``.

    The reference is the float32-rounded network run in float64, so the difference measures the
    export and onnxruntime's float32 arithmetic, not the rounding of the weights.
    """
    sess = session(model)
    name = sess.get_inputs()[0].name
    got = sess.run(None, {name: np.asarray(x, dtype=np.float32)})[0]
    ref = net.as_float32().forward(np.asarray(x, dtype=np.float32).astype(np.float64))
    err = float(np.max(np.abs(got - ref))) if got.size else 0.0
    if not err <= tol:
        raise ModelError(f"ONNX export check failed: max |onnxruntime - training| = {err:.3g} > {tol:g}")
    return err

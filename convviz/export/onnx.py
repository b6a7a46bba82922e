"""An architecture and its weights as an ONNX model, written with the onnx package's own helpers
(onnx.helper, onnx.numpy_helper). onnx is imported only when a model is built: `pip install convviz[onnx]`.

The graph runs the plan in evaluation mode (batchnorm with its running statistics, dropout off). Each
leaf becomes the operators its declaration gives (LayerType.onnx_mapping), each container the
operator that merges its lanes (ContainerType.onnx_merge) fed by the lanes' last outputs (an empty lane
feeds the container's input straight through). Tensor names are the engine's keys: initializers
"3.body.1.weight" (float32, as in the weights file), a block's output "3.body.1", a mapping's
intermediate results and constants "3.body.1/flat".

Input "input": float32 images (N, depth, height, width), normalised as in training. Outputs, both
(N, classes): "logits", the class scores before the softmax (what the PyTorch export's Net returns and
what a loss or an argmax wants; a float32 softmax rounds the scores of a confident network to 0 and 1),
then "probabilities", the softmax of the logits, what the app shows.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..engine import compile_plan
from ..engine.files import atomic_write

OPSET = 21  # ONNX 1.16 (2024): run by onnxruntime 1.18 and later, and by the other current runtimes
INSTALL_HINT = "ONNX export needs the onnx package: pip install 'convviz[onnx]' (or pip install onnx)"


def onnx_model(arch, state: dict[str, np.ndarray], name: str = "convviz"):
    """The onnx.ModelProto of arch with state (arrays keyed like the weights file, checked to fit, e.g.
    by Network.set_state), checked by onnx.checker. ImportError with INSTALL_HINT without onnx."""
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError as e:
        raise ImportError(INSTALL_HINT) from e

    plan = compile_plan(arch)
    inputs = plan.nodes[0].volume
    tensor_of = {0: "input"}  # plan node id -> the name of its output tensor
    nodes, initializers = [], []

    def initializer(name: str, value: np.ndarray) -> str:
        value = np.asarray(value)
        initializers.append(numpy_helper.from_array(value.astype(np.float32 if value.dtype.kind == "f" else np.int64),
                                                    name))
        return name

    for node in plan.nodes[1:]:
        if node.is_merge:
            op_type, attributes = node.op.onnx_merge()
            nodes.append(helper.make_node(op_type, [tensor_of[i] for i in node.inputs], [node.key], name=node.key,
                                          **attributes))
            tensor_of[node.id] = node.key
            continue
        vol = node.in_volumes[0]
        mapping = node.op.onnx_mapping(node.hp, vol)
        names = {"x": tensor_of[node.inputs[0]]}
        for key in (*node.op.param_shapes(node.hp, vol), *node.op.buffer_shapes(node.hp, vol)):
            names[key] = initializer(f"{node.key}.{key}", state[f"{node.key}.{key}"])
        for key, value in mapping.constants.items():
            names[key] = initializer(f"{node.key}/{key}", value)
        is_classifier = node.id == len(plan.nodes) - 1
        for i, op in enumerate(mapping.nodes):
            last = i == len(mapping.nodes) - 1
            output = ("probabilities" if is_classifier else node.key) if last else f"{node.key}/{op.output}"
            nodes.append(helper.make_node(op.op_type, [names[n] for n in op.inputs], [output], name=output,
                                          **op.attributes))
            names[op.output] = output
        tensor_of[node.id] = names[mapping.nodes[-1].output]
    nodes.append(helper.make_node("Flatten", [tensor_of[plan.logits]], ["logits"], name="logits", axis=1))

    def value_info(name: str, *shape):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", *shape])

    graph = helper.make_graph(
        nodes, name, [value_info("input", inputs.depth, inputs.height, inputs.width)],
        [value_info("logits", plan.classes), value_info("probabilities", plan.classes)], initializers)
    opsets = [helper.make_opsetid("", OPSET)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="convviz",
                              doc_string=f"{name}: input float32 (N, {inputs.depth}, {inputs.height}, {inputs.width}) "
                                         f"images normalised as in training -> logits and probabilities "
                                         f"(N, {plan.classes})")
    model.ir_version = helper.find_min_ir_version_for(opsets)
    onnx.checker.check_model(model, full_check=True)
    return model


def write_onnx(arch, state: dict[str, np.ndarray], path, name: str | None = None) -> None:
    """Write the ONNX model of arch with state to path, atomically."""
    path = Path(path)
    model = onnx_model(arch, state, name or path.stem)
    with atomic_write(path) as f:
        f.write(model.SerializeToString())

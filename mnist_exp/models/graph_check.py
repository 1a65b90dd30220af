"""A SavedModel is code: its graph can hold ops that read and write files (`ReadFile`,
`WriteFile`, `Save`, ...), and they run when the graph does. Before TensorFlow loads one, every
op that loading and prediction can run is checked against NUMERIC_OPS, the ops of image
classifiers; anything else is refused, naming the op.

What can run: the functions the SavedModel's object graph names (its signatures, resource
initializers and restore functions are among them: for one meta graph with an object graph,
TensorFlow 2's `tf.saved_model.load` runs nothing else) and every function they call, by op
name or through a function-valued attribute (`StatefulPartitionedCall`, `If`, `While`, ...).
The variable-checkpoint functions the exporter writes beside them
(`__inference__traced_save_*`, with `SaveV2`) are reachable from none of those and never run.
A TensorFlow 1 SavedModel (no object graph) runs its main graph's init op when loaded, so it
is refused.
"""

from __future__ import annotations

from pathlib import Path

from mnist_exp.errors import MnistExpError


def _names(*lines: str) -> frozenset[str]:
    return frozenset(" ".join(lines).split())


NUMERIC_OPS = _names(
    # structure, calls, control flow and variables (state in memory, never files)
    "Const Identity IdentityN NoOp Placeholder PlaceholderWithDefault StopGradient "
    "PreventGradient Snapshot EnsureShape CheckNumerics Assert PartitionedCall "
    "StatefulPartitionedCall If StatelessIf While StatelessWhile Case StatelessCase "
    "ReadVariableOp VarHandleOp AssignVariableOp AssignAddVariableOp AssignSubVariableOp "
    "VarIsInitializedOp DisableCopyOnRead "
    # element-wise arithmetic and activations
    "Abs Add AddN AddV2 Sub Mul MulNoNan Div DivNoNan RealDiv FloorDiv FloorMod TruncateDiv "
    "Maximum Minimum Neg Reciprocal Sign Round Rint Floor Ceil Square SquaredDifference Sqrt "
    "Rsqrt Pow Exp Expm1 Log Log1p Sin Cos Tan Tanh Sigmoid Erf Relu Relu6 Elu Selu LeakyRelu "
    "Softplus Softsign Softmax LogSoftmax ClipByValue IsNan IsInf IsFinite Cast "
    # comparisons and logic
    "Equal NotEqual Greater GreaterEqual Less LessEqual LogicalAnd LogicalOr LogicalNot "
    "Select SelectV2 "
    # reductions
    "Sum Mean Max Min Prod All Any ArgMax ArgMin Cumsum Cumprod "
    # linear algebra and neural network layers
    "MatMul BatchMatMul BatchMatMulV2 BatchMatMulV3 Einsum BiasAdd Conv2D Conv3D "
    "Conv2DBackpropInput DepthwiseConv2dNative MaxPool MaxPoolV2 MaxPool3D AvgPool AvgPool3D "
    "FusedBatchNorm FusedBatchNormV2 FusedBatchNormV3 LRN ResizeBilinear ResizeNearestNeighbor "
    "ResizeBicubic ResizeArea MatrixBandPart "
    # shapes and arrays
    "Reshape Shape ShapeN Size Rank Pack Unpack Concat ConcatV2 Split SplitV Slice StridedSlice "
    "Squeeze ExpandDims Transpose Tile Pad PadV2 MirrorPad Gather GatherV2 GatherNd Fill "
    "ZerosLike OnesLike Range OneHot BroadcastTo BroadcastArgs BroadcastGradientArgs Reverse "
    "ReverseV2 TopKV2",
)


class UnsafeSavedModel(MnistExpError):
    """A SavedModel whose graph could do more than compute (files, network, processes)."""


def _called(node, library: dict) -> set[str]:
    """The library functions a node calls: its op, if that is one, and function attributes."""
    names = {node.op} & library.keys()
    for value in node.attr.values():
        if value.HasField("func"):
            names.add(value.func.name)
        names.update(function.name for function in value.list.func)
    return names


def runnable_ops(saved_model) -> dict[str, str]:
    """{op: the function it is in} for every op that loading `saved_model` (a SavedModel
    proto) and calling its functions can run."""
    graph = saved_model.meta_graphs[0]
    library = {function.signature.name: function for function in graph.graph_def.library.function}
    named = set(graph.object_graph_def.concrete_functions)
    for node in graph.object_graph_def.nodes:
        named.update(node.function.concrete_functions)
        named.add(node.bare_concrete_function.concrete_function_name)
    waiting = sorted(named & library.keys())
    seen, ops = set(waiting), {}
    while waiting:
        name = waiting.pop()
        for node in library[name].node_def:
            ops.setdefault(node.op, name)
            for called in _called(node, library) - seen:
                seen.add(called)
                waiting.append(called)
    return {op: where for op, where in ops.items() if op not in library}


def check_saved_model(directory: Path) -> None:
    """Raises UnsafeSavedModel unless every op the SavedModel in `directory` can run is in
    NUMERIC_OPS (read from saved_model.pb alone: nothing of the model runs)."""
    from google.protobuf.message import DecodeError
    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel()
    try:
        saved_model.ParseFromString((Path(directory) / "saved_model.pb").read_bytes())
    except (DecodeError, OSError) as error:
        raise UnsafeSavedModel(f"{directory} is not a readable SavedModel ({error}).") from None
    fix = "Use the run's model.keras, or export the SavedModel again from a run you trust."
    if len(saved_model.meta_graphs) != 1 or not saved_model.meta_graphs[0].HasField(
        "object_graph_def"
    ):
        raise UnsafeSavedModel(
            f"{directory} is a TensorFlow 1 SavedModel (no object graph), whose loading runs "
            f"graph code; mnist_exp runs only TensorFlow 2 SavedModels. {fix}"
        )
    refused = {op: where for op, where in runnable_ops(saved_model).items()
               if op not in NUMERIC_OPS}  # fmt: skip
    if refused:
        op, where = sorted(refused.items())[0]
        others = sorted(refused)[1:]
        also = f" (also: {', '.join(others[:5])})" if others else ""
        raise UnsafeSavedModel(
            f"{directory} runs the op '{op}' (in {where}){also}, which is not an op of an image "
            "classifier: a SavedModel's graph can read and write files, and this one is not "
            f"run. {fix}"
        )

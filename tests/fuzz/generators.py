"""Seeded generators of hostile input and the checks each case must pass (see the package docstring).

:func:`execute` builds case ``index`` of ``family`` from ``random.Random(f"{family}:{seed}:{index}")`` alone and
runs it: ``("ok", "")`` when rooflinekit accepted the input and every count or record check held, ``("typed",
message)`` for a :class:`~rooflinekit.errors.RooflineError`, ``("foreign", ...)`` for any other exception and
``("bad", ...)`` for a wrong result (a negative, NaN or non-integer count, a record lost or misplaced, a CLI exit
status other than 0 and 2).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import random
import traceback
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import numpy as np

HOSTILE_INTS = [-(2**63), -(2**31), -1, 0, 1, 2, 3, 7, 127, 2**31 - 1, 2**32, 2**53 + 1, 2**62, 2**63 - 1]
HOSTILE_VALUES: list[Any] = [True, False, None, -1, 0, 0.5, -0.0, 1e308, 10**400, float("nan"), "abc", "", "12 ms",
                             "1e999 GB/s", "²", [], {}, [1, 2], {"a": 1}, "x" * 300]


def _int(rng: random.Random) -> int:
    return rng.choice(HOSTILE_INTS) if rng.random() < 0.6 else rng.randint(-3, 40)


# ------------------------------------------------------------------------------------------------- checks


def check_cost(cost: Any) -> str | None:
    """Why the counted network ``cost`` is wrong, or None: every count column int64 and >= 0, totals Python ints
    equal to the exact column sums."""
    layers = cost.layers
    if layers.empty:
        for key, value in cost.totals.items():
            if value is not None and (not math.isfinite(value) or value < 0):
                return f"aggregate total {key} = {value}"
        return None
    for column in ("macs", "other_ops", "ops", "params", "weight_bytes", "input_bytes", "output_bytes",
                   "state_bytes"):
        if layers[column].dtype != np.int64:
            return f"column {column} has dtype {layers[column].dtype}"
        if (layers[column] < 0).any():
            return f"negative {column}"
    totals = cost.totals
    exact = sum(int(v) for v in layers["ops"].tolist())
    if totals["ops"] != exact or not isinstance(totals["ops"], int):
        return f"total ops {totals['ops']!r} is not the exact sum {exact}"
    macs, other = [int(v) for v in layers["macs"].tolist()], [int(v) for v in layers["other_ops"].tolist()]
    if any(int(o) != 2 * m + x for o, m, x in zip(layers["ops"].tolist(), macs, other)):
        return "ops != 2 * macs + other_ops"
    return None


def _run(action: Callable[[], str | None]) -> tuple[str, str]:
    from rooflinekit.errors import RooflineError

    try:
        problem = action()
    except RooflineError as exc:
        message = str(exc)
        if len(message) > 4000:
            return "bad", f"error message of {len(message)} characters: {message[:200]}"
        return "typed", f"{type(exc).__name__}: {message[:200]}"
    except RecursionError:
        return "foreign", "RecursionError"
    except Exception as exc:  # noqa: BLE001 - the point of the suite
        return "foreign", f"{type(exc).__name__}: {str(exc)[:200]} | {traceback.format_exc(limit=-3)[-600:]}"
    return ("bad", problem) if problem else ("ok", "")


def _count_and_check(network: Any) -> str | None:
    import rooflinekit as rk

    cost = rk.count_network(network)
    problem = check_cost(cost)
    if problem is None and not cost.layers.empty:
        prediction = rk.predict(network, "ZCU104-DPU", precision="int8", mode="layer")
        if not (math.isfinite(prediction.latency_s) and prediction.latency_s > 0):
            return f"latency {prediction.latency_s}"
    return problem


# --------------------------------------------------------------------------------------------------- ONNX


def _onnx_seeds(rng: random.Random) -> Any:
    from onnx import TensorProto, helper, numpy_helper

    def zeros(name: str, *dims: int) -> Any:
        return numpy_helper.from_array(np.zeros(dims, np.float32), name)

    def model(nodes: list, inputs: dict, inits: list = (), opset: int = 17) -> Any:
        graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, d)
                                               for n, d in inputs.items()],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                                  initializer=list(inits))
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])

    choice = rng.randrange(9)
    if choice == 0:
        return model([helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                                       strides=[1, 1]), helper.make_node("Relu", ["c"], ["y"])],
                     {"x": ["N", 3, 8, 8]}, [zeros("w", 4, 3, 3, 3), zeros("b", 4)])
    if choice == 1:
        return model([helper.make_node("Gemm", ["x", "w"], ["y"], transB=1)], {"x": [2, 16]}, [zeros("w", 10, 16)])
    if choice == 2:
        return model([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 2])],
                     {"x": [1, 3, 8, 8]})
    if choice == 3:
        return model([helper.make_node("MatMul", ["x", "w"], ["y"])], {"x": [2, 5, 8]}, [zeros("w", 8, 6)])
    if choice == 4:
        eq = rng.choice(["bij,bjk->bik", "ij,jk", "...ij,...jk->...ik", "ii->i", "ij->ji"])
        return model([helper.make_node("Einsum", ["x", "w"] if "," in eq else ["x"], ["y"], equation=eq)],
                     {"x": [2, 3, 3]} if eq.startswith(("b", ".")) else {"x": [3, 3]},
                     [zeros("w", 2, 3, 3) if eq.startswith(("b", ".")) else zeros("w", 3, 3)] if "," in eq else [],
                     opset=13)
    if choice == 5:
        return model([helper.make_node("Conv", ["x", "w"], ["y"], group=2, dilations=[2, 2], kernel_shape=[3, 3])],
                     {"x": [1, 4, 9, 9]}, [zeros("w", 6, 2, 3, 3)])
    if choice == 6:
        return model([helper.make_node("AveragePool", ["x"], ["a"], kernel_shape=[3], ceil_mode=1, strides=[2]),
                      helper.make_node("Flatten", ["a"], ["y"])], {"x": [1, 2, 10]})
    if choice == 7:
        return model([helper.make_node("Add", ["x", "w"], ["a"]), helper.make_node("Softmax", ["a"], ["y"])],
                     {"x": [1, 8]}, [zeros("w", 1, 8)])
    return model([helper.make_node("ConvTranspose", ["x", "w"], ["y"], kernel_shape=[2, 2], strides=[2, 2])],
                 {"x": [1, 4, 5, 5]}, [zeros("w", 4, 2, 2, 2)])


_EQUATION_ALPHABET = "abij.,->0 ABk>\u00e9"


def _onnx_structure_edit(rng: random.Random, model: Any) -> None:
    from onnx import AttributeProto, TensorProto, helper

    graph = model.graph
    edit = rng.randrange(8)
    node = rng.choice(list(graph.node))
    if edit == 0 and node.attribute:  # an attribute's values
        attribute = rng.choice(list(node.attribute))
        if attribute.type == AttributeProto.INTS:
            del attribute.ints[:]
            attribute.ints.extend(_int(rng) for _ in range(rng.choice([0, 1, 2, 3, 4, 6])))
        elif attribute.type == AttributeProto.INT:
            attribute.i = _int(rng)
        elif attribute.type == AttributeProto.STRING:
            attribute.s = "".join(rng.choice(_EQUATION_ALPHABET) for _ in range(rng.randint(0, 12))).encode()
    elif edit == 1:  # an attribute of another type, or of no type
        name = rng.choice(["strides", "kernel_shape", "pads", "group", "dilations", "transB", "axis", "equation"])
        attribute = node.attribute.add()
        attribute.name = name
        attribute.type = rng.choice([AttributeProto.FLOATS, AttributeProto.FLOAT, AttributeProto.STRING,
                                     AttributeProto.UNDEFINED, AttributeProto.INTS, AttributeProto.INT])
        if attribute.type == AttributeProto.FLOATS:
            attribute.floats.extend([1.5, -2.0])
        elif attribute.type == AttributeProto.INTS:
            attribute.ints.extend([_int(rng), _int(rng)])
        elif attribute.type == AttributeProto.INT:
            attribute.i = _int(rng)
    elif edit == 2 and graph.input:  # an input dim
        dims = graph.input[0].type.tensor_type.shape.dim
        if dims:
            dim = rng.choice(list(dims))
            if rng.random() < 0.7:
                dim.dim_value = max(_int(rng), -(2**62))
            else:
                dim.dim_param = rng.choice(["N", "", "batch", "x" * 200])
    elif edit == 3 and graph.initializer:  # an initializer's dims contradict its data
        tensor = rng.choice(list(graph.initializer))
        if tensor.dims:
            tensor.dims[rng.randrange(len(tensor.dims))] = rng.choice([0, 1, 2, 5, 2**31 - 1])
    elif edit == 4 and graph.initializer:  # external data
        tensor = rng.choice(list(graph.initializer))
        tensor.ClearField("raw_data")
        tensor.data_location = TensorProto.EXTERNAL
        for key, value in (("location", rng.choice(["/etc/passwd", "../../etc/hosts", "w.bin", "a/../../b",
                                                    "x" * 5000, "", "sub/../w.bin", "C:\\\\w.bin"])),
                           ("offset", rng.choice(["0", "-5", "x", str(2**70)])), ("length", "16")):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value
    elif edit == 5:  # an op type or domain
        node.op_type = rng.choice(["Conv", "Einsum", "Foo", "", "MaxPool", "Gemm", "Loop"])
    elif edit == 6 and len(node.input) > 1:  # inputs swapped or dangling
        if rng.random() < 0.5:
            node.input[0], node.input[1] = node.input[1], node.input[0]
        else:
            node.input[rng.randrange(len(node.input))] = "nowhere"
    else:  # an opset
        model.opset_import[0].version = rng.choice([1, 6, 9, 11, 13, 17, 21, 99])
    del helper


def _bytes_edit(rng: random.Random, data: bytes) -> bytes:
    data = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        kind = rng.randrange(4)
        if not data:
            break
        position = rng.randrange(len(data))
        if kind == 0:
            data[position] = rng.randrange(256)
        elif kind == 1:
            data[position] ^= 1 << rng.randrange(8)
        elif kind == 2:
            del data[position:position + rng.randint(1, 16)]
        else:
            data[position:position] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    if rng.random() < 0.1:
        data = data[:rng.randrange(len(data) + 1)]
    return bytes(data)


def onnx_case(rng: random.Random, folder: str) -> tuple[str, str]:
    from rooflinekit.importers import load_model

    model = _onnx_seeds(rng)
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        _onnx_structure_edit(rng, model)
    data = model.SerializeToString()
    if rng.random() < 0.25:
        data = _bytes_edit(rng, data)
    path = Path(folder) / "case.onnx"
    path.write_bytes(data)
    (Path(folder) / "w.bin").write_bytes(b"\0" * rng.choice([0, 8, 4096]))
    batch = rng.choice([None, None, 1, 2, 2**31 - 1, 2**62])
    return _run(lambda: _count_and_check(load_model(path, batch=batch)))


# ------------------------------------------------------------------------------------------------- TFLite


def tflite_case(rng: random.Random, folder: str) -> tuple[str, str]:
    from tflite_builder import SAME, VALID, Graph, Op, T, build_tflite, const

    from rooflinekit.importers import load_model

    def dim(value: int) -> int:
        return rng.choice(HOSTILE_INTS[2:]) if rng.random() < 0.15 else value

    def shape(*dims: int) -> tuple[int, ...]:
        out = tuple(dim(d) for d in dims)
        if rng.random() < 0.08:
            out = out[1:] if rng.random() < 0.5 else out + (1,)
        return tuple(max(d, 0) if rng.random() < 0.9 else d for d in out)

    def weight(*dims: int) -> T:
        tensor = const(dims)  # data of the sound shape; the declared shape may then contradict it
        tensor.shape = shape(*dims)
        return tensor

    def stride() -> int:
        return rng.choice([1, 1, 2, 127, -1, 0, 2**31 - 1])

    choice = rng.randrange(5)
    padding = rng.choice([SAME, VALID, 7])
    if choice == 0:
        s = stride()
        tensors = [T(shape(1, 8, 8, 3)), weight(4, 3, 3, 3), const((4,)), T(shape(1, 8, 8, 4))]
        op = Op("CONV_2D", [0, 1, 2], [3], ("Conv2DOptions", {"Padding": padding, "StrideW": s, "StrideH": stride(),
                                                               "DilationWFactor": rng.choice([1, 1, 2, 0, -3]),
                                                               "DilationHFactor": 1}))
    elif choice == 1:
        tensors = [T(shape(1, 8, 8, 4)), weight(1, 3, 3, 4), T(shape(1, 8, 8, 4))]
        op = Op("DEPTHWISE_CONV_2D", [0, 1], [2], ("DepthwiseConv2DOptions", {
            "Padding": padding, "StrideW": stride(), "StrideH": 1, "DepthMultiplier": rng.choice([1, 2, 0, -1]),
            "DilationWFactor": 1, "DilationHFactor": 1}))
    elif choice == 2:
        tensors = [T(shape(1, 16)), weight(10, 16), T(shape(1, 10))]
        op = Op("FULLY_CONNECTED", [0, 1], [2], None)
    elif choice == 3:
        k = rng.choice([2, 3, 0, -1, 127])
        tensors = [T(shape(1, 8, 8, 3)), T(shape(1, 4, 4, 3))]
        op = Op(rng.choice(["MAX_POOL_2D", "AVERAGE_POOL_2D"]), [0], [1], ("Pool2DOptions", {
            "Padding": padding, "StrideW": stride(), "StrideH": 2, "FilterWidth": k, "FilterHeight": 2}))
    else:
        tensors = [T(shape(1, 8)), T(shape(1, 8)), T(shape(1, 8))]
        op = Op(rng.choice(["ADD", "MUL", "SOFTMAX"]), [0, 1] if rng.random() < 0.7 else [0], [2], None)
    graph = Graph(tensors, [op], [i for i in op.inputs if not tensors[i].data], op.outputs)
    try:
        data = build_tflite(graph)
    except (Exception, OverflowError):  # noqa: BLE001 - the builder refuses some values (negative dims)
        data = build_tflite(Graph([T((1, 8)), T((1, 8))], [Op("RELU", [0], [1], None)], [0], [1]))
    if rng.random() < 0.4:
        data = _bytes_edit(rng, data)
    path = Path(folder) / "case.tflite"
    path.write_bytes(data)
    batch = rng.choice([None, None, 1, 3, 2**62])
    return _run(lambda: _count_and_check(load_model(path, batch=batch)))


# --------------------------------------------------------------------------------------------- specs / YAML


@lru_cache(maxsize=None)
def _base_specs() -> tuple[dict, dict]:
    import rooflinekit as rk

    hardware = rk.get_hardware("NUCLEO-F767ZI").model_dump(mode="json", exclude_none=True)
    network = rk.get_network("LeNet-MNIST").model_dump(mode="json", exclude_none=True)
    return hardware, network


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _paths(item, prefix + (i,))
    return found


def _set(document: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    holder = document
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = value
    return document


def spec_case(rng: random.Random, folder: str) -> tuple[str, str]:
    import yaml

    import rooflinekit as rk
    from rooflinekit.catalog import load_hardware_file, load_network_file

    hardware, network = (json.loads(json.dumps(s)) for s in _base_specs())
    is_hardware = rng.random() < 0.5
    spec = hardware if is_hardware else network
    for _ in range(rng.choice([0, 1, 1, 2])):
        path = rng.choice(_paths(spec)[1:])
        value = rng.choice(HOSTILE_VALUES + [_int(rng)])
        if isinstance(value, float) and math.isnan(value):
            value = ".nan"
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**300:
            value = str(value)
        if rng.random() < 0.1:
            spec[rng.choice(["extra", "peak_ops_per_s", "layers"])] = value
        else:
            spec = _set(spec, path, value)
    key = "hardware" if is_hardware else "networks"
    text = yaml.safe_dump({key: [spec]}, allow_unicode=True, sort_keys=False).replace("'.nan'", ".nan")
    mode = rng.randrange(10)
    if mode == 0:
        levels = rng.randint(3, 15)
        lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
        text = "\n".join(lines) + f"\n{key}: [*a{levels - 1}]\n"
    elif mode == 1:
        depth = rng.choice([10, 70, 1000, 20000])
        text = f"{key}: " + "[" * depth + "]" * depth
    elif mode == 2:
        text = text.replace("name:", "name: !!python/object/apply:os.system ['true'] #", 1)
    data = text.encode("utf-8")
    if mode == 3:
        data = _bytes_edit(rng, data)
    elif mode == 4:
        data = data + b"\n\xff\xfe"
    path = Path(folder) / "spec.yaml"
    path.write_bytes(data)

    def action() -> str | None:
        if is_hardware:
            for spec_ in load_hardware_file(path):
                prediction = rk.predict("LeNet-MNIST", spec_, mode=rng.choice(["network", "layer"]))
                if not (math.isfinite(prediction.fps) and prediction.fps > 0):
                    return f"fps {prediction.fps}"
            return None
        for spec_ in load_network_file(path):
            problem = check_cost(rk.count_network(spec_))
            if problem:
                return problem
        return None

    return _run(action)


# ------------------------------------------------------------------------------------------------ records


@lru_cache(maxsize=None)
def _predictions() -> Any:
    import rooflinekit as rk

    return rk.sweep(["ResNet-50", "MobileNetv1"], ["ZCU104-DPU", "EdgeTPU-fast"], ["int8"], [1, 8])


def records_case(rng: random.Random, folder: str) -> tuple[str, str]:
    import pandas as pd

    from rooflinekit.compare import align
    from rooflinekit.compare.loaders.generic import load_table

    header = ["hardware", "network", "precision", "batch", "latency_s", "throughput_fps", "pruning_pct"]
    if rng.random() < 0.2:
        header.append(rng.choice(["notes", "hardware", "", "batch"]))
    cells = {
        "hardware": ["ZCU104-DPU", "EdgeTPU-fast", "edge tpu", "", "NA", "²", "x" * 200],
        "network": ["ResNet-50", "MobileNetv1", "RN50", "", "Mobile\nNet", "a,b"],
        "precision": ["int8", "INT8", "fp32", "", "int99"],
        "batch": ["1", "8", "0", "-1", "1.5", str(2**70), "nan", "x", "", "1e400", "2147483648"],
        "latency_s": ["0.01", "12 ms", "-1", "nan", "inf", "1e400", "", "abc", "0"],
        "throughput_fps": ["100", "5 kfps", "", "-3", "1e308", "fast"],
        "pruning_pct": ["100", "80", "0", "101", "eighty", "", "nan"],
        "notes": ["", "x", "\"quoted\""], "": ["", "1"],
    }
    lines = [",".join(header)]
    expected: list[int] = []  # the line each data row starts on
    line = 1
    for _ in range(rng.randint(0, 12)):
        if rng.random() < 0.15:
            lines.append("")
            line += 1
        row = []
        for column in header:
            value = rng.choice(cells[column])
            if any(c in value for c in ",\n\"") or rng.random() < 0.1:
                value = '"' + value.replace('"', '""') + '"'
            row.append(value)
        if rng.random() < 0.05:
            row.append("extra")
        text = ",".join(row)
        if not text.replace(",", "").replace('"', "").strip():
            continue  # an all-blank row is a blank line to every CSV reader
        expected.append(line + 1)
        line += 1 + text.count("\n")
        lines.append(text)
    data = ("\n".join(lines) + ("\n" if rng.random() < 0.8 else "")).encode("utf-8")
    if rng.random() < 0.15:
        data = _bytes_edit(rng, data)
        expected = []  # unknown after byte edits: only conservation is checked when the file is read
    path = Path(folder) / "t.csv"
    path.write_bytes(data)

    def action() -> str | None:
        result = load_table(path)
        if not result.unreadable_files.empty:
            return None
        n = len(result.records) + len(result.rejected)
        if expected and n != len(expected):
            return f"{len(expected)} rows written, {n} records + rejected"
        if expected:
            found = sorted(int(str(s).rsplit(":", 1)[1]) for s in
                           pd.concat([result.records.source, result.rejected.source]))
            if found != expected:
                return f"provenance {found} != {expected}"
        records = result.records
        if records.empty:
            return None
        aligned = align(_predictions(), records)
        if len(aligned.matched.record_index.unique()) + len(aligned.unmatched_records) != len(records):
            return "align lost or duplicated records"
        if (aligned.matched.efficiency_pct.isna() | (aligned.matched.efficiency_pct <= 0)).any():
            return "efficiency not positive"
        return None

    return _run(action)


# ---------------------------------------------------------------------------------------------------- CLI


def cli_case(rng: random.Random, folder: str) -> tuple[str, str]:
    from rooflinekit.cli import main

    out = str(Path(folder) / rng.choice(["a.png", "a.svg", "a.txt", "missing/a.png", ""]))
    value = lambda: rng.choice(["1", "8", "0", "-5", str(2**62), "²", "x", "", "1.5", "2**70",  # noqa: E731
                                "input=1,3,224,224", "x=-1,3", "x=²", "x=" + "9" * 30])
    commands = [
        ["count", rng.choice(["LeNet-MNIST", "ResNet-50 80%", "nope", "model.onnx", ""])],
        ["predict", rng.choice(["LeNet-MNIST", "ResNet-50"]), "--hardware", rng.choice(["ZCU104-DPU", "x", ""])],
        ["sweep", "--models", rng.choice(["LeNet-MNIST", "x,,y", ""]), "--hardware", "ZCU104-DPU", "--batches",
         rng.choice(["1,8", "0", "x", str(2**62), "1,-1"])],
        ["hardware", rng.choice(["list", "show", "nope"])],
        ["plot", "layers", "LeNet-MNIST", "--hardware", "NUCLEO-F767ZI", "--out", out],
    ]
    argv = list(rng.choice(commands))
    for _ in range(rng.randint(0, 3)):
        argv += [rng.choice(["--batch", "--precision", "--input-shape", "--dpi", "--format", "--mode"]), value()]

    def action() -> str | None:
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                code = main(argv)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 2
        if code not in (0, 2):
            return f"exit status {code} for {argv}"
        if "Traceback" in stderr.getvalue():
            return f"traceback for {argv}"
        return None

    return _run(action)


FAMILIES: dict[str, Callable[[random.Random, str], tuple[str, str]]] = {
    "onnx": onnx_case, "tflite": tflite_case, "spec": spec_case, "records": records_case, "cli": cli_case}


def execute(family: str, seed: int, index: int, folder: str) -> tuple[str, str]:
    """Build and run case ``index`` of ``family`` (deterministic in ``seed`` and ``index``)."""
    rng = random.Random(f"{family}:{seed}:{index}")
    return FAMILIES[family](rng, folder)

"""The nine MLPerf Tiny reference models import exactly: MACs, precision, weight bytes, a prediction.

Expected MACs are the table of ``../shared/data/mlperf_tiny/README.md``; weight bytes are recomputed here from the
flatbuffer's constant tensors, independently of the importer. Skipped when ``../shared`` is absent.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import pytest

tflite = pytest.importorskip("tflite")
from tflite.utils import BUILTIN_OPCODE2NAME  # noqa: E402

import rooflinekit  # noqa: E402
from rooflinekit.counters import count_network  # noqa: E402
from rooflinekit.descriptors import HardwareSpec, LayerNetwork  # noqa: E402
from rooflinekit.errors import UnknownNameError  # noqa: E402
from rooflinekit.importers.tflite import load_tflite, subgraph_summary  # noqa: E402

MODELS = Path(__file__).resolve().parents[2] / "shared/data/mlperf_tiny/models"

# file -> (MACs per inference from the README table, precision label)
EXPECTED: dict[str, tuple[int, str]] = {
    "kws_ref_model.tflite": (2_656_768, "int8"),
    "kws_ref_model_float32.tflite": (2_656_768, "W-int8_A-fp32"),
    "vww_96_int8.tflite": (7_489_664, "int8"),
    "vww_96_float.tflite": (7_489_664, "fp32"),
    "pretrainedResnet_quant.tflite": (12_501_632, "int8"),
    "pretrainedResnet.tflite": (12_501_632, "fp32"),
    "ad01_int8.tflite": (264_192, "int8"),
    "ad01_fp32.tflite": (264_192, "fp32"),
    "str_ww_ref_model.tflite": (826_368, "int8"),
}


def _model(name: str) -> Path:
    path = MODELS / name
    if not path.is_file():
        pytest.skip(f"{path} is absent (the ../shared data folder is not checked out)")
    return path


def _constant_weight_bytes(path: Path) -> int:
    """Bytes of subgraph 0's constant tensors, except RESHAPE's target-shape operand (an attribute)."""
    model = tflite.Model.GetRootAs(path.read_bytes(), 0)
    graph = model.Subgraphs(0)
    reshape_shapes = set()
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        if BUILTIN_OPCODE2NAME[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())] == "RESHAPE":
            reshape_shapes.add(op.Inputs(1))
    return sum(model.Buffers(graph.Tensors(t).Buffer()).DataLength() for t in range(graph.TensorsLength())
               if t not in reshape_shapes)


@pytest.fixture(scope="module")
def networks() -> dict[str, LayerNetwork]:
    """Each available model imported once."""
    return {name: load_tflite(MODELS / name) for name in EXPECTED if (MODELS / name).is_file()}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_macs_match_the_readme(name: str, networks: dict[str, LayerNetwork]) -> None:
    _model(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no unsupported op, no import warning
        cost = count_network(networks[name])
    assert cost.unsupported_ops == {}
    assert cost.totals["macs"] == EXPECTED[name][0]


@pytest.mark.parametrize("name", list(EXPECTED))
def test_precision_is_detected(name: str, networks: dict[str, LayerNetwork]) -> None:
    _model(name)
    assert networks[name].precision.label == EXPECTED[name][1]


@pytest.mark.parametrize("name", list(EXPECTED))
def test_weight_bytes_are_the_constant_buffers(name: str, networks: dict[str, LayerNetwork]) -> None:
    path = _model(name)
    assert count_network(networks[name]).totals["weight_bytes"] == _constant_weight_bytes(path)


def test_hybrid_kws_keeps_fp32_layers_apart(networks: dict[str, LayerNetwork]) -> None:
    """kws_ref_model_float32 stores the standard convs' weights in int8, the depthwise and dense ones in fp32."""
    _model("kws_ref_model_float32.tflite")
    net = networks["kws_ref_model_float32.tflite"]
    own = {layer.precision.label for layer in net.layers if layer.precision is not None}
    assert own == {"fp32"}
    assert sum(layer.precision is not None for layer in net.layers) == 5  # 4 depthwise + 1 dense


def test_one_subgraph_is_counted() -> None:
    summary = subgraph_summary(_model("vww_96_int8.tflite"))
    assert [(s.index, s.counted) for s in summary] == [(0, True)]
    assert summary[0].operators == 31


def test_dynamic_batch_scales_macs() -> None:
    net = load_tflite(_model("kws_ref_model.tflite"), batch=3)
    assert net.batch == 3
    assert count_network(net).totals["macs"] == 3 * 2_656_768


def _board() -> HardwareSpec:
    """The MLPerf Tiny reference board from the catalog, or an equivalent inline spec (120 MHz Cortex-M4F)."""
    try:
        return rooflinekit.get_hardware("NUCLEO-L4R5ZI")
    except UnknownNameError:
        return HardwareSpec(
            name="NUCLEO-L4R5ZI", kind="MCU", peak_ops_per_s={"int8": 480e6, "fp32": 240e6},
            memories=[{"name": "Flash", "capacity_bytes": 2 * 2**20, "bandwidth_bytes_per_s": 960e6,
                       "on_chip": True, "stores": ["weights"], "source": "test"},
                      {"name": "SRAM", "capacity_bytes": 640 * 2**10, "bandwidth_bytes_per_s": 480e6,
                       "on_chip": True, "stores": ["activations"], "source": "test"}],
            source="test: STM32L4R5 datasheet figures")


def test_predict_vww_int8_on_the_reference_board(networks: dict[str, LayerNetwork]) -> None:
    _model("vww_96_int8.tflite")
    prediction = rooflinekit.predict(networks["vww_96_int8.tflite"], _board(), mode="layer",
                                     traffic="weights_and_activations")
    assert prediction.precision == "int8"
    assert prediction.ops == count_network(networks["vww_96_int8.tflite"]).totals["ops"]
    assert 0 < prediction.latency_s < 1 and math.isfinite(prediction.fps)

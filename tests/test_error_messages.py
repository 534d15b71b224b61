"""Message pins for the rooflinekit errors that no other test pinned with ``pytest.raises(..., match=...)``.

One test per raise site (a few sites share a test when one input reaches them in turn), each triggered through the
public API. The patterns pin what the project promises of every message: what failed, the offending value taken
from the input given here, and what to do. Grouped by the module that raises.

Not here: the SpecError that ``sweep`` raises and catches in the same loop (roofline/predictor.py) and the
CalibrationError for an unresolvable network, which ``calibration_features`` catches per record
(compare/calibrate.py). Neither escapes; their messages are pinned where they surface, in the sweep's ``status``
(tests/test_predictor.py) and in the skipped records' ``reason`` (tests/test_calibrate.py).
"""

from __future__ import annotations

import importlib.util
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from onnx_builder import save_onnx, zeros
from rooflinekit.catalog import HardwareCatalog, load_hardware_file, load_network_file, network_catalog
from rooflinekit.cli import build_parser, resolve_model
from rooflinekit.compare.calibrate import CalibratedPredictor, predict_with_calibration
from rooflinekit.counters import count_network
from rooflinekit.descriptors import AggregateNetwork, HardwareSpec, Layer, LayerNetwork
from rooflinekit.descriptors.builder import NetworkBuilder
from rooflinekit.errors import (CalibrationError, ModelFileError, PrecisionError, ShapeError, SpecError,
                                UnknownNameError)
from rooflinekit.importers import load_model
from rooflinekit.roofline import predict

HW = HardwareSpec(name="toy", kind="MCU", peak_ops_per_s={"int8": 1e9}, source="test",
                  memories=[{"name": "SRAM", "capacity_bytes": 1e6, "bandwidth_bytes_per_s": 1e9, "on_chip": True,
                             "source": "test"}])


def run_cli(*argv: str) -> None:
    """Parse ``argv`` with the real CLI parser and run the command without main()'s error printing."""
    args = build_parser().parse_args(list(argv))
    args.run(args)


def network_of(*layers: Layer) -> LayerNetwork:
    return LayerNetwork(name="n", layers=layers, precision="int8", source="test")


# --- cli.py -------------------------------------------------------------------------------------------------------

def test_cli_input_shape_without_equals_sign():
    with pytest.raises(SpecError, match=r"^--input-shape 'x': write NAME=D1,D2,\.\.\. e\.g\. input=1,3,224,224$"):
        resolve_model("LeNet-MNIST", input_shapes=["x"])


def test_cli_input_shape_on_a_catalog_network():
    with pytest.raises(SpecError, match=r"^--input-shape applies to model files; 'LeNet-MNIST' is a catalog network "
                                        r"with fixed shapes$"):
        resolve_model("LeNet-MNIST", input_shapes=["x=1,1,28,28"])


def test_cli_sweep_batches_not_numbers():
    with pytest.raises(SpecError, match=r"^--batches '1,eight': write whole numbers separated by commas, e\.g\. "
                                        r"1,8,64$"):
        run_cli("sweep", "--models", "CNV", "--hardware", "ZCU104-FINN", "--batches", "1,eight")


def test_cli_show_without_a_name():
    with pytest.raises(SpecError, match=r"^'hardware show' needs a NAME; list them with 'rooflinekit hardware list'$"):
        run_cli("hardware", "show")


# --- plots_cli.py -------------------------------------------------------------------------------------------------

@pytest.fixture
def efficiency_csv(tmp_path: Path) -> Path:
    path = tmp_path / "records.csv"
    pd.DataFrame({"hardware": ["A"], "network": ["N"], "precision": ["int8"], "predicted_fps": [10.0],
                  "measured_fps": [5.0]}).to_csv(path, index=False)
    return path


def test_plot_cli_axes_option(efficiency_csv, tmp_path):
    with pytest.raises(SpecError, match=r"^--log 'x,z': write x, y or x,y$"):
        run_cli("plot", "pareto", "--records", str(efficiency_csv), "--x", "predicted_fps", "--y", "measured_fps",
                "--log", "x,z", "--out", str(tmp_path / "p.png"))


def test_plot_cli_records_file_missing(tmp_path):
    from rooflinekit.plots import PlotError

    missing = tmp_path / "none.csv"
    with pytest.raises(PlotError, match=rf"^--records {re.escape(repr(str(missing)))}: no such file; give a CSV file "
                                        r"with the documented columns$"):
        run_cli("plot", "efficiency", "--records", str(missing), "--out", str(tmp_path / "e.png"))


def test_plot_cli_records_file_not_csv(tmp_path):
    from rooflinekit.plots import PlotError

    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")  # pandas: "No columns to parse from file"
    with pytest.raises(PlotError, match=rf"^--records {re.escape(repr(str(empty)))} is not a readable CSV: "
                                        r"No columns to parse from file$"):
        run_cli("plot", "efficiency", "--records", str(empty), "--out", str(tmp_path / "e.png"))


def test_plot_cli_roofline_with_an_empty_hardware_list(tmp_path):
    with pytest.raises(SpecError, match=r"^plot roofline needs --hardware NAME\[,NAME\.\.\.\]; list them with "
                                        r"'rooflinekit hardware list'$"):
        run_cli("plot", "roofline", "--hardware", ",", "--out", str(tmp_path / "r.png"))


# --- catalog.py ---------------------------------------------------------------------------------------------------

def test_catalog_file_not_yaml(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("hardware: [unclosed\n", encoding="utf-8")
    # the YAML parser's explanation spans lines; the CLI joins them into one
    with pytest.raises(SpecError, match=r"(?s)^bad\.yaml: not valid YAML \(.*expected ',' or '\]'.*\); fix the "
                                        r"file's syntax$"):
        load_hardware_file(path)


def test_catalog_file_without_the_top_level_list(tmp_path):
    path = tmp_path / "nets.yaml"
    path.write_text("hardware: []\n", encoding="utf-8")
    with pytest.raises(SpecError, match=r"^nets\.yaml: expected a top-level 'networks:' list of specs$"):
        load_network_file(path)


def test_catalog_entry_that_fails_validation_is_named(tmp_path):
    path = tmp_path / "hw.yaml"
    path.write_text("hardware:\n  - name: board-x\n    kind: MCU\n", encoding="utf-8")
    # given only name and kind, the other required fields of HardwareSpec are each reported, one line per field
    with pytest.raises(SpecError, match=r"(?s)^hw\.yaml: board-x: \d+ invalid fields\n(.*\n)?"
                                        r"memories: required field is missing; add it\n(.*\n)?"
                                        r"source: required field is missing; add it$") as caught:
        load_hardware_file(path)
    assert "pydantic" not in str(caught.value) and caught.value.field is not None


def test_catalog_name_claimed_twice():
    # specs are indexed in name order: 'other' claims 'toy' (its alias) before the spec named toy does
    twin = HW.model_copy(update={"name": "other", "aliases": ("TOY",)})
    with pytest.raises(SpecError, match=r"^name 'toy' is claimed by two specs: 'other' and 'toy'$"):
        HardwareCatalog([HW, twin])


def test_catalog_unknown_hardware_suggests_close_names():
    # difflib ratio 2 * matches / total length: 'toy' 6 / 7 = 0.86, 'toy-2' 6 / 9 = 0.67; closest first
    catalog = HardwareCatalog([HW, HW.model_copy(update={"name": "toy-2"})])
    with pytest.raises(UnknownNameError, match=r"^unknown hardware 'toy3'; did you mean toy, toy-2\? "
                                               r"\(list them with 'rooflinekit hardware list'\)$"):
        catalog.get("toy3")


def test_catalog_unknown_model():
    with pytest.raises(UnknownNameError, match=r"^unknown model 'NoSuchNet' \(list them with 'rooflinekit models "
                                               r"list'\)$"):
        network_catalog().get("NoSuchNet")


# --- descriptors/builder.py ---------------------------------------------------------------------------------------

def test_builder_add_of_different_shapes():
    builder = NetworkBuilder("n", input_shape=(3, 8, 8))
    a = builder.conv(4, 1, name="a")
    b = builder.conv(6, 1, src="input", name="b")
    with pytest.raises(ShapeError, match=r"^cannot add a \(1, 4, 8, 8\) and b \(1, 6, 8, 8\)$"):
        builder.add(a, b)


# --- counters -----------------------------------------------------------------------------------------------------

def test_counter_pool_without_kernel_shape():
    layer = Layer(name="mp", op="max_pool", inputs=((1, 2, 4, 4),), outputs=((1, 2, 2, 2),))
    with pytest.raises(ShapeError, match=r"^pooling layer 'mp' has no 'kernel_shape' attribute$"):
        count_network(network_of(layer))


def test_counter_conv_without_kernel_shape():
    layer = Layer(name="c", op="conv", inputs=((1, 2, 4, 4),), outputs=((1, 2, 4, 4),), weights=((2, 2, 1, 1),))
    with pytest.raises(ShapeError, match=r"^conv layer 'c' has no 'kernel_shape' attribute$"):
        count_network(network_of(layer))


def test_counter_layer_without_input_shape():
    layer = Layer(name="c", op="conv", outputs=((1, 2, 4, 4),), attrs={"kernel_shape": [1, 1]})
    with pytest.raises(ShapeError, match=r"^layer 'c' \(conv\) has no input shape; the counter needs one$"):
        count_network(network_of(layer))


def test_counter_einsum_without_equation():
    layer = Layer(name="e", op="einsum", inputs=((2, 3), (3, 4)), outputs=((2, 4),))
    with pytest.raises(ShapeError, match=r"^einsum layer 'e' lacks the 'equation' attribute \(e\.g\. 'bij,bjk->bik'\) "
                                         r"its counter reads; got None$"):
        count_network(network_of(layer))


def test_counter_rnn_missing_attribute():
    layer = Layer(name="r", op="lstm", inputs=((5, 1, 3),), outputs=((5, 1, 4),),
                  attrs={"batch": 1, "input_size": 3, "hidden_size": 4})
    with pytest.raises(ShapeError, match=r"^lstm layer 'r' lacks attribute 'seq_len'$"):
        count_network(network_of(layer))


# --- roofline/predictor.py ----------------------------------------------------------------------------------------

def test_predict_a_network_without_ops_or_bytes():
    # a reshape is a view (no ops, no bytes) and has no weights: weights_only traffic moves nothing
    net = network_of(Layer(name="v", op="reshape", inputs=((1, 4),), outputs=((2, 2),)))
    with pytest.raises(SpecError, match=r"^n has no ops and moves no bytes at int8; nothing to predict$"):
        predict(net, HW)


# --- plots --------------------------------------------------------------------------------------------------------

def test_plot_efficiency_without_a_positive_throughput():
    pytest.importorskip("matplotlib")
    from rooflinekit.plots import PlotError, plot_efficiency

    df = pd.DataFrame({"hardware": ["A", "B"], "network": ["N", "N"], "precision": ["int8", "int8"],
                       "predicted_fps": [0.0, np.nan], "measured_fps": [-1.0, np.inf]})
    with pytest.raises(PlotError, match=r"^plot_efficiency: no positive, finite throughput in "
                                        r"predicted_fps/measured_fps/peak_fps$"):
        plot_efficiency(df)


def test_plot_layers_repeated_measured_names():
    pytest.importorskip("matplotlib")
    from rooflinekit.plots import PlotError, plot_layers

    layers = pd.DataFrame({"name": ["a", "b"], "time_s": [1e-3, 2e-3], "bound": ["compute", "compute"]})
    measured = pd.DataFrame({"name": ["b", "a", "b"], "latency_s": [1e-3, 1e-3, 3e-3]})
    with pytest.raises(PlotError, match=r"^plot_layers: measured layer names repeat: \['b'\]; give one latency per "
                                        r"layer$"):
        plot_layers(layers, measured)


def test_plot_layers_without_layers():
    pytest.importorskip("matplotlib")
    from rooflinekit.plots import PlotError, plot_layers

    with pytest.raises(PlotError, match=r"^plot_layers: the prediction has no layers; nothing to draw$"):
        plot_layers(pd.DataFrame(columns=["name", "time_s", "bound"]))


def test_plot_heatmap_without_a_positive_value():
    pytest.importorskip("matplotlib")
    from rooflinekit.plots import PlotError, plot_heatmap

    table = pd.DataFrame({"hardware": ["A", "B"], "network": ["N", "N"], "precision": ["int8", "int8"],
                          "latency_s": [0.0, np.nan]})
    with pytest.raises(PlotError, match=r"^plot_heatmap: no positive latency_s in any cell; nothing to draw$"):
        plot_heatmap(table, "latency_s")


# --- compare/calibrate.py -----------------------------------------------------------------------------------------

def _features(**columns: Any) -> pd.DataFrame:
    return pd.DataFrame({"core_family": ["M4", "M4", "M7"], "latency_s": [1e-3, 2e-3, 3e-3], **columns})


def test_calibrated_prediction_of_an_aggregate_network():
    # calibration_features skips the record with this reason, predict_with_calibration re-raises it
    net = AggregateNetwork(name="agg", ops_per_frame=1e6, params=1e3, source="test", precision="int8")
    with pytest.raises(CalibrationError, match=r"^agg is an aggregate network \(totals only\); calibration needs "
                                               r"per-layer costs: give a layer network or a model file, or ask for "
                                               r"the roofline bound \(not calibrated\)$"):
        predict_with_calibration(net, HW, CalibratedPredictor())


def test_calibration_fit_rows_without_roofline_time():
    features = _features(**{"roofline_s:conv/int8": [1e-4, 0.0, 2e-4], "roofline_s:other/int8": [0.0, 0.0, 1e-4]})
    with pytest.raises(CalibrationError, match=r"^records at index \[1\] have no roofline time \(networks without "
                                               r"ops\?\); leave them out$"):
        CalibratedPredictor().fit(features)


def test_calibration_predict_without_class_columns():
    fitted = CalibratedPredictor().fit(_features(**{"roofline_s:conv/int8": [1e-4, 2e-4, 3e-4]}))
    with pytest.raises(CalibrationError, match=r"^features have no roofline_s:<class> columns; build them with "
                                               r"calibration_features$"):
        fitted.predict(_features())


# --- importers/__init__.py ----------------------------------------------------------------------------------------

def test_load_model_missing_file(tmp_path):
    path = tmp_path / "absent.tflite"
    with pytest.raises(ModelFileError, match=rf"^{re.escape(str(path))}: no such model file$"):
        load_model(path)


def test_load_model_unknown_suffix(tmp_path):
    path = tmp_path / "model.pb"
    path.write_bytes(b"\x00")
    with pytest.raises(ModelFileError, match=rf"^{re.escape(str(path))}: unknown model format '\.pb'; rooflinekit "
                                             r"reads \.onnx, \.tflite$"):
        load_model(path)
    config = tmp_path / "config.json"
    config.write_text('{"model_type": "llama"}', encoding="utf-8")
    with pytest.raises(ModelFileError, match=r"unknown model format '\.json'; rooflinekit reads \.onnx, \.tflite; a "
                                             r"transformer's config\.json is read by 'rooflinekit llm'"):
        load_model(config)


# --- importers/onnx -----------------------------------------------------------------------------------------------

onnx_only = pytest.mark.skipif(importlib.util.find_spec("onnx") is None,
                               reason="the ONNX importer needs the optional onnx package")


def load_onnx_quietly(path: Path, **kwargs: Any):
    from rooflinekit.importers.onnx import load_onnx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_onnx(path, **kwargs)


@onnx_only
class TestOnnxReading:
    def test_graph_without_nodes(self, tmp_path):
        path = save_onnx(tmp_path, [], {"x": [2]}, ["x"])
        with pytest.raises(ModelFileError, match=r"m\.onnx: the ONNX graph has no nodes \(truncated or not an ONNX "
                                                 r"model\?\)$"):
            load_onnx_quietly(path)

    def test_node_without_op_type(self, tmp_path):
        from onnx import helper

        node = helper.make_node("Relu", ["x"], ["y"], name="r")
        node.op_type = ""
        with pytest.raises(ModelFileError, match=r"m\.onnx: node 0 \('r'\) has no op_type$"):
            load_onnx_quietly(save_onnx(tmp_path, [node], {"x": [2]}, ["y"]))


@onnx_only
class TestOnnxImport:
    def test_malformed_external_data_offset(self, tmp_path):
        from onnx import TensorProto, helper

        (tmp_path / "w.bin").write_bytes(bytes(100))
        weight = zeros("w", 2, 3)
        weight.ClearField("raw_data")
        weight.data_location = TensorProto.EXTERNAL
        for key, value in (("location", "w.bin"), ("offset", "abc"), ("length", "24")):
            entry = weight.external_data.add()
            entry.key, entry.value = key, value
        path = save_onnx(tmp_path, [helper.make_node("MatMul", ["x", "w"], ["y"])], {"x": [2, 2]}, ["y"], [weight])
        with pytest.raises(ModelFileError, match=r"m\.onnx: malformed ONNX model \(ValueError: invalid literal for "
                                                 r"int\(\) with base 10: 'abc'\); re-export it or check it with "
                                                 r"onnx\.checker\.check_model$"):
            load_onnx_quietly(path)

    def test_only_constant_nodes(self, tmp_path):
        from onnx import helper

        node = helper.make_node("Constant", [], ["y"], value=zeros("c", 3))
        # issue 12: a graph of constants only imports (the conformance corpus has such models), at zero cost
        network = load_onnx_quietly(save_onnx(tmp_path, [node], {"x": [2]}, ["y"]))
        assert [layer.op for layer in network.layers] == ["constant"]

    def test_malformed_node_attribute(self, tmp_path):
        from onnx import helper

        node = helper.make_node("Conv", ["x", "w"], ["y"], name="c", group="abc")
        path = save_onnx(tmp_path, [node], {"x": [1, 3, 4, 4]}, ["y"], [zeros("w", 2, 3, 1, 1)])
        # refused before anything reads it (issue 15): the schema says INT, the file holds a STRING
        with pytest.raises(ModelFileError, match=r"m\.onnx: node 'c' \('Conv'\): attribute 'group' is of type STRING, "
                                                 r"the operator defines it as INT; the file is corrupt, export the model "
                                                 r"again$"):
            load_onnx_quietly(path)


@onnx_only
class TestOnnxTypesAndShapes:
    def test_unsupported_element_type(self, tmp_path):
        from onnx import TensorProto, helper

        path = save_onnx(tmp_path, [helper.make_node("Identity", ["x"], ["y"])], {"x": [2]}, ["y"],
                         types={"x": TensorProto.COMPLEX64})
        with pytest.raises(PrecisionError, match=r"m\.onnx: tensor 'x' has ONNX type COMPLEX64, which rooflinekit "
                                                 r"cannot represent; supported: .*\bint8\b"):
            load_onnx_quietly(path)

    def test_negative_initializer_dim(self, tmp_path):
        from onnx import TensorProto, helper

        weight = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[-1, 3])
        path = save_onnx(tmp_path, [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], {"x": [2, 4]}, ["y"],
                         [weight])
        with pytest.raises(ModelFileError, match=r"m\.onnx: tensor 'w' has a negative dim: \[-1, 3\]$"):
            load_onnx_quietly(path)

    def test_data_dependent_shape(self, tmp_path):
        from onnx import helper

        nodes = [helper.make_node("NonZero", ["x"], ["nz"], name="nz"), helper.make_node("Relu", ["nz"], ["y"])]
        with pytest.raises(ShapeError, match=r"m\.onnx: node 'nz' \(NonZero\) reads or writes tensor 'nz', produced by "
                                             r"node 'nz' \(NonZero\), whose shape has unresolved dims \[2, '.*'\]: "
                                             r"dim 1 \('.*'\) is data-dependent, it depends on the values of the data "
                                             r"of node 'nz' \(NonZero\), .*cut the graph before the node$"):
            load_onnx_quietly(save_onnx(tmp_path, nodes, {"x": [3, 3]}, ["y"]))

    def test_shape_inference_rejects_the_model(self, tmp_path):
        from onnx import TensorProto, helper

        # 'w' is declared a graph input of rank 1 but stored as a (2, 3) initializer
        inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2]),
                  helper.make_tensor_value_info("w", TensorProto.FLOAT, [5])]
        path = save_onnx(tmp_path, [helper.make_node("MatMul", ["x", "w"], ["y"])], inputs, ["y"], [zeros("w", 2, 3)])
        with pytest.raises(ModelFileError, match=r"m\.onnx: ONNX shape inference rejected the model: .*differ in "
                                                 r"rank: \(2\) vs \(1\)"):
            load_onnx_quietly(path)


@onnx_only
class TestOnnxBinding:
    def test_input_that_is_not_a_tensor(self, tmp_path):
        from onnx import TensorProto, helper

        sequence = helper.make_tensor_sequence_value_info("s", TensorProto.FLOAT, [2])
        path = save_onnx(tmp_path, [helper.make_node("SequenceLength", ["s"], ["y"])], [sequence], ["y"])
        # issue 12: a sequence input has no dims to bind; its ops import (reported unsupported when uncounted)
        network = load_onnx_quietly(path)
        assert [layer.source_op for layer in network.layers] == ["SequenceLength"]

    def test_input_without_shape(self, tmp_path):
        from onnx import helper

        path = save_onnx(tmp_path, [helper.make_node("Relu", ["x"], ["y"])], {"x": None}, ["y"])
        with pytest.raises(ShapeError, match=r"m\.onnx: graph input 'x' has no shape; pass "
                                             r"input_shapes=\{'x': \[\.\.\.\]\}$"):
            load_onnx_quietly(path)

    def test_input_shapes_entry_not_a_list(self, tmp_path):
        from onnx import helper

        path = save_onnx(tmp_path, [helper.make_node("Relu", ["x"], ["y"])], {"x": ["N", 4]}, ["y"])
        with pytest.raises(ShapeError, match=r"m\.onnx: input_shapes\['x'\] must be a list of dims, got '1,4'$"):
            load_onnx_quietly(path, input_shapes={"x": "1,4"})

    def test_input_shapes_zero_dim(self, tmp_path):
        from onnx import helper

        path = save_onnx(tmp_path, [helper.make_node("Relu", ["x"], ["y"])], {"x": ["N", 4]}, ["y"])
        with pytest.raises(ShapeError, match=r"m\.onnx: input_shapes\['x'\] has dim 0; use positive ints or dim "
                                             r"names$"):
            load_onnx_quietly(path, input_shapes={"x": [0, 4]})

    def test_dim_name_bound_to_two_sizes(self, tmp_path):
        from onnx import helper

        path = save_onnx(tmp_path, [helper.make_node("Add", ["x", "m"], ["y"])],
                         {"x": ["b", "s"], "m": ["b", "s"]}, ["y"])
        with pytest.raises(ShapeError, match=r"m\.onnx: dim 's' of input 'm' is bound to both 3 and 5; give one size "
                                             r"per dim name$"):
            load_onnx_quietly(path, input_shapes={"x": [2, 3], "m": [2, 5]})

    def test_negative_declared_dim(self, tmp_path):
        """A negative declared size is a dynamic dim (older Paddle2ONNX exports write -1): unbound, it is named."""
        from onnx import helper

        path = save_onnx(tmp_path, [helper.make_node("Relu", ["x"], ["y"])], {"x": [1, -4]}, ["y"])
        with pytest.raises(ShapeError, match=r"m\.onnx: input 'x' dim 1 \(no name, size missing\) is symbolic and "
                                             r"unbound; it changes the counts, so pass input_shapes=\{'x': \[\.\.\.\]\} "
                                             r"with a size for it$"):
            load_onnx_quietly(path)


@onnx_only
class TestOnnxHandlers:
    def test_einsum_index_with_two_sizes(self):
        from rooflinekit.counters.einsum import einsum_macs

        with pytest.raises(ShapeError, match=r"^einsum: index 'j' of 'ij,jk->ik' has sizes 3 and 4$"):
            einsum_macs("ij,jk->ik", [(2, 3), (4, 5)])

    def test_einsum_term_rank_differs_from_operand(self):
        from rooflinekit.counters.einsum import einsum_macs

        with pytest.raises(ShapeError, match=r"^einsum: term 'ijk' of 'ijk,kl->il' does not match operand shape "
                                             r"\[2, 3\]$"):
            einsum_macs("ijk,kl->il", [(2, 3), (3, 4)])

    def test_gemm_transposing_a_vector(self, tmp_path):
        from onnx import helper

        node = helper.make_node("Gemm", ["x", "z"], ["y"], transB=1, name="g")
        with pytest.raises(ShapeError, match=r"m\.onnx: node 'g' \(Gemm\) transposes 'z' of shape \[4\], which is not "
                                             r"a matrix$"):
            load_onnx_quietly(save_onnx(tmp_path, [node], {"x": [2, 4], "z": [4]}, ["y"]))

    def test_pool_without_kernel_shape(self, tmp_path):
        from onnx import helper

        node = helper.make_node("MaxPool", ["x"], ["y"], name="mp")
        with pytest.raises(ModelFileError, match=r"m\.onnx: MaxPool node 'mp' has no kernel_shape attribute, which "
                                                 r"ONNX requires$"):
            load_onnx_quietly(save_onnx(tmp_path, [node], {"x": [1, 1, 4, 4]}, ["y"]))

    def test_attention_3d_operand_without_head_count(self, tmp_path):
        from onnx import helper

        node = helper.make_node("Attention", ["q", "k", "v"], ["y"], name="att")
        path = save_onnx(tmp_path, [node], {"q": [1, 4, 8], "k": [1, 4, 8], "v": [1, 4, 8]}, ["y"], opset=23)
        with pytest.raises(ModelFileError, match=r"m\.onnx: Attention node 'att' operand 0 has shape \[1, 4, 8\]; ONNX "
                                                 r"wants 4-D \(batch, heads, seq, head_dim\), or 3-D with the "
                                                 r"q_num_heads attribute$"):
            load_onnx_quietly(path)


# --- importers/tflite ---------------------------------------------------------------------------------------------
# Models come from the shared writer in tests/tflite_builder.py; tensors are (shape, constant?) pairs, fp32, and
# constants get a zero-filled buffer of their own.

def _tflite():
    return pytest.importorskip("tflite")


def build_tflite(tensors: list[tuple[tuple[int, ...], bool]], ops: list[dict[str, Any]], inputs: list[int],
                 n_subgraphs: int = 1, buffers: list[tuple[int, int]] | None = None) -> bytes:
    """The shared test writer (tests/tflite_builder.py) on fp32 ``(shape, constant?)`` pairs. ops:
    ``{"code": BUILTIN, "inputs": [...], "outputs": [...], "options": (Class, {Field: value}), "opcode": index
    override}``; ``buffers`` adds (offset, size) buffers stored outside the flatbuffer tables."""
    _tflite()
    from tflite_builder import Graph, Op, T, const
    from tflite_builder import build_tflite as write

    graph = Graph([const(shape) if constant else T(shape) for shape, constant in tensors],
                  [Op(op["code"], op["inputs"], op["outputs"], op.get("options"), op.get("opcode")) for op in ops],
                  inputs, [])
    return write(*[graph] * n_subgraphs, external_buffers=tuple(buffers or ()))


def one_op(code: str, shapes: list[tuple[tuple[int, ...], bool]], n_inputs: int,
           options: tuple[str, dict] | None = None, inputs: list[int] | None = None) -> bytes:
    """A graph of one operator reading tensors ``0..n_inputs-1`` (or ``inputs``) and writing the rest."""
    ins = list(range(n_inputs)) if inputs is None else inputs
    outs = list(range(n_inputs, len(shapes)))
    op = {"code": code, "inputs": ins, "outputs": outs, "options": options}
    return build_tflite(shapes, [op], [i for i in ins if i >= 0 and not shapes[i][1]])


CONV = ("Conv2DOptions", {"Padding": 1, "StrideW": 1, "StrideH": 1})  # Padding 1 = VALID
ACT, CONST = False, True


def load_tflite_bytes(tmp_path: Path, data: bytes):
    from rooflinekit.importers.tflite import load_tflite

    path = tmp_path / "m.tflite"
    path.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_tflite(path)


class TestTfliteReading:
    def test_tflite_package_missing(self, tmp_path, monkeypatch):
        _tflite()
        from rooflinekit.importers.tflite import _reading

        monkeypatch.setattr(_reading, "tflite", None)  # as when the optional package is not installed
        with pytest.raises(ModelFileError, match=r"m\.tflite: reading \.tflite files needs the 'tflite' package; "
                                                 r"install it with: pip install 'rooflinekit\[tflite\]'$"):
            load_tflite_bytes(tmp_path, b"\x00" * 16)

    def test_root_offset_outside_the_file(self, tmp_path):
        _tflite()
        data = (1000).to_bytes(4, "little") + b"TFL3" + bytes(8)  # 16 bytes, root table at byte 1000
        with pytest.raises(ModelFileError, match=r"m\.tflite: root table offset 1000 lies outside the 16-byte file; "
                                                 r"the file is truncated or corrupt$"):
            load_tflite_bytes(tmp_path, data)

    def test_reader_failure_is_a_malformed_flatbuffer(self, tmp_path):
        _tflite()
        data = (8).to_bytes(4, "little") + b"TFL3" + (1000).to_bytes(4, "little")  # root's vtable at 8 - 1000 < 0
        with pytest.raises(ModelFileError, match=r"m\.tflite: malformed TFLite flatbuffer \(\w+: .*\); the file is "
                                                 r"truncated or corrupt, re-export it$"):
            load_tflite_bytes(tmp_path, data)

    def test_vector_count_larger_than_the_file(self, tmp_path):
        tfl = _tflite()
        data = bytearray(one_op("RELU", [((1, 4), ACT), ((1, 4), ACT)], 1))
        model = tfl.Model.GetRootAs(bytes(data), 0)
        length_at = model._tab.Vector(model._tab.Offset(8)) - 4  # Model field 2 (subgraphs): its length prefix
        data[length_at:length_at + 4] = (10 ** 6).to_bytes(4, "little")
        with pytest.raises(ModelFileError, match=rf"m\.tflite: subgraph count 1000000 cannot fit in a {len(data)}-byte "
                                                 r"file; the file is truncated or corrupt$"):
            load_tflite_bytes(tmp_path, bytes(data))

    def test_model_without_subgraph(self, tmp_path):
        _tflite()
        data = build_tflite([], [], [], n_subgraphs=0)
        with pytest.raises(ModelFileError, match=r"m\.tflite: the model has no subgraph; there is nothing to count$"):
            load_tflite_bytes(tmp_path, data)

    def test_external_buffer_beyond_the_file(self, tmp_path):
        _tflite()
        data = build_tflite([((1, 4), ACT), ((1, 4), ACT)], [{"code": "RELU", "inputs": [0], "outputs": [1]}], [0],
                            buffers=[(64, 10 ** 6)])
        with pytest.raises(ModelFileError, match=rf"m\.tflite: buffer 1 spans bytes 64\.\.1000064 of a "
                                                 rf"{len(data)}-byte file; the file is truncated$"):
            load_tflite_bytes(tmp_path, data)

    def test_opcode_index_out_of_range(self, tmp_path):
        _tflite()
        data = build_tflite([((1, 4), ACT), ((1, 4), ACT)], [{"code": "RELU", "inputs": [0], "outputs": [1],
                                                              "opcode": 5}], [0])
        with pytest.raises(ModelFileError, match=r"m\.tflite: operator 0 uses opcode 5, but the file defines 1 "
                                                 r"operator codes; the file is corrupt$"):
            load_tflite_bytes(tmp_path, data)

    def test_subgraph_without_operators(self, tmp_path):
        _tflite()
        data = build_tflite([((1, 4), ACT)], [], [0])
        with pytest.raises(ModelFileError, match=r"m\.tflite: subgraph 0 has no operators; there is nothing to "
                                                 r"count$"):
            load_tflite_bytes(tmp_path, data)


class TestTfliteOperands:
    def test_axis_out_of_range(self, tmp_path):
        _tflite()
        x = ((1, 2, 2, 3), ACT)
        data = one_op("CONCATENATION", [x, x, ((1, 2, 2, 6), ACT)], 2, ("ConcatenationOptions", {"Axis": 7}))
        with pytest.raises(ModelFileError, match=r"m\.tflite: operator 0 \(CONCATENATION\): axis 7 is out of range for "
                                                 r"rank 4; the file is malformed$"):
            load_tflite_bytes(tmp_path, data)

    def test_missing_operand(self, tmp_path):
        _tflite()
        data = one_op("CONV_2D", [((1, 4, 4, 2), ACT), ((1, 4, 4, 3), ACT)], 1, CONV, inputs=[0, -1])
        with pytest.raises(ModelFileError, match=r"m\.tflite: operator 0 \(CONV_2D\): operand 1 is missing; the "
                                                 r"file is malformed$"):
            load_tflite_bytes(tmp_path, data)

    def test_constant_where_an_activation_is_needed(self, tmp_path):
        _tflite()
        data = one_op("CONV_2D", [((1, 4, 4, 2), CONST), ((3, 1, 1, 2), CONST), ((1, 4, 4, 3), ACT)], 2, CONV)
        with pytest.raises(ShapeError, match=r"m\.tflite: operator 0 \(CONV_2D\): operand 0 '' is a constant; "
                                             r"rooflinekit costs CONV_2D on activations only, fold the constant before "
                                             r"importing$"):
            load_tflite_bytes(tmp_path, data)

    def test_operand_of_the_wrong_rank(self, tmp_path):
        _tflite()
        data = one_op("CONV_2D", [((1, 4, 4, 2), ACT), ((3, 1, 2), CONST), ((1, 4, 4, 3), ACT)], 2, CONV)
        with pytest.raises(ModelFileError, match=r"m\.tflite: operator 0 \(CONV_2D\): operand 1 '' has shape "
                                                 r"\[3, 1, 2\], expected rank 4; the file is malformed$"):
            load_tflite_bytes(tmp_path, data)

    def test_operator_without_output(self, tmp_path):
        _tflite()
        data = one_op("CONV_2D", [((1, 4, 4, 2), ACT), ((3, 1, 1, 2), CONST)], 2, CONV)
        with pytest.raises(ModelFileError, match=r"m\.tflite: operator 0 \(CONV_2D\): has no output; the file is "
                                                 r"malformed$"):
            load_tflite_bytes(tmp_path, data)

    def test_output_of_the_wrong_rank(self, tmp_path):
        _tflite()
        data = one_op("CONV_2D", [((1, 4, 4, 2), ACT), ((3, 1, 1, 2), CONST), ((1, 16, 3), ACT)], 2, CONV)
        with pytest.raises(ModelFileError, match=r"m\.tflite: operator 0 \(CONV_2D\): output '' has shape \[1, "
                                                 r"16, 3\], expected rank 4; the file is malformed$"):
            load_tflite_bytes(tmp_path, data)

    def test_options_of_another_op(self, tmp_path):
        _tflite()
        data = one_op("CONV_2D", [((1, 4, 4, 2), ACT), ((3, 1, 1, 2), CONST), ((1, 4, 4, 3), ACT)], 2,
                      ("Pool2DOptions", {"FilterWidth": 1, "FilterHeight": 1}))
        with pytest.raises(ModelFileError, match=r"m\.tflite: operator 0 \(CONV_2D\): carries Pool2DOptions, expected "
                                                 r"Conv2DOptions; the file is malformed$"):
            load_tflite_bytes(tmp_path, data)


class TestTfliteOps:
    def test_fully_connected_weight_not_a_matrix(self, tmp_path):
        _tflite()
        data = one_op("FULLY_CONNECTED", [((1, 8), ACT), ((4, 2, 4), CONST), ((1, 4), ACT)], 2)
        with pytest.raises(ShapeError, match=r"m\.tflite: operator 0 \(FULLY_CONNECTED\): needs an input of rank >= 1 "
                                             r"and a \(out, in\) weight, got \[1, 8\] and \[4, 2, 4\]$"):
            load_tflite_bytes(tmp_path, data)

    def test_batch_matmul_of_a_vector(self, tmp_path):
        _tflite()
        data = one_op("BATCH_MATMUL", [((2, 3), ACT), ((3,), ACT), ((2,), ACT)], 2)
        with pytest.raises(ShapeError, match=r"m\.tflite: operator 0 \(BATCH_MATMUL\): operands \[2, 3\] and "
                                             r"\[3\] must have rank >= 2$"):
            load_tflite_bytes(tmp_path, data)

    def test_batch_matmul_of_two_constants(self, tmp_path):
        _tflite()
        data = one_op("BATCH_MATMUL", [((2, 3), CONST), ((3, 4), CONST), ((2, 4), ACT)], 2)
        with pytest.raises(ShapeError, match=r"m\.tflite: operator 0 \(BATCH_MATMUL\): both operands are constants; "
                                             r"fold them before importing$"):
            load_tflite_bytes(tmp_path, data)

    def test_conv_filter_that_does_not_divide_the_channels(self, tmp_path):
        _tflite()
        # 4 input channels, filter (C_out 8, 1, 1, 3 per group): 4 % 3 != 0
        data = one_op("CONV_2D", [((1, 4, 4, 4), ACT), ((8, 1, 1, 3), CONST), ((1, 4, 4, 8), ACT)], 2, CONV)
        with pytest.raises(ShapeError, match=r"m\.tflite: operator 0 \(CONV_2D\): filter \[8, 1, 1, 3\] does "
                                             r"not divide the 4 input channels into groups$"):
            load_tflite_bytes(tmp_path, data)

    def test_transpose_conv_channel_mismatch(self, tmp_path):
        _tflite()
        # operands: output shape (parameter), filter (C_out 2, 3, 3, C_in 5), input with 4 channels
        shapes = [((4,), CONST), ((2, 3, 3, 5), CONST), ((1, 4, 4, 4), ACT), ((1, 6, 6, 2), ACT)]
        data = one_op("TRANSPOSE_CONV", shapes, 3, ("TransposeConvOptions", {"Padding": 1}))
        with pytest.raises(ShapeError, match=r"m\.tflite: operator 0 \(TRANSPOSE_CONV\): filter \[2, 3, 3, 5\] "
                                             r"expects 5 input channels, input has 4$"):
            load_tflite_bytes(tmp_path, data)

    def test_pooling_window_of_zero(self, tmp_path):
        _tflite()
        data = one_op("MAX_POOL_2D", [((1, 4, 4, 2), ACT), ((1, 4, 4, 2), ACT)], 1,
                      ("Pool2DOptions", {"FilterWidth": 2, "FilterHeight": 0}))
        with pytest.raises(ModelFileError, match=r"m\.tflite: operator 0 \(MAX_POOL_2D\): pooling window \[0, 2\] must "
                                                 r"be positive; the file is malformed$"):
            load_tflite_bytes(tmp_path, data)

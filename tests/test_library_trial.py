"""A library embedder's trial of the Python API (``import rooflinekit as rk``): fixes and the properties a caller
relies on, through the public API only.

Expected values come from hand derivation or the documented contract, never from the output under test.
"""

from __future__ import annotations

import json
import sys
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rooflinekit as rk
from rooflinekit.catalog import HardwareCatalog
from rooflinekit.errors import PrecisionError, SpecError, UnknownNameError


def _spec(name: str, peak: float = 1e12, bandwidth: float = 1e10, capacity: float = 1e9,
          dtype: str = "int8") -> rk.HardwareSpec:
    """One device: one peak, one memory level holding weights and activations."""
    return rk.HardwareSpec.model_validate({
        "name": name, "kind": "NPU", "source": "test", "peak_ops_per_s": {dtype: peak},
        "memories": [{"name": "DRAM", "capacity_bytes": capacity, "bandwidth_bytes_per_s": bandwidth,
                      "stores": ["weights", "activations"], "source": "test"}]})


# --- precision errors and counted networks ---------------------------------------------------------------------------

def test_a_precision_error_carries_the_type_the_hardware_and_what_it_supports():
    """Was a message only. A caller offering a choice reads the fields: ZCU104-DPU's spec
    (hardware_specs/qutibench_fpga.yaml) has one peak, int8; the spec built here has int8 and fp16."""
    import pickle

    with pytest.raises(PrecisionError) as caught:
        rk.predict("LeNet-MNIST", "ZCU104-DPU", precision="fp32")
    error = caught.value
    assert (error.precision, error.hardware, error.supported) == ("fp32", "ZCU104-DPU", ("int8",))
    assert str(error).endswith("choose one: pass precision='int8' (--precision int8)")
    assert vars(pickle.loads(pickle.dumps(error))) == vars(error)
    # a counted network on a spec without default_precision (no fallback to try)
    two = rk.HardwareSpec.model_validate({**_spec("two").model_dump(), "peak_ops_per_s": {"int8": 1e12, "fp16": 5e11}})
    with pytest.raises(PrecisionError) as caught:
        rk.predict(rk.CountedNetwork.of(rk.get_network("LeNet-MNIST"), "fp32"), two)
    assert (caught.value.precision, caught.value.hardware, caught.value.supported) == ("fp32", "two", ("int8", "fp16"))
    assert PrecisionError("x").supported == () and PrecisionError("x").precision is None


def test_a_counted_network_the_hardware_runs_is_predicted_as_its_spec_is():
    """The same network counted at int8 predicts what the spec predicts at int8 (one count, many predictions)."""
    spec = rk.get_network("LeNet-MNIST")
    counted = rk.CountedNetwork.of(spec, "int8")
    assert rk.predict(counted, "ZCU104-DPU") == rk.predict(spec, "ZCU104-DPU", precision="int8")


def test_a_counted_network_with_a_precision_is_still_refused_as_counted():
    """Re-typing a counted network explicitly stays the SpecError it was (documented on predict)."""
    counted = rk.CountedNetwork.of(rk.get_network("LeNet-MNIST"), "int8")
    with pytest.raises(SpecError, match="already counted at int8"):
        rk.predict(counted, "ZCU104-DPU", precision="int8")


# --- near names whatever the case -------------------------------------------------------------------------------------

def test_near_names_are_suggested_whatever_the_case():
    """Was: no suggestion for 'ALPHA-NPX' (difflib compared it with 'Alpha-NPU' case-sensitively: matches 'A', '-NP',
    2 * 4 / 18 = 0.44 < 0.5). As lookup keys, 'alphanpx' and 'alphanpu' share 7 of 8 letters: 2 * 7 / 16 = 0.875;
    'betagpu' shares none of 'alphanpx' in order beyond 'a', 'p': 2 * 2 / 15 = 0.27, below the cutoff."""
    catalog = HardwareCatalog([_spec("Alpha-NPU"), _spec("Beta-GPU")])
    with pytest.raises(UnknownNameError) as caught:
        catalog.get("ALPHA-NPX")
    assert caught.value.suggestions == ("Alpha-NPU",)
    assert "did you mean Alpha-NPU?" in str(caught.value)


def test_a_lower_case_typo_of_a_catalog_name_gets_it_first():
    """'zcu1044' against the keys: 'zcu104dpu' shares 'zcu104' (2 * 6 / 16 = 0.75), 'zcu104finn' (12 / 17 = 0.71),
    'zcu102dpu' only 'zcu10' (10 / 16 = 0.63): ZCU104-DPU first. Was: no suggestion at all."""
    with pytest.raises(UnknownNameError) as caught:
        rk.get_hardware("zcu1044")
    assert caught.value.suggestions[:2] == ("ZCU104-DPU", "ZCU104-FINN")
    assert caught.value.name == "zcu1044" and caught.value.kind == "hardware"


def test_an_unknown_name_is_shown_cut_in_the_message_and_whole_in_the_field():
    """Was the whole input echoed: a 10,000-character name made a 10,064-character message (a web service logs
    it). The message shows at most 60 characters of the name (repr cut with '...'); ``name`` keeps all of it."""
    name = "x" * 10_000
    with pytest.raises(UnknownNameError) as caught:
        rk.get_hardware(name)
    assert caught.value.name == name and caught.value.suggestions == ()
    assert str(caught.value) == f"unknown hardware '{'x' * 56}... (list them with 'rooflinekit hardware list')"
    with pytest.raises(UnknownNameError) as caught:
        rk.get_network("ResNet-50", pruning_pct=81)
    assert str(caught.value).startswith("model 'ResNet-50' has no 81% pruned variant")


# --- quantities with a decimal prefix read as the decimal written ---------------------------------------------------

@pytest.mark.parametrize(("text", "dimension", "literal"), [
    ("5 us", "s", 5e-6),  # was 5 * 1e-6 = 4.9999999999999996e-06
    ("1.3 ms", "s", 1.3e-3),  # was 0.0013000000000000002
    ("6.1 ms", "s", 6.1e-3),  # was 0.0060999999999999995
    ("1.037 TOPS", "ops_per_s", 1.037e12),  # was 1036999999999.9999 (a Jetson spec's peak)
    ("2.09 TFLOP/s", "ops_per_s", 2.09e12),  # was 2089999999999.9998
    ("1.1 PB/s", "bytes_per_s", 1.1e15),  # was 1100000000000000.1
    ("13 TMAC/s", "ops_per_s", 26e12),  # 1 MAC = 2 ops
    ("512 KiB", "bytes", 512 * 1024),  # binary prefixes: powers of two, exact
])
def test_a_prefixed_quantity_is_the_float_of_the_decimal_written(text, dimension, literal):
    from rooflinekit.units import parse_quantity

    assert parse_quantity(text, dimension) == literal


def test_a_spec_written_with_units_equals_the_spec_written_in_base_units():
    written = rk.HardwareSpec.model_validate({
        "name": "u", "kind": "NPU", "source": "test", "peak_ops_per_s": {"int8": "1.037 TOPS"},
        "memories": [{"name": "DRAM", "capacity_bytes": "4 GB", "bandwidth_bytes_per_s": "6.1 GB/s",
                      "stores": ["weights", "activations"], "source": "test"}]})
    assert written == _spec("u", peak=1.037e12, bandwidth=6.1e9, capacity=4e9)


# --- properties a caller relies on (public API only) ------------------------------------------------------------------

NETWORK = rk.AggregateNetwork(name="Agg", precision="int8", ops_per_frame=2e9, params=5e6, source="test")
"""2 GOP and 5 M int8 weights (5 MB) per frame."""

peaks = st.floats(1e9, 1e15)
bandwidths = st.floats(1e7, 1e13)


@settings(max_examples=40)
@given(peak=peaks, bandwidth=bandwidths, factor=st.floats(1.0, 1e3))
def test_more_bandwidth_never_predicts_slower(peak, bandwidth, factor):
    slow = rk.predict(NETWORK, _spec("hw", peak, bandwidth))
    fast = rk.predict(NETWORK, _spec("hw", peak, bandwidth * factor))
    assert fast.latency_s <= slow.latency_s


@settings(max_examples=40)
@given(peak=peaks, bandwidth=bandwidths, batch=st.integers(1, 4096))
def test_performance_never_exceeds_peak_and_a_batch_takes_at_least_one_frame(peak, bandwidth, batch):
    hw = _spec("hw", peak, bandwidth)
    one, many = rk.predict(NETWORK, hw), rk.predict(NETWORK, hw, batch=batch)
    assert many.attainable_ops_per_s <= peak * (1 + 1e-12)
    assert many.latency_s >= one.latency_s
    # hand derivation of the roofline: weights read once per batch
    assert many.latency_s == pytest.approx(max(2e9 * batch / peak, 5e6 / bandwidth), rel=1e-12)


@settings(max_examples=25)
@given(peak=peaks, bandwidth=bandwidths, capacity=st.floats(1e3, 1e12), dtype=st.sampled_from(["int8", "fp16"]))
def test_a_spec_round_trips_through_dump_validate_and_json(peak, bandwidth, capacity, dtype):
    hw = _spec("round-trip", peak, bandwidth, capacity, dtype)
    assert rk.HardwareSpec.model_validate(hw.model_dump()) == hw
    assert rk.HardwareSpec.model_validate_json(hw.model_dump_json()) == hw
    assert rk.HardwareSpec.model_validate(json.loads(json.dumps(hw.model_dump(mode="json")))) == hw


def test_capacity_warning_is_filterable_by_class_and_said_once():
    """A misfit warns once per predict call, as CapacityWarning (a RooflineWarning): 5 MB of weights in 1 MB."""
    hw = _spec("tiny", capacity=1e6)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        p = rk.predict(NETWORK, hw)
    assert [w.category for w in caught] == [rk.CapacityWarning] and not p.fits
    assert caught[0].filename == __file__  # points at the caller's line
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", rk.RooflineWarning)
        assert rk.predict(NETWORK, hw).fits is False


def test_every_prediction_field_serialises_to_strict_json():
    """One relu of 64 int8 elements under weights_only traffic moves no bytes: operational intensity 64 / 0 = inf,
    which ``json.dumps`` would write as ``Infinity``; the documented strict form has null there and the rest."""
    from rooflinekit.output import to_json_value

    net = rk.LayerNetwork.model_validate({"name": "relu", "precision": "int8", "source": "test", "layers": [
        {"name": "r", "op": "relu", "inputs": [[1, 64]], "outputs": [[1, 64]]}]})
    p = rk.predict(net, _spec("hw", peak=64e9))
    data = json.loads(json.dumps(to_json_value(p.to_dict()), allow_nan=False))
    assert data["operational_intensity"] is None and data["bytes"] == 0
    assert data["latency_s"] == pytest.approx(64 / 64e9, rel=1e-12) and data["engines"] == ["hw"]
    assert set(data) == set(p.to_dict())


def test_a_prediction_rebuilt_from_its_json_equals_it_and_hashes():
    """Was: ``Prediction(**json.loads(json.dumps(p.to_dict())))`` held lists where the prediction holds tuples, so
    it differed from ``p`` and ``hash`` raised TypeError (a cache of predictions kept as JSON)."""
    hw = _spec("hw", capacity=1e6)  # 5 MB of weights in 1 MB: a note, and a tuple of engines and batches
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rk.CapacityWarning)
        p = rk.predict(NETWORK, hw, batch=3)
    data = json.loads(json.dumps(p.to_dict()))
    assert isinstance(data["engines"], list) and data["notes"]
    rebuilt = rk.Prediction(**data)
    assert rebuilt == p and hash(rebuilt) == hash(p) and rebuilt.to_dict() == p.to_dict()
    assert rebuilt.engines == ("hw",) and rebuilt.engine_batches == (3,)
    interval = rk.Prediction(**{**data, "latency_interval_s": [1e-3, 2e-3]}).latency_interval_s
    assert interval == (1e-3, 2e-3)


def test_the_errors_predict_documents_are_catchable_from_the_package():
    """Was AttributeError: ``rk.PrecisionError`` (which predict raises for a type without a peak), ``rk.ShapeError``,
    ``rk.ModelFileError`` (a model file) and ``rk.CalibrationError`` (``calibrated=True``) were only in
    ``rooflinekit.errors``."""
    from rooflinekit import errors

    for name in ("PrecisionError", "ShapeError", "ModelFileError", "CalibrationError"):
        assert getattr(rk, name) is getattr(errors, name) and name in rk.__all__
    with pytest.raises(rk.PrecisionError):
        rk.predict("LeNet-MNIST", "ZCU104-DPU", precision="fp32")
    dsp = rk.HardwareSpec.model_validate({**rk.get_hardware("ZCU104-DPU").model_dump(exclude_none=True),
                                          "name": "DSP board", "kind": "DSP"})  # no calibration ships for a DSP
    with pytest.raises(rk.CalibrationError, match="no calibration for hardware class DSP"):
        rk.predict("ResNet-50", dsp, calibrated=True)
    with pytest.raises(rk.ModelFileError):
        rk.predict("no_such_model.onnx", "ZCU104-DPU")


def test_a_catalog_network_without_accuracies_cannot_be_changed_through_its_empty_table():
    """The empty default accuracy table is as read-only as a filled one: writing into it raises and leaves the
    catalog's spec unchanged (it used to be a plain dict shared by every later lookup)."""
    network = rk.get_network("LeNet-MNIST")
    assert dict(network.accuracy_top1_pct) == {}
    with pytest.raises(TypeError, match="frozen"):
        network.accuracy_top1_pct["int8"] = 99.0  # type: ignore[index]
    assert dict(rk.get_network("LeNet-MNIST").accuracy_top1_pct) == {}


def test_calibration_warnings_point_at_the_callers_line():
    """A calibrated prediction's warnings (outside the regime, a fallback release, a class without records) are
    raised several calls deep; each names the user's line, so a filter by module or a traceback of warnings finds
    the call, not a line inside the package."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = sys._getframe().f_lineno + 1  # the next line
        rk.predict("LeNet-MNIST", "A100-SXM4-80GB", batch=2, calibrated=True)  # below the Offline regime
        rk.predict_llm("Llama-2-7B", "A100-SXM4-80GB", batch=1, prompt=128, generate=4, calibrated=True,
                       weights="int4")
    calibration = [w for w in caught if issubclass(w.category, rk.CalibrationWarning)]
    assert len(calibration) >= 4  # regime, release fallback, classes without records; the LLM extrapolation
    assert {w.filename for w in calibration} == {__file__}
    assert {w.lineno for w in calibration} == {line, line + 1}

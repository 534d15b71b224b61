"""CalibratedPredictor: recovery of a known factor model, fallbacks, JSON round trip, errors, CLI helpers."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from rooflinekit import get_network
from rooflinekit.compare.calibrate import (
    CalibratedPredictor, CalibrationWarning, calibrate_from_paths, calibration_features, class_columns, core_family,
    network_index, op_class, predict_with_calibration, select_calibration_records,
)
from rooflinekit.descriptors import HardwareSpec, Layer, LayerNetwork
from rooflinekit.errors import CalibrationError, SpecError
from rooflinekit.importers import load_model

MHZ = 1e6
CLASSES = ("conv", "depthwise_conv", "fully_connected", "other")
# ground truth: F_c = BASE[c] * CORE[core] * STACK[framework][c] (log-additive, as the model)
BASE = {"conv": 3.0, "depthwise_conv": 12.0, "fully_connected": 5.0, "other": 20.0}
CORE = {"Cortex-M4": 1.0, "Cortex-M7": 0.55, "Cortex-M33": 0.8}
STACK = {"A": dict.fromkeys(CLASSES, 1.0),
         "B": {"conv": 0.5, "depthwise_conv": 1.3, "fully_connected": 0.7, "other": 1.0},
         "C": {"conv": 0.8, "depthwise_conv": 0.6, "fully_connected": 1.2, "other": 2.0}}


def mcu(name: str, core: str, clock_mhz: float, flash_bytes_per_cycle: float = 8) -> HardwareSpec:
    clock = clock_mhz * MHZ
    return HardwareSpec(name=name, kind="MCU", core_type=core, clock_hz=clock,
                        peak_ops_per_s={"int8": 4 * clock, "fp32": 2 * clock},
                        memories=[{"name": "Flash", "capacity_bytes": 2e6, "stores": ["weights"], "on_chip": True,
                                   "bandwidth_bytes_per_s": flash_bytes_per_cycle * clock, "source": "test"},
                                  {"name": "SRAM", "capacity_bytes": 5e5, "stores": ["activations"], "on_chip": True,
                                   "bandwidth_bytes_per_s": 4 * clock, "source": "test"}],
                        source="test")


BOARDS = {spec.name: spec for spec in (mcu("m4-a", "Cortex-M4F", 120), mcu("m4-b", "Cortex-M4F", 200, 4),
                                        mcu("m7", "Cortex-M7", 280, 16), mcu("m33", "Cortex-M33", 160))}


def conv(name: str, c_in: int, c_out: int, size: int, k: int = 3, groups: int = 1) -> Layer:
    return Layer(name=name, op="conv", inputs=((1, c_in, size, size),), outputs=((1, c_out, size, size),),
                 weights=((c_out, c_in // groups, k, k), (c_out,)), attrs={"kernel_shape": [k, k], "groups": groups})


def fc(name: str, n_in: int, n_out: int) -> Layer:
    return Layer(name=name, op="fully_connected", inputs=((1, n_in),), outputs=((1, n_out),),
                 weights=((n_out, n_in), (n_out,)))


def add(name: str, channels: int, size: int) -> Layer:
    shape = (1, channels, size, size)
    return Layer(name=name, op="add", inputs=(shape, shape), outputs=(shape,))


def network(name: str, *layers: Layer) -> LayerNetwork:
    return LayerNetwork(name=name, layers=layers, precision="int8", source="test")


NETWORKS = [
    network("convnet", conv("c1", 8, 16, 16), conv("c2", 16, 16, 16)),
    network("dsnet", conv("c1", 8, 32, 12, k=1), conv("d1", 32, 32, 12, groups=32), conv("d2", 32, 32, 12, groups=32)),
    network("fcnet", fc("f1", 640, 128), fc("f2", 128, 640)),
    network("addnet", conv("c1", 8, 8, 8, k=1), add("a1", 8, 64), add("a2", 8, 64)),
    network("mixnet", conv("c1", 4, 16, 16), conv("d1", 16, 16, 16, groups=16), add("a1", 16, 16), fc("f1", 256, 10)),
]


def truth(features: pd.DataFrame, stacks: dict[str, str] | None = None) -> pd.DataFrame:
    """The ground-truth factor of each row (index of ``features``) and class column; ``stacks`` renames frameworks."""
    kinds = [column.removeprefix("roofline_s:").split("/")[0] for column in class_columns(features)]
    stack_of = features.framework.map(stacks) if stacks else features.framework
    return pd.DataFrame([[BASE[k] * CORE[family] * STACK[stack][k] for k in kinds]
                         for family, stack in zip(features.core_family, stack_of)],
                        index=features.index, columns=class_columns(features))


def true_latency(features: pd.DataFrame, stacks: dict[str, str] | None = None) -> np.ndarray:
    return (truth(features, stacks) * features[class_columns(features)]).sum(axis=1).to_numpy()


def features_of(rows: list[dict], boards: dict[str, HardwareSpec] = BOARDS) -> pd.DataFrame:
    features, skipped = calibration_features(pd.DataFrame(rows), network_index(NETWORKS, {}), boards)
    assert skipped.empty, skipped.reason.tolist()
    return features.assign(latency_s=true_latency(features))


@pytest.fixture(scope="module")
def synthetic() -> pd.DataFrame:
    """Every board x stack (C only on two boards) x network, latencies from the ground truth."""
    rows = [{"hardware": board, "network": net.name, "precision": "int8", "framework": stack,
             "framework_version": "1.0"}
            for board in BOARDS for stack in STACK if stack != "C" or board in ("m4-a", "m7") for net in NETWORKS]
    return features_of(rows)


def fitted(features: pd.DataFrame, **params) -> CalibratedPredictor:
    return CalibratedPredictor(shrinkage=1e-4, system_shrinkage=1.0, **params).fit(features)


# --- features -----------------------------------------------------------------------------------------------------

def test_op_classes():
    assert op_class(conv("c", 8, 8, 4)) == "conv"
    assert op_class(conv("d", 8, 8, 4, groups=8)) == "depthwise_conv"
    assert op_class(conv("g", 8, 8, 4, groups=2)) == "conv"  # grouped, not depthwise
    assert op_class(fc("f", 4, 2)) == "fully_connected"
    assert op_class(Layer(name="m", op="matmul", inputs=((4, 8), (8, 2)), outputs=((4, 2),))) == "fully_connected"
    assert op_class(add("a", 2, 2)) == "other"


def test_core_family_drops_fpu_suffix_and_falls_back_to_kind():
    assert core_family(mcu("x", "Cortex-M4F", 100)) == "Cortex-M4"
    assert core_family(mcu("x", "Cortex-M0+", 64)) == "Cortex-M0+"
    assert core_family(mcu("x", "Cortex-M33", 100)) == "Cortex-M33"
    gpu = HardwareSpec(name="g", kind="GPU", peak_ops_per_s={"fp32": 1e12}, source="test",
                       memories=[{"name": "DRAM", "capacity_bytes": 1e9, "bandwidth_bytes_per_s": 1e11,
                                  "source": "test"}])
    assert core_family(gpu) == "GPU"


def test_class_times_add_up_to_the_layer_roofline(synthetic):
    columns = class_columns(synthetic)
    assert columns == [f"roofline_s:{c}/int8" for c in sorted(CLASSES)]
    np.testing.assert_allclose(synthetic[columns].sum(axis=1), synthetic.roofline_latency_s, rtol=1e-12)
    fcnet = synthetic[synthetic.network == "fcnet"]
    assert (fcnet["roofline_s:conv/int8"] == 0).all() and (fcnet["roofline_s:fully_connected/int8"] > 0).all()
    assert set(synthetic.core_family) == set(CORE)


def test_records_must_name_hardware_and_network():
    with pytest.raises(CalibrationError, match=r"records lack the columns \['network'\]"):
        calibration_features(pd.DataFrame({"hardware": ["m7"]}), {}, BOARDS)


def test_unresolvable_records_are_skipped_with_a_reason():
    records = pd.DataFrame([{"hardware": "no-such-board", "network": "convnet", "precision": "int8"},
                            {"hardware": "m7", "network": "no-such-net", "precision": "int8"},
                            {"hardware": "m7", "network": "convnet", "precision": "int8"}])
    features, skipped = calibration_features(records, network_index(NETWORKS, {}), BOARDS)
    assert len(features) == 1 and features.index.tolist() == [2]
    assert "no-such-board" in skipped.reason[0]
    assert re.search(r"network 'no-such-net' at precision int8: no model file matches", skipped.reason[1])


def test_unresolved_network_keeps_the_catalogs_hint():
    # a near miss of a catalog name: the catalog's "did you mean" survives in the reason
    records = pd.DataFrame([{"hardware": "m7", "network": "ResNet-5O", "precision": "int8"}])
    reason = calibration_features(records, network_index(NETWORKS, {}), BOARDS).skipped.reason[0]
    assert re.fullmatch(r"network 'ResNet-5O' at precision int8: no model file matches \(model files given: .*\); the "
                        r"network catalog: unknown model 'ResNet-5O'; did you mean ResNet-50\b.*; pass its model file",
                        reason), reason


# --- recovery of the ground truth ---------------------------------------------------------------------------------

def test_fit_recovers_the_factors(synthetic):
    predictor = fitted(synthetic)
    assert predictor.classes_ == [f"{c}/int8" for c in sorted(CLASSES)]
    np.testing.assert_allclose(predictor.class_factors(synthetic), truth(synthetic), rtol=0.01)
    np.testing.assert_allclose(predictor.predict(synthetic), synthetic.latency_s, rtol=1e-3)


def test_predicts_an_unseen_network_on_known_hardware(synthetic):
    held_out = synthetic.network == "mixnet"
    predictor = fitted(synthetic[~held_out])
    np.testing.assert_allclose(predictor.predict(synthetic[held_out]), synthetic.latency_s[held_out], rtol=0.01)


def test_predicts_unseen_hardware_from_its_spec(synthetic):
    predictor = fitted(synthetic)
    board = mcu("new-m33", "Cortex-M33", 96, flash_bytes_per_cycle=4)  # not in the fit, not in the catalog
    # stack C never ran on a Cortex-M33, and never in version 2.0: core family and framework levels carry it
    expected = features_of([{"hardware": "new-m33", "network": "mixnet", "precision": "int8", "framework": "C",
                             "framework_version": "2.0"}], {"new-m33": board})
    with pytest.warns(CalibrationWarning, match="framework_version: C \\| 2.0 not calibrated -> C \\| 1.0"):
        result = predict_with_calibration(NETWORKS[4], board, predictor, framework="C", framework_version="2.0")
    assert result.latency_s == pytest.approx(expected.latency_s.iloc[0], rel=0.01)
    assert result.hardware == "new-m33" and result.framework == "C"
    assert result.classes.latency_s.sum() == pytest.approx(result.latency_s)
    assert result.efficiency_pct == pytest.approx(100 * expected.roofline_latency_s.iloc[0] / result.latency_s)


def test_unseen_stack_falls_back_to_the_coarser_levels(synthetic):
    predictor = fitted(synthetic)
    query = synthetic[synthetic.catalog_hardware == "m7"].head(1).assign(framework="D", framework_version="9")
    table = predictor.factor_table().set_index(["level", "key", "op_class"]).log_factor
    expected = [math.exp(predictor.theta0_ + table["global", "*", c] + table["core_family", "Cortex-M7", c])
                for c in predictor.classes_]
    np.testing.assert_allclose(predictor.class_factors(query).iloc[0], expected, rtol=1e-12)


def test_shrinkage_pulls_a_system_towards_its_parents(synthetic):
    loose, tight = (CalibratedPredictor(system_shrinkage=s).fit(synthetic) for s in (0.01, 100.0))
    size = {p: max(np.abs(v).max() for v in p.coef_["system"].values()) for p in (loose, tight)}
    assert size[tight] < size[loose]


# --- serialization ------------------------------------------------------------------------------------------------

def test_json_round_trip(synthetic):
    predictor = fitted(synthetic, required_levels=("core_family",))
    restored = CalibratedPredictor.from_json(predictor.to_json())
    assert restored.get_params() == predictor.get_params()
    assert (restored.theta0_, restored.classes_, restored.n_records_) == (
        predictor.theta0_, predictor.classes_, predictor.n_records_)
    pd.testing.assert_frame_equal(restored.factor_table(), predictor.factor_table())
    np.testing.assert_array_equal(restored.predict(synthetic), predictor.predict(synthetic))


# --- errors and warnings ------------------------------------------------------------------------------------------

def test_fit_on_empty_records_raises(synthetic):
    with pytest.raises(CalibrationError, match="no records to fit"):
        CalibratedPredictor().fit(synthetic.iloc[:0])


def test_predict_before_fit_raises(synthetic):
    with pytest.raises(CalibrationError, match="not fitted yet; call fit"):
        CalibratedPredictor().predict(synthetic)
    with pytest.raises(CalibrationError, match="not fitted yet"):
        CalibratedPredictor().to_json()


def test_unknown_core_family_without_fallback_raises(synthetic):
    predictor = fitted(synthetic, required_levels=("core_family",))
    riscv = synthetic.head(2).assign(core_family="RISC-V")
    with pytest.raises(CalibrationError, match=r"core family 'RISC-V' was not calibrated and required_levels "
                                               r"forbids a fallback; calibrated: Cortex-M33, Cortex-M4, Cortex-M7"):
        predictor.predict(riscv)
    assert np.isfinite(fitted(synthetic).predict(riscv)).all()  # the default falls back


def test_fit_rejects_missing_latency_and_features(synthetic):
    with pytest.raises(CalibrationError, match="1 records lack a positive latency_s"):
        CalibratedPredictor().fit(synthetic.assign(latency_s=[np.nan] + [1.0] * (len(synthetic) - 1)))
    with pytest.raises(CalibrationError, match="fit needs the columns latency_s and roofline_s:<class>"):
        CalibratedPredictor().fit(synthetic[["latency_s", "framework"]])


@pytest.mark.parametrize(("params", "error", "message"), [
    ({"shrinkage": 0}, CalibrationError, "shrinkage must be a positive number of pseudo-records, got 0"),
    ({"system_shrinkage": -1.0}, CalibrationError, "system_shrinkage must be a positive"),
    ({"required_levels": ("board",)}, CalibrationError, r"required_levels \['board'\] unknown"),
    ({"traffic": "everything"}, SpecError, "unknown traffic assumption 'everything'"),
])
def test_bad_parameters_raise_at_fit(synthetic, params, error, message):
    with pytest.raises(error, match=message):
        CalibratedPredictor(**params).fit(synthetic)


def test_from_json_rejects_other_documents():
    with pytest.raises(CalibrationError, match="not a rooflinekit calibration: format 'x'"):
        CalibratedPredictor.from_json('{"format": "x"}')
    with pytest.raises(CalibrationError, match="not a rooflinekit calibration: format 'list'"):
        CalibratedPredictor.from_json("[]")
    with pytest.raises(CalibrationError, match="cannot read calibration JSON: Expecting property name"):
        CalibratedPredictor.from_json("{")
    with pytest.raises(CalibrationError, match="calibration JSON incomplete or malformed \\(KeyError: 'params'\\)"):
        CalibratedPredictor.from_json('{"format": "rooflinekit.calibration/1"}')


def test_a_class_without_records_warns_and_takes_the_median_factor(synthetic):
    predictor = fitted(synthetic)
    query = synthetic.head(1).assign(**{"roofline_s:conv/fp32": 1e-3})
    with pytest.warns(CalibrationWarning, match=r"no calibration record had conv/fp32 layers"):
        factors = predictor.class_factors(query)
    assert factors["conv/fp32"].iloc[0] == pytest.approx(math.exp(predictor.theta0_))


# --- record selection and the CLI helpers -------------------------------------------------------------------------

def test_select_calibration_records_gives_reasons():
    records = pd.DataFrame({"latency_s": [0.1, np.nan, 0.2, 0.3], "division": ["closed", "closed", "open", "closed"],
                            "cpu_only_cortex_m": [True, True, True, False]})
    kept, skipped = select_calibration_records(records)
    assert kept.index.tolist() == [0]
    assert skipped.reason.tolist() == ["no measured latency_s", "open division: the network may differ",
                                       "not a CPU-only Cortex-M system (accelerator, FPGA, RISC-V or application "
                                       "processor)"]
    with pytest.raises(CalibrationError, match="records have no latency_s column"):
        select_calibration_records(records.drop(columns="latency_s"))


def test_calibrate_from_a_records_table_and_predict_from_its_json(tmp_path):
    boards = ["NUCLEO-L4R5ZI", "NUCLEO-H7A3ZI-Q", "NUCLEO-U575ZI-Q"]
    nets = ["LeNet-MNIST", "ResNet-20-CIFAR-10", "FINN-MLP"]
    stacks = {"X-CUBE-AI 7.3.0": "B", "TFLite Micro 2.3.1": "A"}
    rows = [{"hardware": b, "network": n, "precision": "int8", "framework": s} for b in boards for n in nets
            for s in stacks]
    features, skipped = calibration_features(pd.DataFrame(rows), {})  # catalog boards and networks
    assert skipped.empty
    table = pd.DataFrame(rows).assign(latency_s=true_latency(features, stacks))
    table.loc[len(table)] = {"hardware": "no-such-board", "network": "LeNet-MNIST", "precision": "int8",
                             "framework": "TFLite Micro", "latency_s": 0.1}
    table.to_csv(tmp_path / "runs.csv", index=False)
    with pytest.warns(CalibrationWarning, match=r"1 record left out of the calibration \(18 used\): 1 x .*"
                                                r"no-such-board"):
        predictor = calibrate_from_paths([tmp_path / "runs.csv"], shrinkage=1e-4, system_shrinkage=1.0)
    (tmp_path / "calib.json").write_text(predictor.to_json())
    result = predict_with_calibration(get_network("LeNet-MNIST"), "NUCLEO-U575ZI-Q", tmp_path / "calib.json",
                                      framework="X-CUBE-AI v7.3.0", precision="int8")
    expected = table[(table.hardware == "NUCLEO-U575ZI-Q") & (table.network == "LeNet-MNIST")
                     & (table.framework == "X-CUBE-AI 7.3.0")].latency_s.iloc[0]
    assert result.framework_version == "7.3.0"
    assert result.latency_s == pytest.approx(expected, rel=0.01)
    assert result.to_dict()["fps"] == pytest.approx(1 / result.latency_s)


def test_predict_with_a_missing_calibration_file_raises(tmp_path):
    with pytest.raises(CalibrationError, match="calib.json: no such calibration file; write one with"):
        predict_with_calibration(NETWORKS[0], BOARDS["m7"], tmp_path / "calib.json")


def test_calibrate_from_paths_needs_paths():
    with pytest.raises(CalibrationError, match="no record paths given"):
        calibrate_from_paths([])


def test_calibrate_on_mlperf_tiny_and_predict_a_known_system(mlperf_dir):
    with pytest.warns(CalibrationWarning, match="records left out of the calibration"):
        predictor = calibrate_from_paths([mlperf_dir / "results"], models=[mlperf_dir / "models"])
    assert predictor.n_records_ >= 160
    assert predictor.classes_ == ["conv/int8", "depthwise_conv/int8", "fully_connected/int8", "other/int8"]
    kws = load_model(mlperf_dir / "models" / "kws_ref_model.tflite")
    result = predict_with_calibration(kws, "NUCLEO-L4R5ZI", predictor, framework="X-CUBE-AI v7.3.0")
    assert result.latency_s == pytest.approx(0.075058, rel=0.15)  # v1.0 STMicroelectronics, measured 75.06 ms
    assert result.bound_latency_s < result.latency_s

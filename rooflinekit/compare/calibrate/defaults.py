"""The calibrations shipped with rooflinekit, chosen by hardware class (and stack), and extending them with your own
records.

Each shipped calibration (``rooflinekit/calibrations/``) holds a fitted :class:`~.model.CalibratedPredictor` as
JSON and the featurized records it was fitted on as CSV (``<name>_features.csv``), so that
:func:`extend_default_calibration` can refit it with a user's records added. Factors never cross hardware classes,
so the calibration is chosen by the hardware's class (:data:`SHIPPED`) and, for a GPU, by the software stack
asked for (:data:`LATENCY_FRAMEWORKS`; :func:`shipped_name`):

- ``MCU``: ``mlperf_tiny_cortex_m``: MLPerf Tiny v0.5-v1.1, closed division, CPU-only Arm Cortex-M boards (each
  record at its own batch, 1); rebuilt by ``python tools/build_default_calibration.py``;
- ``CPU``, and ``GPU`` under an eager framework it was fitted on (PyTorch): ``eager_latency``: the latency of one
  inference call at the batch given, NAS-Bench-201 (PyTorch on a Xeon and two GPUs at batch 1, 32 and 256, TFLite
  on a Raspberry Pi 4 and a Pixel 3) and NeuSight (PyTorch transformers on six GPUs), with per-call and
  per-kernel overhead terms (the stack's, fitted across classes) and ``fine`` op classes; no regime; rebuilt by
  ``python tools/build_latency_calibration.py``;
- ``GPU`` and ``NPU`` at batch 1 (one sample, under any other stack or none given): ``mlperf_singlestream``: MLPerf
  Inference v2.1, v3.0 and v4.1 closed-division **SingleStream** results of ResNet-50, RetinaNet and BERT-Large
  (the 90th-percentile latency of one sample, queries issued one at a time; TensorRT on GPUs, the Qualcomm SDK on
  the Cloud AI 100), with per-call and per-kernel overhead terms and ``fine`` op classes, carrying its regime
  (batch 1, weights and activations traffic); rebuilt by ``python tools/build_singlestream_calibration.py``;
- ``GPU`` (any other stack, or none given) / ``NPU`` at any other batch: ``mlperf_inference_gpu`` /
  ``mlperf_inference_npu``: MLPerf
  Inference v2.1, v3.0 and v4.1 closed-division **Offline** results of ResNet-50, RetinaNet and BERT-Large (NPU:
  Qualcomm Cloud AI 100), fitted with the conventions of :mod:`.inference_offline` and carrying their **regime**
  (large-batch throughput, costed at 64 samples per accelerator with weights-only traffic; :mod:`.regime` says
  what a request outside it gets); rebuilt by ``python tools/build_gpu_calibration.py``;
- ``FPGA``, ``TPU``, ``VPU``: ``qutibench_accelerators``: QuTiBench's measured throughputs of the Xilinx DPU
  (Ultra96, ZCU102, ZCU104; DNNDK, int8), FINN and BISMO (ZCU104; int2, int4), the Edge TPU at its fast and slow
  clock (TFLite, int8) and the NCS2 (OpenVINO, fp16), each record the time of one batch at its own batch
  (batch / fps), costed with weights-only traffic on ``coarse`` op classes with a per-call overhead term; no
  regime; a QuTiBench catalog network held as totals only is costed as the layer network the records ran
  (:func:`~.regime.records_layer_network`); rebuilt by ``python tools/build_qutibench_calibration.py``.

A class with none (DSP) is refused with a :class:`~rooflinekit.errors.CalibrationError` naming the classes that
have one. A calibration read here carries its regime as ``regime_`` (None for the MCU, eager-latency and
QuTiBench ones); :func:`~.regime.calibration_json` writes it back with the regime.
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from importlib import resources
from io import StringIO
from typing import Any, Iterable

import pandas as pd

from rooflinekit.compare.calibrate.features import BOUND_CHECKED, faster_than_bound
from rooflinekit.compare.calibrate.model import CalibratedPredictor, CalibrationWarning
from rooflinekit.compare.records import normalize_framework
from rooflinekit.descriptors import HardwareKind, HardwareSpec
from rooflinekit.errors import CalibrationError

DEFAULT_NAME = "mlperf_tiny_cortex_m"
"""The MCU calibration (the only one before the others shipped; the default of :func:`default_calibration`)."""
LATENCY_NAME = "eager_latency"
"""The eager-framework latency calibration (NAS-Bench-201 + NeuSight; module docstring)."""
QUTIBENCH_NAME = "qutibench_accelerators"
"""The FPGA / TPU / VPU calibration (QuTiBench; module docstring)."""
SINGLESTREAM_NAME = "mlperf_singlestream"
"""The batch-1 latency calibration of GPUs and NPUs under their vendor stacks (MLPerf Inference SingleStream)."""
SHIPPED = {"MCU": DEFAULT_NAME, "CPU": LATENCY_NAME, "GPU": "mlperf_inference_gpu", "NPU": "mlperf_inference_npu",
           "FPGA": QUTIBENCH_NAME, "TPU": QUTIBENCH_NAME, "VPU": QUTIBENCH_NAME}
"""Hardware class -> the shipped calibration's file stem in ``rooflinekit/calibrations/`` (for a GPU: when the
request names no stack of :data:`LATENCY_FRAMEWORKS`; for a GPU or NPU: at a batch other than one sample,
:data:`SINGLE_SAMPLE`)."""
SINGLE_SAMPLE = {"GPU": SINGLESTREAM_NAME, "NPU": SINGLESTREAM_NAME}
"""Hardware class -> the calibration a request of one sample (batch 1) gets in place of its :data:`SHIPPED` one,
unless its stack is one of :data:`LATENCY_FRAMEWORKS`: the records of one sample's latency, which the large-batch
throughput of the :data:`SHIPPED` one overestimates 2-5x (``benchmarks/fidelity/RESULTS.md``)."""
LATENCY_FRAMEWORKS = {"GPU": ("PyTorch",)}
"""Hardware class -> the stacks (families, :func:`~rooflinekit.compare.records.normalize_framework`) whose requests
get :data:`LATENCY_NAME` in place of the class's :data:`SHIPPED` one: those its records ran on that class."""
DESCRIPTIONS = {"MCU": "MLPerf Tiny, Cortex-M", "CPU": "eager latency, NAS-Bench-201 + NeuSight",
                "GPU": "MLPerf Inference Offline; batch 1: MLPerf Inference SingleStream; framework PyTorch: eager "
                       "latency, NAS-Bench-201 + NeuSight",
                "NPU": "MLPerf Inference Offline; batch 1: MLPerf Inference SingleStream", "FPGA": "QuTiBench, Xilinx DPU, FINN and BISMO",
                "TPU": "QuTiBench, Edge TPU", "VPU": "QuTiBench, NCS2"}
"""Hardware class -> the records of its shipped calibrations, in a few words (for messages)."""


def hardware_class(hardware: HardwareSpec | HardwareKind | str | None) -> str:
    """The class name (``GPU``) of a spec, a kind or a class name; None means ``MCU`` (the first one shipped)."""
    if hardware is None:
        return "MCU"
    if isinstance(hardware, HardwareSpec):
        return hardware.kind.value
    return hardware.value if isinstance(hardware, HardwareKind) else str(hardware).strip().upper()


def shipped_name(hardware: HardwareSpec | HardwareKind | str | None, framework: str | None = None,
                 batch: int | None = None) -> str:
    """The file stem of the calibration shipped for ``hardware``'s class, the stack ``framework`` (any spelling;
    None: not given) and ``batch`` samples (None: not given): :data:`LATENCY_NAME` for a class and stack of
    :data:`LATENCY_FRAMEWORKS` (the stack family compared case-blind), else the class's :data:`SINGLE_SAMPLE` one
    at batch 1, else its :data:`SHIPPED` one; a class with none raises :class:`CalibrationError` naming the classes
    that have one."""
    kind = hardware_class(hardware)
    if kind not in SHIPPED:
        shipped = ", ".join(f"{name} ({DESCRIPTIONS[name]})" for name in SHIPPED)
        where = f" ({hardware.name})" if isinstance(hardware, HardwareSpec) else ""
        raise CalibrationError(f"no calibration for hardware class {kind}{where} ships with rooflinekit (shipped: "
                               f"{shipped}); use the roofline bound, or fit one on your records with 'rooflinekit "
                               "calibrate' and pass it with --calibration / calibration=")
    family, _ = normalize_framework(framework)
    if family is not None and family.casefold() in {name.casefold() for name in LATENCY_FRAMEWORKS.get(kind, ())}:
        return LATENCY_NAME
    if batch == 1 and kind in SINGLE_SAMPLE:
        return SINGLE_SAMPLE[kind]
    return SHIPPED[kind]


def _packaged(name: str, suffix: str) -> str:
    return (resources.files("rooflinekit") / "calibrations" / f"{name}{suffix}").read_text(encoding="utf-8")


@lru_cache(maxsize=len({*SHIPPED.values(), LATENCY_NAME, *SINGLE_SAMPLE.values()}))
def _default_json(name: str) -> str:
    return _packaged(name, ".json")


def default_calibration(hardware: HardwareSpec | HardwareKind | str | None = None,
                        framework: str | None = None, batch: int | None = None) -> CalibratedPredictor:
    """A fresh copy of the calibration shipped for ``hardware``'s class (a spec, kind or class name; None: the
    MCU one), the stack ``framework`` and ``batch`` samples (:func:`shipped_name`), carrying its regime as
    ``regime_`` (module docstring)."""
    from rooflinekit.compare.calibrate.regime import read_calibration

    return read_calibration(_default_json(shipped_name(hardware, framework, batch)))


def default_features(hardware: HardwareSpec | HardwareKind | str | None = None,
                     framework: str | None = None, batch: int | None = None) -> pd.DataFrame:
    """The featurized records the calibration shipped for ``hardware``'s class, the stack ``framework`` and
    ``batch`` samples (:func:`shipped_name`) was fitted on (one row per record)."""
    return pd.read_csv(StringIO(_packaged(shipped_name(hardware, framework, batch), "_features.csv")))


def extend_default_calibration(features: pd.DataFrame, hardware: HardwareSpec | HardwareKind | str | None = None,
                               framework: str | None = None, batch: int | None = None,
                               **params: Any) -> CalibratedPredictor:
    """The shipped calibration refitted with ``features`` added to its own records.

    ``features``: :func:`~.features.calibration_features` of your records (for a GPU / NPU built as the shipped
    MLPerf Inference ones were: :func:`~.inference_offline.featurize` of Offline throughputs,
    :func:`~.inference_offline.featurize_records` of latencies inside the regime; for the eager-latency one with
    ``op_classes="fine"``). ``hardware``, ``framework`` and ``batch``: the class, stack and samples per request
    whose shipped calibration to extend (:func:`shipped_name`; default: the hardware classes of ``features``, all
    of which must share one shipped calibration, else MCU, the stack family of ``features`` when all its records
    name the same one, so that PyTorch records on a GPU extend the eager-latency calibration, and no batch: a
    GPU's or NPU's Offline one; ``batch=1`` extends the SingleStream one). ``params`` go to
    :class:`~.model.CalibratedPredictor` (default: the shipped calibration's). The result carries the shipped
    regime, and the records it was fitted on (the shipped ones, then ``features``) as ``features_``. Records
    measured faster than their roofline bound warn a :class:`~.model.CalibrationWarning`
    (:func:`~.features.faster_than_bound`), unless :func:`~.features.calibration_features` built ``features`` and
    warned of them already.
    """
    from rooflinekit.compare.calibrate.regime import regime_of, with_regime

    if framework is None:
        framework = common_stack(features)
    if hardware is None and "hardware_class" in features.columns:
        hardware = shipped_class(features["hardware_class"].dropna().astype(str), framework)
    shipped = default_calibration(hardware, framework, batch)
    impossible = None if features.attrs.get(BOUND_CHECKED) else faster_than_bound(features)
    if impossible:
        warnings.warn(impossible, CalibrationWarning, stacklevel=2)
    combined = pd.concat([default_features(hardware, framework, batch), features], ignore_index=True)
    times = [c for c in combined.columns if c.startswith("roofline_s:")]
    combined[times] = combined[times].fillna(0.0)  # a class time one side lacks: 0 s
    fitted = CalibratedPredictor(**{**shipped.get_params(), **params}).fit(combined)
    fitted.features_ = combined
    return with_regime(fitted, regime_of(shipped))


def shipped_class(classes: Iterable[str], framework: str | None = None) -> str | None:
    """The hardware class whose shipped calibration (under the stack ``framework``) records of ``classes`` extend:
    the first of them (sorted), None when there is none; classes whose shipped calibrations differ raise a
    :class:`CalibrationError` (factors never cross classes), and so does a class without one (:func:`shipped_name`)."""
    kinds = sorted(set(classes))
    if len({shipped_name(kind, framework) for kind in kinds}) > 1:
        raise CalibrationError(f"features hold hardware classes {kinds}, whose shipped calibrations differ; "
                               "extend one class at a time (factors never cross classes)")
    return kinds[0] if kinds else None


def common_stack(records: pd.DataFrame) -> str | None:
    """The stack family (:func:`~rooflinekit.compare.records.normalize_framework`) every record of ``records``
    names, None when they name none or several."""
    if "framework" not in records.columns:
        return None
    families = {normalize_framework(value)[0] for value in records["framework"].dropna().astype(str)}
    return families.pop() if len(families) == 1 else None

"""MLPerf Inference **Offline** records as calibration features: the conventions of the GPU / NPU calibration.

One set of conventions, used three times: by ``benchmarks/fidelity/mlperf_inference.py`` (forward-in-time
cross-validation), by ``tools/build_gpu_calibration.py`` (the calibrations shipped in ``rooflinekit/calibrations``)
and by a calibrated prediction on a GPU or NPU (:func:`query_keys`, :func:`regime_network`), so that a prediction
is keyed and costed exactly as the records its factors were fitted on.

Rows: the closed-division Offline results of ``resnet50``, ``retinanet`` and ``bert-99``/``bert-99.9``, one per
(round, system, benchmark), as throughput per accelerator (system throughput / accelerators); :func:`select` says
why every other row is left out.

Costing (the calibration's **regime**): every row is costed at :data:`OFFLINE_BATCH` samples per accelerator with
:data:`TRAFFIC` = weights only (read once per batch; activations stay on chip, as in fused large-batch engines).
At 64 samples the weight traffic is well under the compute time of every row (BERT-Large int8 on a Cloud AI 100,
137 GB/s: 5.3 MB of weights per sample ~ 38 us against ~ 300 us of compute), so the bound is the compute-bound
steady state that large Offline batches reach. The measured time of a batch is

    latency_s = OFFLINE_BATCH / throughput_per_accelerator      (s per batch of 64 samples)

Networks: ResNet-50 v1.5 and RetinaNet (ResNeXt-50 FPN, 800x800) from :mod:`rooflinekit.networks.mlperf`, and
BERT-Large costed at :data:`BERT_TOKENS` real tokens per sample (the harnesses drop padding, 54 % of the SQuAD v1.1
tokens at length 384: 0.46 x 384 = 177). Precision: the row's stated weight type, int8 where none or a mixed one
is stated. Jetson rows whose notes say the GPU ran alone are costed on a GPU-only copy of the spec.

Keys (the levels of :class:`~rooflinekit.compare.calibrate.CalibratedPredictor`): core family = the
micro-architecture of the spec's family (:data:`ARCHITECTURES`); framework = the software stack (Jetson's TensorRT
keyed apart as ``TensorRT (Jetson)``, :func:`stack_key`); framework version = the round (``round v4.1``: the
stated release stays in ``stack_release``); system = the device (:data:`SYSTEM_COLUMNS`); op classes conv,
grouped conv, fully connected and other per compute dtype (:data:`OP_CLASSES`). The benchmark's docstring tells
why each was chosen and what it measured.
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from rooflinekit.catalog import get_hardware
from rooflinekit.compare.calibrate.features import calibration_features
from rooflinekit.compare.loaders import load_mlperf_inference
from rooflinekit.descriptors import AggregateNetwork, HardwareSpec, LayerNetwork, NetworkSpec
from rooflinekit.descriptors.hardware import device_differences
from rooflinekit.errors import CalibrationWarning
from rooflinekit.networks.mlperf import mlperf_network

NETWORKS = ("resnet50", "retinanet", "bert-large")
"""The loader's network names of the three benchmarks used."""
OFFLINE_BATCH = 64
"""Samples per accelerator per batch at which Offline rows are costed (module docstring)."""
BERT_TOKENS = 177
"""Real tokens per SQuAD sample after the harness drops padding: 0.46 x 384 (module docstring)."""
TRAFFIC = "weights_only"
"""The memory-traffic assumption of the features (module docstring)."""
OP_CLASSES = "grouped"
"""The op-class scheme (:func:`~rooflinekit.compare.calibrate.op_class`): conv, grouped conv, fully connected and
other, per compute dtype."""
SYSTEM_COLUMNS = ("catalog_hardware",)
"""The calibrated predictor's system level: the device (and Jetson's engine set), whatever its software release."""
ARCHITECTURES = {"A100": "Ampere", "H100": "Hopper", "Ada Lovelace": "Ada Lovelace", "Ampere": "Ampere",
                 "Turing": "Turing", "Jetson": "Jetson (Ampere GPU + DLA)", "Cloud AI 100": "Cloud AI 100"}
"""Spec ``family`` -> the micro-architecture keyed at the ``core_family`` level (A100 is an Ampere GPU like the
A2, A10, A30 and A40; Jetson modules are their own family: a power-capped SoC GPU with DLAs on shared LPDDR5)."""
GPU_ONLY = " [GPU only]"
"""Suffix of the hardware key of a Jetson row costed on its GPU engine alone."""
JETSON_STACK = "TensorRT (Jetson)"
"""The stack key of TensorRT on a Jetson module (it ships with JetPack on another release train)."""
DEFAULT_STACKS = {"GPU": "TensorRT", "NPU": "Qualcomm Cloud AI SDK"}
"""The stack a query without a ``framework`` is keyed under, per hardware class: the stack of most records."""
LAYER_NETWORKS = {"ResNet-50": ("resnet50", {})}
"""Catalog networks held as totals only whose layer network the records were costed on (name -> MLPerf benchmark
and options of :func:`~rooflinekit.networks.mlperf.mlperf_network`)."""


def networks() -> dict[tuple[str, str], LayerNetwork]:
    """``{(record network, precision): LayerNetwork}`` for every precision the rows use (int8, fp16, fp32)."""
    return dict(_networks())


@lru_cache(maxsize=1)
def _networks() -> dict[tuple[str, str], LayerNetwork]:
    index = {}
    for precision in ("int8", "fp16", "fp32"):
        index[("resnet50", precision)] = mlperf_network("resnet50", precision=precision)
        index[("retinanet", precision)] = mlperf_network("retinanet", precision=precision)
        index[("bert-large", precision)] = mlperf_network("bert-99", precision=precision, seq_len=BERT_TOKENS)
    return index


SCENARIO_REASONS = {
    "Offline": "Offline: large-batch throughput, the regime of the shipped Offline calibration, not batch-1 latency",
    "SingleStream": "SingleStream: batch-1 latency, a launch-overhead regime this Offline throughput scheme does not "
                    "model",
}
"""Why a row of each scenario is left out of the other scenario's scheme."""


def select(records: pd.DataFrame, scenario: str = "Offline") -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(kept, left_out)``: the ``scenario`` rows (``Offline``, or ``SingleStream`` for the batch-1 latency
    calibration) of the three networks at the spec's operating mode; the rest with a ``reason``."""
    reasons = pd.Series("", index=records.index)
    reasons[records.network == "3d-unet"] = (
        "3d-unet: a sample is a CT volume of case-dependent size (a varying number of 128^3 patches), not in the "
        "table")
    reasons[records.network.isin(("gptj-6b", "llama2-70b"))] = (
        "LLM tokens/s: prefill and decode phases, not this per-sample scheme")
    reasons[(reasons == "") & ~records.network.isin(NETWORKS)] = "benchmark not scored here"
    other = (reasons == "") & (records.scenario != scenario)
    reasons[other] = records.scenario[other].map(SCENARIO_REASONS)
    reasons[(reasons == "") & (records.operating_mode == "MaxQ")] = (
        "MaxQ: power-capped clocks, not the operating mode the spec describes")
    return records[reasons == ""], records[reasons != ""].assign(reason=reasons[reasons != ""])


def gpu_only(spec: HardwareSpec) -> HardwareSpec:
    """A copy of a multi-engine spec keeping only its engine named ``GPU``, named ``<name> [GPU only]``."""
    data = spec.model_dump(exclude_none=True)
    data["engines"] = [engine for engine in data["engines"] if engine["name"] == "GPU"]
    data["name"] = spec.name + GPU_ONLY
    data.pop("aliases", None)
    data.pop("peak_ops_per_s", None)
    return HardwareSpec.model_validate(data)


def stack_key(framework: str | None, hardware: str) -> str | None:
    """The software stack key: Jetson's TensorRT apart from the data-center one (module docstring)."""
    if framework == "TensorRT" and str(hardware).startswith("Jetson"):
        return JETSON_STACK
    return framework


def architecture(spec: HardwareSpec) -> str:
    """The ``core_family`` key of ``spec``: :data:`ARCHITECTURES` of its family (its family, else its kind, when
    not listed)."""
    family = spec.family or spec.kind.value
    return ARCHITECTURES.get(family, family)


def featurize(records: pd.DataFrame, hardware: Mapping[str, HardwareSpec] | None = None,
              index: Mapping[tuple[str, str], NetworkSpec] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(features, skipped)``: Offline records costed and keyed as the module docstring says.

    ``records``: one row per (system, benchmark) with ``hardware`` (a catalog name, or a key of ``hardware``),
    ``network`` (``resnet50``, ``retinanet``, ``bert-large``, or a key of ``index``), ``throughput_fps`` (samples/s
    **per accelerator**), optional ``precision`` (default int8), ``framework``, ``round`` (the release key) and
    ``engines_used`` (``GPU``: a Jetson costed on its GPU alone). Adds ``latency_s`` = batch / throughput_fps (s)
    and what :func:`key_records` adds. Rows that cannot be costed are in ``skipped`` with a ``reason``.
    """
    rows = records.copy()
    rows["precision"] = rows["precision"].fillna("int8") if "precision" in rows.columns else "int8"
    rows["latency_s"] = OFFLINE_BATCH / rows["throughput_fps"]
    return key_records(rows, OFFLINE_BATCH, TRAFFIC, OP_CLASSES, hardware, index)


def key_records(records: pd.DataFrame, batch: int, traffic: str, op_classes: str,
                hardware: Mapping[str, HardwareSpec] | None = None,
                index: Mapping[tuple[str, str], NetworkSpec] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(features, skipped)``: records whose ``latency_s`` is the time of ``batch`` samples on one accelerator,
    costed at ``batch`` with ``traffic`` and ``op_classes`` (:func:`~.features.calibration_features`, networks
    from :func:`networks` and ``index``, hardware from ``hardware`` or the catalog) and keyed by these conventions:
    ``framework`` the stack key (:func:`stack_key`), ``batch`` set, a Jetson whose ``engines_used`` is ``GPU``
    costed on its GPU alone (:func:`gpu_only`), ``device`` (the accelerator), ``core_family``
    (:func:`architecture`) and ``stack_release`` (the stated version; ``framework_version`` is cleared, so a
    release is keyed by its round)."""
    rows = records.copy()
    frameworks = rows["framework"] if "framework" in rows.columns else pd.Series(None, index=rows.index)
    rows["framework"] = [stack_key(f, h) for f, h in zip(frameworks, rows["hardware"])]
    rows["batch"] = batch
    specs = dict(hardware or {})
    if "engines_used" in rows.columns:
        only = rows["engines_used"].eq("GPU") & rows["hardware"].str.startswith("Jetson")
        for name in rows.loc[only, "hardware"].unique():
            specs[name + GPU_ONLY] = gpu_only(specs.get(name) or get_hardware(name))
        rows.loc[only, "hardware"] = rows.loc[only, "hardware"] + GPU_ONLY
    features, skipped = calibration_features(rows, {**networks(), **(index or {})}, specs, traffic=traffic,
                                             op_classes=op_classes)
    named = {spec.name: spec for spec in specs.values()}  # a hardware file's spec, by the name costed under
    features["device"] = [str(name).removesuffix(GPU_ONLY) for name in features["catalog_hardware"]]
    features["core_family"] = [architecture(named.get(name) or get_hardware(name))
                               for name in features["catalog_hardware"]]
    features["stack_release"] = features["framework_version"] if "framework_version" in features.columns else None
    features["framework_version"] = None  # releases keyed by round (module docstring)
    return features, skipped


def featurize_records(records: pd.DataFrame, batch: int, traffic: str, op_classes: str,
                      hardware: Mapping[str, HardwareSpec] | None = None,
                      index: Mapping[tuple[str, str], NetworkSpec] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(features, skipped)``: a user's latency records (the records schema: ``latency_s`` of a batch of
    ``batch_r`` samples on one accelerator, ``batch_r`` from the ``batch`` column, 1 where missing) joined to a
    calibration of these conventions whose regime costs ``batch`` samples per accelerator: each record's time
    scaled to ``batch`` samples, ``latency_s x batch / batch_r`` (the time per sample of a sustained stream; 1 / 1 for
    SingleStream), then :func:`key_records`. The caller keeps to records inside the regime
    (:meth:`~.regime.CalibrationRegime.contains`). Precision as the record states it, else the network's own. A
    catalog network held as totals only whose layer network the records ran (:data:`LAYER_NETWORKS`, any case:
    ``ResNet-50``) is that network (``resnet50``), as :func:`regime_network` costs it in a prediction."""
    own = records["batch"] if "batch" in records.columns else pd.Series(1, index=records.index)
    layered = {name.casefold(): benchmark for name, (benchmark, _) in LAYER_NETWORKS.items()}
    rows = records.assign(latency_s=records["latency_s"] * batch / own.fillna(1).astype(float),
                          network=[layered.get(str(name).casefold(), name) for name in records["network"]])
    return key_records(rows, batch, traffic, op_classes, hardware, index)


def load_features(data: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(features, left_out)``: the Offline rows of the MLPerf Inference table in ``data`` (the loader's
    records) featurized by :func:`featurize`, and every table row not used, with a ``reason`` (loader rejections,
    :func:`select`, rows that could not be costed, rows faster than their bound). Together they hold each input
    row once."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = load_mlperf_inference(data)
    kept, left_out = select(loaded.records)
    with warnings.catch_warnings():  # rows faster than their bound are left out below, with their own reason
        warnings.filterwarnings("ignore", ".*measured faster than the roofline bound", CalibrationWarning)
        features, unresolved = featurize(kept)
    beyond = features["roofline_latency_s"] > features["latency_s"]
    impossible = features[beyond].assign(reason=(
        "measured throughput exceeds the compute and weight-traffic bound at the stated precision (e.g. fp32 "
        "stated for a TensorRT engine that ran int8): the stated precision is not what ran"))
    left_out = pd.concat([loaded.rejected, left_out, unresolved, impossible], ignore_index=True)
    return features[~beyond], left_out


RECORD_NETWORKS = {"ResNet-50-v1.5": "resnet50", "RetinaNet-ResNeXt50-FPN-800": "retinanet",
                   f"BERT-Large-SQuAD s{BERT_TOKENS}": "bert-large"}
"""The names of the networks the records were costed on (:func:`networks`, every precision) -> the records' names;
kept as names so that keying a prediction builds none of them (tests check them against the built networks)."""


def record_network(network: NetworkSpec) -> str:
    """The records' name of ``network`` (``resnet50``, ``retinanet``, ``bert-large``) when it is a network the
    records were costed on (:data:`RECORD_NETWORKS`, matched by name), else its own name: the key by which a
    calibration tells a network its records had from a new one (the new-network interval of :mod:`.intervals`)."""
    return RECORD_NETWORKS.get(network.name, network.name)


_NOT_THE_DEVICE = frozenset({"name", "aliases", "interconnect", "source", "notes", "peak_ops_per_s"})
"""Spec fields that do not describe what one device computes with (names, sources, the links of a system) or that
:func:`member_device` compares on their own (the peaks)."""


def _device_fields(spec: HardwareSpec) -> dict[str, Any]:
    """What ``spec`` says of one device beyond its peaks: every field but :data:`_NOT_THE_DEVICE`, its memories
    without their ``source``."""
    fields = spec.model_dump(exclude=set(_NOT_THE_DEVICE))
    fields["memories"] = [{k: v for k, v in memory.items() if k != "source"} for memory in fields["memories"]]
    return fields


def member_device(spec: HardwareSpec) -> HardwareSpec | None:
    """The catalog device that a system of several identical devices (``spec`` with an ``interconnect``, whose
    peaks and memories are one device's) is made of; None for one device, or when none is found.

    A system naming its device (``interconnect.member``, as every catalog system does) is made of that device
    while what it says of one device equals the device's
    (:func:`~rooflinekit.descriptors.hardware.device_differences`; loading a spec from a file refuses one that
    differs, so None here means a copy changed since, such as a point of a hardware grid, which no record had);
    a member the catalog does not hold is a :class:`~rooflinekit.errors.SpecError`
    (:func:`~rooflinekit.catalog.resolve_member`). Without the field, a catalog device (without an interconnect)
    matches when every field that describes one device is equal (kind, family, core type, clock, compute units,
    TDP, default precision, engines, the memories' names, capacities, bandwidths and roles) and its peaks agree
    with the system's on every data type both list, and the system is made of it when exactly one matches. The
    DGX H100 names H100-SXM5-80GB: its calibrated prediction is keyed on that device (:func:`query_keys`).
    """
    if spec.interconnect is None:
        return None
    from rooflinekit.catalog import hardware_catalog, resolve_member

    if spec.interconnect.member is not None:
        member = resolve_member(spec)
        return None if device_differences(spec, member) else member

    fields = _device_fields(spec)
    matches = [device for device in hardware_catalog().specs
               if device.interconnect is None and device.kind == spec.kind
               and set(device.peak_ops_per_s) & set(spec.peak_ops_per_s)
               and all(device.peak_ops_per_s[d] == spec.peak_ops_per_s[d]
                       for d in set(device.peak_ops_per_s) & set(spec.peak_ops_per_s))
               and _device_fields(device) == fields]
    return matches[0] if len(matches) == 1 else None


def query_keys(spec: HardwareSpec, framework: str | None, network: NetworkSpec | None = None) -> dict[str, Any]:
    """The calibration keys of a prediction on ``spec`` under the stack family ``framework`` (None: the
    :data:`DEFAULT_STACKS` of its class): ``core_family`` and ``framework`` as the records were keyed, and, given
    the ``network``, its :func:`record_network` as ``network``. A system of several identical devices whose
    device the catalog holds (:func:`member_device`) is keyed as that device, ``catalog_hardware`` (the system
    level and the device the interval asks about): the records are per accelerator (system throughput /
    accelerators, of systems of 1 to 24 accelerators, 8 the most common), so its device's factors are the ones
    measured."""
    stack = framework if framework is not None else DEFAULT_STACKS.get(spec.kind.value)
    keys: dict[str, Any] = {"core_family": architecture(spec), "framework": stack_key(stack, spec.name)}
    member = member_device(spec)
    if member is not None:
        keys["catalog_hardware"] = member.name
    return keys if network is None else {**keys, "network": record_network(network)}


def regime_network(network: NetworkSpec) -> tuple[NetworkSpec, str | None]:
    """``(network, note)``: a catalog network held as totals only (:data:`LAYER_NETWORKS`) replaced by the layer
    network its records were costed on, with a note saying so; any other network as it is (note None)."""
    if not isinstance(network, AggregateNetwork) or network.name not in LAYER_NETWORKS:
        return network, None
    benchmark, options = LAYER_NETWORKS[network.name]
    layered = mlperf_network(benchmark, precision=network.precision.label, **options)
    return layered, (f"{network.name}: the catalog entry holds totals only; costed per layer as the MLPerf "
                     f"'{benchmark}' reference network the calibration records ran ({layered.name})")


def workload_note(network: NetworkSpec, precision: str | None = None) -> str | None:
    """A note for a layer network named ``BERT-Large`` (the catalog entry, 384 tokens per sample) costed at
    ``precision`` (None: the network's own) that is not the BERT workload the records ran (``BERT-Large-SQuAD
    s177``: :data:`BERT_TOKENS` real tokens per sample, the harness dropping padding, int8): the calibration treats
    it as a network its records never ran (the wider new-network interval), and the note names the call that
    builds the records' workload; None for any other network."""
    if network.name != "BERT-Large" or not isinstance(network, LayerNetwork) or not network.layers:
        return None
    inputs = network.layers[0].inputs
    tokens = f"{inputs[0][-1]} tokens" if inputs and inputs[0] else "its own sequence length"
    return (f"{network.name}: costed at {tokens} per sample, {precision or network.precision.label}; the "
            f"calibration's BERT records ran {BERT_TOKENS} real tokens per sample (the MLPerf harness drops padding) "
            "at int8, so this is a network new to the calibration (wider interval); MLPerf's BERT workload is "
            f"rooflinekit.networks.mlperf_network('bert-99', seq_len={BERT_TOKENS}, precision='int8')")

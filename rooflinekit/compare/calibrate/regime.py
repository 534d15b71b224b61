"""The regime a shipped calibration was fitted in, and calibrated predictions that stay honest about it.

A calibration's factors hold for the conditions its records were measured and costed in, its **regime**. The
MLPerf Inference calibrations (GPU, NPU) were fitted on Offline results: sustained large-batch throughput, each
record costed at ``batch`` = 64 samples per accelerator with weights-only traffic (weights read once per batch,
activations on chip), so

    latency_s(B) = sum_c F_c * T_c(B)      for B >= batch (B: samples per accelerator per batch)

is the time of a batch of B in a sustained stream, and ``fps = B / latency_s`` the throughput per accelerator.

Outside the regime: warn, do not refuse. A request of B < ``batch`` samples (batch 1, a latency question) is
governed by what the records never contained: kernel launches, host and framework overhead, and weights streamed
from DRAM for few samples (GPU batch-1 latencies of small CNNs are hundreds of times the compute bound). Applying
the factors to a batch-1 roofline would mix a compute-bound fit with a memory-bound feature and name it an
estimate. Instead the estimate is costed in the regime (at ``batch``) and scaled to B samples,

    latency_s(B) = B / fps(batch),   B < batch

i.e. B samples' share of a sustained stream: the calibrated throughput (which is what the interval's measured
coverage refers to) and an optimistic (low) figure for the latency of a lone batch of B, which the warning and the
prediction's notes say. Its classes' and layers' roofline times are the regime's scaled alike; its
``bound_latency_s`` (and ``efficiency_pct``) is the bound of the batch asked for, the layer-mode roofline of a
batch of B (weights read once per B samples), which can exceed the scaled figure: an efficiency above 100 % says
the scaled estimate is faster than a lone batch of B can run unless its weights stay on chip between batches (a
note says so). Refusing would hide the one number the calibration does know (the device's sustained rate) behind
an error on every default call (``batch`` defaults to 1); the warning names the regime instead, once per
prediction, as a :class:`~.model.CalibrationWarning`.

A regime can also end above: the MLPerf Inference SingleStream calibration's records each held one sample per
query (``batch`` = ``batch_max`` = 1), so a request of B > ``batch_max`` samples is outside it too. Nothing scales
there: the batch is costed as one call of B samples with the factors of those records (per-call and per-kernel
overheads paid once per call), an extrapolation that a warning and the prediction's notes name, its interval
measured on lone samples only. ``calibrated=True`` without a ``calibration`` never asks it that (a batch of
several samples gets the Offline calibration); naming the file does.

A calibration carries its regime as the ``regime`` member of its JSON (:meth:`CalibrationRegime.to_dict`; the
predictor's own fields are unchanged, so :func:`~.model.load_calibration` reads the file as before) and, once read
(:func:`read_calibration`, :func:`load_regime_calibration`), as the predictor's ``regime_`` attribute.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Mapping

import pandas as pd

from rooflinekit._warnings import caller_stacklevel
from rooflinekit.compare.calibrate.model import (
    KEY_SEPARATOR, CalibratedPredictor, CalibrationWarning, load_calibration,
)
from rooflinekit.compare.calibrate.extrapolation import (
    extrapolation_message, extrapolation_notes, network_extrapolation_message, network_out_of_range,
    network_range_notes, out_of_range,
)
from rooflinekit.compare.calibrate.features import class_layers, network_index
from rooflinekit.compare.calibrate.workflow import CalibratedPrediction, predict_with_calibration
from rooflinekit.compare.records import normalize_framework
from rooflinekit.descriptors import HardwareSpec, NetworkSpec
from rooflinekit.display import listed, si
from rooflinekit.errors import CalibrationError, RooflineError

CONVENTIONS = {"mlperf_inference_offline": "rooflinekit.compare.calibrate.inference_offline"}
"""Conventions a regime's queries are keyed and costed by (name -> module with ``query_keys``, ``regime_network``,
``workload_note`` and ``RECORD_NETWORKS``; imported when first used: it builds the MLPerf networks)."""


def conventions_module(name: str) -> ModuleType:
    """The module of the conventions ``name`` (:data:`CONVENTIONS`)."""
    if name not in CONVENTIONS:
        raise CalibrationError(f"calibration regime conventions {name!r} unknown; known: {sorted(CONVENTIONS)}; "
                               "update rooflinekit or rebuild the calibration")
    return importlib.import_module(CONVENTIONS[name])


@dataclass(frozen=True)
class CalibrationRegime:
    """Where a calibration holds.

    Attributes
    ----------
    name : str
        The records' benchmark and scenario (``MLPerf Inference Offline``).
    description : str
        What a record measured, in words (``large-batch throughput ...``).
    batch : int
        Samples per accelerator each record was costed at; a request with fewer lies outside the regime.
    traffic : str
        The memory-traffic assumption of the features (``weights_only``).
    conventions : str
        Key of :data:`CONVENTIONS`: how a query is keyed (core family, stack) and which networks it is costed on.
    records : str
        The records the calibration was fitted on (benchmark, rounds, divisions, rows).
    batch_max : int or None
        The most samples per accelerator a record held (SingleStream: 1, one sample per query); a request with
        more lies outside the regime. None (the default): no upper limit (Offline: every batch >= ``batch`` is a
        sustained stream).
    """

    name: str
    description: str
    batch: int
    traffic: str
    conventions: str
    records: str
    batch_max: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The regime as JSON-ready values (``batch_max`` only when there is one)."""
        values = dataclasses.asdict(self)
        if self.batch_max is None:
            del values["batch_max"]
        return values

    def contains(self, batch: int) -> bool:
        """Whether a request of ``batch`` samples per accelerator lies in the regime: ``batch`` <= it <=
        ``batch_max``."""
        return self.batch <= batch and (self.batch_max is None or batch <= self.batch_max)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CalibrationRegime":
        """A regime from :meth:`to_dict` output; :class:`CalibrationError` naming what is missing or unknown."""
        try:
            regime = cls(str(data["name"]), str(data["description"]), int(data["batch"]), str(data["traffic"]),
                         str(data["conventions"]), str(data["records"]),
                         None if data.get("batch_max") is None else int(data["batch_max"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise CalibrationError(f"calibration regime incomplete or malformed ({type(exc).__name__}: {exc}); "
                                   "rebuild the calibration with its tools/ script") from None
        conventions_module(regime.conventions)
        if regime.batch < 1:
            raise CalibrationError(f"calibration regime batch must be >= 1 sample, got {regime.batch}")
        if regime.batch_max is not None and regime.batch_max < regime.batch:
            raise CalibrationError(f"calibration regime batch_max ({regime.batch_max}) is below its batch "
                                   f"({regime.batch}); rebuild the calibration with its tools/ script")
        return regime

    def summary(self) -> str:
        """One line: the regime's name, what it measured and its costing."""
        samples = "1 sample" if self.batch == 1 else f"{self.batch} samples"
        return (f"{self.name} ({self.description}; costed at {samples} per accelerator, "
                f"{self.traffic.replace('_', ' ')} traffic)")


def regime_of(calibration: CalibratedPredictor) -> CalibrationRegime | None:
    """The regime a calibration carries (``regime_``), None for one without (any user-fitted calibration)."""
    regime = getattr(calibration, "regime_", None)
    return regime if isinstance(regime, CalibrationRegime) else None


def with_regime(calibration: CalibratedPredictor, regime: CalibrationRegime | None) -> CalibratedPredictor:
    """``calibration`` carrying ``regime`` as its ``regime_`` attribute (returned for chaining)."""
    calibration.regime_ = regime  # type: ignore[attr-defined]
    return calibration


def calibration_json(calibration: CalibratedPredictor) -> str:
    """:meth:`~.model.CalibratedPredictor.to_json` with the regime, when it has one, as the ``regime`` member."""
    data = json.loads(calibration.to_json())
    regime = regime_of(calibration)
    if regime is not None:
        data["regime"] = regime.to_dict()
    return json.dumps(data, indent=1, allow_nan=False)


def read_calibration(text: str) -> CalibratedPredictor:
    """A fitted predictor from :func:`calibration_json` (or plain ``to_json``) text, carrying its regime."""
    predictor = CalibratedPredictor.from_json(text)
    regime = json.loads(text).get("regime")
    return with_regime(predictor, None if regime is None else CalibrationRegime.from_dict(regime))


def load_regime_calibration(path: str | Path) -> CalibratedPredictor:
    """:func:`~.model.load_calibration` of ``path``, carrying the regime its JSON names (if any)."""
    predictor = load_calibration(path)
    regime = json.loads(Path(path).read_text(encoding="utf-8")).get("regime")
    return with_regime(predictor, None if regime is None else CalibrationRegime.from_dict(regime))


QUTIBENCH_LAYER_NETWORKS = {"CNV": "FINN-CNV", "MLP": "FINN-MLP"}
"""QuTiBench's CIFAR-10 and MNIST catalog networks (totals only) -> the catalog layer network of the same pruning;
its ImageNet ones are built by :func:`rooflinekit.networks.imagenet.qutibench_network`."""


def regime_network(network: NetworkSpec, calibration: CalibratedPredictor) -> tuple[NetworkSpec, str | None]:
    """``(network, note)``: the network a calibrated prediction is costed on (a catalog network held as totals
    only becomes the layer network the regime's records ran, see :func:`~.inference_offline.regime_network`; for
    a calibration without a regime, the one its records ran, :func:`records_layer_network`)."""
    regime = regime_of(calibration)
    if regime is None:
        return records_layer_network(network, calibration)
    return conventions_module(regime.conventions).regime_network(network)


def records_layer_network(network: NetworkSpec, calibration: CalibratedPredictor) -> tuple[NetworkSpec, str | None]:
    """``(network, note)``: a QuTiBench catalog network held as totals only replaced by its layer network (the
    catalog's ``FINN-CNV`` / ``FINN-MLP`` of the same pruning, :data:`QUTIBENCH_LAYER_NETWORKS`; ResNet-50 v1,
    GoogLeNet v1, MobileNet v1 and the EfficientNet-EdgeTPU ones from
    :func:`~rooflinekit.networks.imagenet.qutibench_network`) when the calibration's records ran that layer network
    (it is in ``networks_``, on any hardware class), with a note saying so; any other network, or one the records
    never ran, as it is (note None). So the calibration decides: the QuTiBench one costs ``ResNet-50`` as v1, the
    MLPerf ones (a regime, :func:`~.inference_offline.regime_network`) as v1.5. A QuTiBench network at a pruning
    no layer network has (ResNet-50 at 80, 50 or 30 %: QuTiBench publishes their totals only) stays as it is."""
    from rooflinekit.descriptors import AggregateNetwork
    from rooflinekit.networks.imagenet import QUTIBENCH_NETWORKS

    if not isinstance(network, AggregateNetwork) or network.name not in {*QUTIBENCH_LAYER_NETWORKS,
                                                                         *QUTIBENCH_NETWORKS}:
        return network, None
    layered = _qutibench_layers(network)
    ran = {key.split(KEY_SEPARATOR, 1)[-1] for key in getattr(calibration, "networks_", [])}
    if layered is None or layered.name not in ran:
        return network, None
    pruned = "" if network.pruning_pct == 100 else f" {network.pruning_pct:g}%"
    return layered, (f"{network.name}{pruned}: the catalog entry holds totals only; costed per layer as "
                     f"{layered.name}{pruned}, the layer network the calibration's QuTiBench records ran")


def _qutibench_layers(network: NetworkSpec) -> NetworkSpec | None:
    """The layer network of a QuTiBench catalog aggregate (:func:`records_layer_network`); None when none has its
    pruning (ResNet-50 at 80, 50 or 30 %)."""
    from rooflinekit.catalog import get_network
    from rooflinekit.networks.imagenet import qutibench_network

    if network.name in QUTIBENCH_LAYER_NETWORKS:
        try:
            return get_network(QUTIBENCH_LAYER_NETWORKS[network.name], network.pruning_pct)
        except RooflineError:
            return None
    if network.pruning_pct != 100:
        return None
    return qutibench_network(network.name, precision=network.precision.label)


def outside_message(regime: CalibrationRegime, network: str, hardware: str, batch: int) -> str:
    """The warning of a request of ``batch`` samples below the regime's (module docstring)."""
    return (f"{network} on {hardware} at batch {batch}: outside the calibration's regime, {regime.summary()}; "
            f"the calibrated estimate is {batch} sample(s) at the calibrated sustained throughput (costed at batch "
            f"{regime.batch} and scaled), an optimistic figure for the latency of a lone batch of {batch}, which "
            "launch, host and weight-streaming overheads the calibration never saw dominate; its interval covers "
            f"throughput at batch >= {regime.batch}, not that latency; batch 1 gets the MLPerf Inference "
            "SingleStream calibration of a lone sample's latency, and for a GPU's latency under PyTorch, "
            "--framework PyTorch (API: framework=\"PyTorch\") selects the eager-latency calibration")


ABOVE_ADVICE = ("without a calibration named, calibrated=True (--calibrated) gives a batch of several samples the "
                "class's Offline throughput calibration")
"""What to do about a request above a regime's ``batch_max`` (:func:`above_message`, and the calibrated sweep's
warning for such rows)."""


def above_message(regime: CalibrationRegime, network: str, hardware: str, batch: int) -> str:
    """The warning of a request of ``batch`` samples above the regime's ``batch_max`` (module docstring)."""
    return (f"{network} on {hardware} at batch {batch}: outside the calibration's regime, {regime.summary()}, whose "
            f"records held at most {regime.batch_max} sample(s) per query; the estimate costs the batch as one call "
            "with those records' factors, an extrapolation its interval (measured on such queries) does not cover; "
            + ABOVE_ADVICE)


def predict_in_regime(network: NetworkSpec, hardware: HardwareSpec, calibration: CalibratedPredictor,
                      framework: str | None = None, framework_version: str | None = None,
                      precision: str | None = None, batch: int = 1) -> tuple[CalibratedPrediction, tuple[str, ...]]:
    """A calibrated prediction keyed, costed and (outside the regime) scaled as the module docstring says.

    Parameters
    ----------
    network : NetworkSpec
        The network (a catalog aggregate the regime knows is replaced by its layer network, with a note).
    hardware : HardwareSpec
        The device; one accelerator, or a system of identical ones (an ``interconnect``): costed and keyed as one
        of them (:func:`~.inference_offline.query_keys`), the system's throughput in a note (:func:`system_notes`).
    calibration : CalibratedPredictor
        A calibration carrying a :class:`CalibrationRegime` (``regime_``); without one this is
        :func:`~.workflow.predict_with_calibration` of :func:`records_layer_network`'s network, its only notes
        that function's note, the interval notes (:func:`interval_notes`, the network keyed by the name its records
        would give it: :func:`~.features.network_index`) and the extrapolation notes below.
    framework, framework_version : str, optional
        The software stack; None: the stack most of the class's records ran (said in a note).
    precision : str, optional
        Compute precision; default the network's.
    batch : int
        Samples per accelerator per batch, B.

    Returns
    -------
    tuple of CalibratedPrediction and tuple of str
        The prediction (per batch of B: ``latency_s`` in s, ``fps`` = B / latency_s in samples/s) and notes: the
        regime, the stack keyed, the conventions' note on a network that is not its records' workload
        (``workload_note``), a widened interval (:func:`interval_notes`), a device whose peak or memory
        bandwidth lies outside the range of the calibration's devices (``extrapolated: ...``,
        :func:`~.extrapolation.device_range_notes`), a network whose work per kernel (MACs / kernels at the batch
        costed) lies outside the range of the calibration's records of the hardware class (``extrapolated: ...``,
        :func:`~.extrapolation.network_range_notes`) and, below the regime, a scaled ``latency_s`` faster than the
        roofline bound of a lone batch of B (``efficiency_pct`` > 100 %), and for a system of several devices how
        they combine (:func:`system_notes`). The regime note ("within the calibration regime") speaks of the
        batch and traffic only, which the device does not change, so it stays beside an extrapolation note.

    Warns
    -----
    CalibrationWarning
        Once when B is below the regime's batch (:func:`outside_message`) or above its ``batch_max``
        (:func:`above_message`), once when the device extrapolates
        (:func:`~.extrapolation.extrapolation_message`), once when the network does
        (:func:`~.extrapolation.network_extrapolation_message`), and for every calibration level that was not
        calibrated or fell back.
    """
    regime = regime_of(calibration)
    if regime is None:
        network, note = records_layer_network(network, calibration)
        estimate = predict_with_calibration(network, hardware, calibration, framework, framework_version, precision,
                                            batch)
        record = next(iter(network_index([network])))[0]  # the name its records would give it (vww_96_int8: vww_96)
        return estimate, (*([note] if note else []), *interval_notes(calibration, hardware, record),
                          *_extrapolation_notes(calibration, network.name, hardware, estimate))
    conventions = conventions_module(regime.conventions)
    notes: list[str] = []
    network, note = conventions.regime_network(network)
    if note:
        notes.append(note)
    family, _ = normalize_framework(framework)
    keys = conventions.query_keys(hardware, family, network)
    if family is None and keys["framework"] is not None:
        notes.append(stack_note(calibration, keys["framework"], keys["core_family"], hardware.kind.value))
    costed = max(batch, regime.batch)
    if batch < regime.batch:
        warnings.warn(outside_message(regime, network.name, hardware.name, batch), CalibrationWarning,
                      stacklevel=caller_stacklevel())
    elif not regime.contains(batch):
        warnings.warn(above_message(regime, network.name, hardware.name, batch), CalibrationWarning,
                      stacklevel=caller_stacklevel())
    notes.append(batch_note(regime, batch))
    estimate = predict_with_calibration(network, hardware, calibration, framework, framework_version, precision,
                                        costed, keys=keys)
    estimate = dataclasses.replace(estimate, framework=keys["framework"])
    workload = conventions.workload_note(network, precision)
    if workload:
        notes.append(workload)
    notes += interval_notes(calibration, hardware, keys.get("network"),
                            {record: name for name, record in conventions.RECORD_NETWORKS.items()},
                            device=keys.get("catalog_hardware"))
    notes += _extrapolation_notes(calibration, network.name, hardware, estimate)
    if costed == batch:
        if estimate.latency_s < estimate.bound_latency_s:
            notes.append(no_bound_note(estimate.latency_s, estimate.bound_latency_s, calibration.traffic))
        return estimate, tuple(notes + system_notes(hardware, keys.get("catalog_hardware"), estimate))
    bound_s = float(class_layers(network, hardware, precision, batch, calibration.traffic,
                                 op_classes=calibration.op_classes)["time_s"].sum())
    scaled = _scaled(estimate, batch / costed, batch, bound_s)
    if scaled.latency_s < bound_s:
        notes.append(below_bound_note(scaled.latency_s, bound_s, batch))
    return scaled, tuple(notes + system_notes(hardware, keys.get("catalog_hardware"), scaled))


def stack_note(calibration: CalibratedPredictor, stack: str, core_family: str, kind: str) -> str:
    """The note of a query without a ``framework``, keyed as ``stack`` (the stack of most records of its hardware
    ``kind``), saying when ``core_family`` had no record (the factors are then the stack's on other cores)."""
    other = (f"; no record had core family {core_family}, so these are {stack}'s factors on the calibrated core "
             "families, whatever stack this device runs" if core_family not in calibration.coef_["core_family"] else "")
    return (f"framework: none given; keyed as {stack}, the stack of most {kind} records of the calibration (pass "
            f"framework= / --framework to choose){other}")


def batch_note(regime: CalibrationRegime, batch: int) -> str:
    """The note placing a batch of ``batch`` samples in the ``regime`` (its batch and traffic; not the device): within
    it, below its batch, where ``latency_s`` is the samples' share of the sustained throughput, or above its
    ``batch_max``, where ``latency_s`` is one call of the batch with the factors of smaller queries."""
    if batch < regime.batch:
        return (f"outside the calibration regime (batch {batch} < {regime.batch}): latency_s is {batch} sample(s) at "
                f"the calibrated sustained throughput of batch {regime.batch}, an optimistic figure for a lone "
                "batch's latency")
    if not regime.contains(batch):
        return (f"outside the calibration regime (batch {batch} > {regime.batch_max}): latency_s is one call of "
                f"{batch} samples with the factors of records of at most {regime.batch_max} sample(s) per query "
                f"({regime.name}), an extrapolation its interval does not cover")
    return f"within the calibration regime: {regime.summary()}"


def below_bound_note(latency_s: float, bound_s: float, batch: int) -> str:
    """The note of a scaled estimate ``latency_s`` (s) below ``bound_s`` (s), the roofline bound of a lone batch of
    ``batch`` samples (the weights read once per batch): efficiency_pct = 100 x bound_s / latency_s > 100 %."""
    return (f"latency_s {si(latency_s, 's')} is below the roofline bound of a lone batch of {batch} "
            f"({si(bound_s, 's')}, the weights read once per batch of {batch}; efficiency_pct "
            f"{100 * bound_s / latency_s:.0f} % > 100 %): it is {batch} sample(s)' share of the sustained stream, "
            f"not a latency a lone batch of {batch} reaches unless its weights stay on chip between batches")


def no_bound_note(latency_s: float, bound_s: float, traffic: str) -> str:
    """The note of an estimate ``latency_s`` (s) in its regime below ``bound_s`` (s), the roofline it scales:
    efficiency_pct = 100 x bound_s / latency_s > 100 %, so that roofline (``traffic``) is no bound there."""
    return (f"latency_s {si(latency_s, 's')} is below the roofline it scales ({si(bound_s, 's')}, "
            f"{traffic.replace('_', ' ')} traffic; efficiency_pct {100 * bound_s / latency_s:.0f} % > 100 %): the "
            "calibration's records of such devices ran faster than that roofline (what it reads from memory kept "
            "on chip, or a narrower type than costed), so here it is no bound")


def _extrapolation_notes(calibration: CalibratedPredictor, network: str, hardware: HardwareSpec,
                         estimate: CalibratedPrediction) -> list[str]:
    """The ``extrapolated:`` notes of the prediction ``estimate`` (at the batch costed, before any scaling) of
    ``network`` on ``hardware``: the device's (:func:`~.extrapolation.device_range_notes`), then the network's,
    its work per kernel = the layers' MACs / their kernels (:func:`~.extrapolation.network_range_notes`); a
    warning once for each that applies (:func:`~.extrapolation.extrapolation_message`,
    :func:`~.extrapolation.network_extrapolation_message`)."""
    beyond = out_of_range(calibration, hardware, estimate.precision)
    if beyond:
        warnings.warn(extrapolation_message(network, hardware.name, beyond), CalibrationWarning,
                      stacklevel=caller_stacklevel())
    layers = estimate.layers
    unlike = network_out_of_range(calibration, hardware.kind.value, network, estimate.batch,
                                  float(layers["macs"].sum()), float(layers["kernel"].sum()))
    if unlike is not None:
        warnings.warn(network_extrapolation_message(hardware.name, unlike), CalibrationWarning,
                      stacklevel=caller_stacklevel())
    return extrapolation_notes(beyond) + network_range_notes(unlike)


def interval_notes(calibration: CalibratedPredictor, hardware: HardwareSpec, network: str | None,
                   names: Mapping[str, str] | None = None, device: str | None = None) -> list[str]:
    """Notes saying when the interval is widened (:meth:`~.model.CalibratedPredictor.predict_interval`): for a
    device no record had (``device``, the device the query was keyed as, default ``hardware.name``, not in
    ``devices_``) and for a network no record of the hardware's
    class ran (``network``, the records' name of the query's network, not in ``networks_``; the networks they ran
    are named by ``names``, records' name -> network name, where it has them). The note of the interval used
    gives the factor range exp(low) to exp(high) it spans around the estimate: the unseen-device one for a new
    device, the new-network one (on a known or an unseen device) for a new network; on a known device a new
    network's interval is at least a known network's at the same levels (the hull,
    :meth:`~.model.CalibratedPredictor.predict_interval`), which the note says. No note when the calibration holds no
    such interval."""
    device_table = getattr(calibration, "novel_device_", {})
    network_table = getattr(calibration, "novel_network_", {})
    known = getattr(calibration, "networks_", [])
    prefix = f"{hardware.kind.value}{KEY_SEPARATOR}"
    device = hardware.name if device is None else device
    new_device = bool(device_table) and device not in getattr(calibration, "devices_", [])
    new_network = bool(network_table) and bool(known) and network is not None and prefix + network not in known
    notes = []
    if new_device:
        width = ("" if new_network else f" (x{math.exp(device_table['low']):.2f} to "
                 f"x{math.exp(device_table['high']):.2f} of the estimate, from the {device_table['devices']:.0f} "
                 "devices the calibration's cross-validation held out)")
        notes.append(f"interval: {device} is a device no calibration record had, known by its spec alone: "
                     f"its interval adds the spread between devices{width}")
    if new_network:
        ran = listed(sorted((names or {}).get(record, record)
                            for record in (key.removeprefix(prefix) for key in known if key.startswith(prefix))),
                     LISTED_NETWORKS)
        low, high = ("low_unseen_device", "high_unseen_device") if new_device else ("low", "high")
        notes.append(f"interval: no {hardware.kind.value} record of the calibration ran {network} (they ran {ran}): "
                     f"its interval adds the spread between networks{' and devices' if new_device else ''} "
                     f"(x{math.exp(network_table[low]):.2f} to x{math.exp(network_table[high]):.2f} of the "
                     "estimate" + ("" if new_device else ", or the interval a known network gets at the same "
                                   "calibration levels where that is wider") + ")")
    return notes


LISTED_NETWORKS = 5
"""Networks a note names before it counts the rest (:func:`~rooflinekit.display.listed`)."""


def system_notes(hardware: HardwareSpec, device: str | None, estimate: CalibratedPrediction) -> list[str]:
    """The note saying how a system of N identical devices (``hardware`` with an ``interconnect``) combines the
    calibrated ``estimate`` of one of them; empty for one device.

    The regime's records are throughput per accelerator (an MLPerf Offline system's throughput / its
    accelerators, systems of 1 to 24 of them), so the estimate is one device's, keyed as the catalog device the
    system is made of (``device``, :func:`~.inference_offline.member_device`; None: no catalog device matches,
    keyed as a device no record had). N devices each running their own batches of B samples (data parallel, no
    communication: how an Offline system runs), as the records were divided, give

        fps_system = N x fps,   interval: N x B / high .. N x B / low   (samples/s)

    with ``fps`` = B / latency_s and (low, high) = ``latency_interval_s`` of one device's batch of B (s). A model split over
    the devices (tensor or pipeline parallel) is another workload, which :mod:`rooflinekit.llm` predicts.
    """
    link = hardware.interconnect
    if link is None:
        return []
    n, batch = link.devices, estimate.batch
    keyed = (f"keyed as its device {device} (the catalog device with its peaks and memories)" if device is not None
             else "keyed as a device no record had (no catalog device without an interconnect has its peaks and "
                  "memories)")
    interval = ("" if estimate.latency_interval_s is None else
                f" (interval {n * batch / estimate.latency_interval_s[1]:,.0f} to {n * batch / estimate.latency_interval_s[0]:,.0f})")
    return [f"{hardware.name} holds {n} devices joined by {link.name}: latency_s and fps are ONE device's, "
            f"{keyed}, as the calibration's records are throughput per accelerator (system throughput / "
            f"accelerators); each of the {n} running its own batches of {batch} (data parallel, no communication, as "
            f"an Offline system runs), the system's throughput is {n} x fps = {n * estimate.fps:,.0f} samples/s"
            f"{interval}; a model split over the devices is another workload (rooflinekit llm --tp N --pp M)"]


PER_BATCH_LAYER_COLUMNS = ("macs", "other_ops", "ops", "input_bytes", "output_bytes", "state_bytes", "compute_s",
                           "memory_s", "time_s", "calibrated_time_s")
"""Layer columns that grow with the samples of a batch (counts, activation and state bytes, times); a layer's
``params`` and ``weight_bytes`` do not (the weights are read once per batch)."""


def _per_batch(column: pd.Series, scale: float) -> pd.Series:
    """``column`` x ``scale``; a whole-number column stays whole where every product is (a count of 64 samples
    scaled to 1 of them)."""
    scaled = column * scale
    if pd.api.types.is_integer_dtype(column) and bool((scaled == scaled.round()).all()):
        return scaled.round().astype(column.dtype)
    return scaled


def _scaled(estimate: CalibratedPrediction, scale: float, batch: int, bound_s: float) -> CalibratedPrediction:
    """``estimate`` (per batch of ``batch / scale`` samples) with every per-batch time x ``scale`` (s), for
    ``batch`` samples: the classes' times and the layers' :data:`PER_BATCH_LAYER_COLUMNS` (``fps`` unchanged).
    ``bound_latency_s`` becomes ``bound_s``, the layer-mode roofline of a batch of ``batch`` (s; weights read
    once per batch of ``batch``, so more than the scaled roofline the classes' ``roofline_s`` sum to), and
    ``efficiency_pct`` = 100 x bound_s / latency_s: the bound and efficiency of the batch asked for, as
    :func:`rooflinekit.api.predict` reports the bound (``bound_latency_s``)."""
    classes = estimate.classes.assign(roofline_s=estimate.classes.roofline_s * scale,
                                      latency_s=estimate.classes.latency_s * scale)
    layers = estimate.layers.assign(**{column: _per_batch(estimate.layers[column], scale)
                                       for column in PER_BATCH_LAYER_COLUMNS if column in estimate.layers})
    interval = None if estimate.latency_interval_s is None else (estimate.latency_interval_s[0] * scale,
                                                         estimate.latency_interval_s[1] * scale)
    latency = estimate.latency_s * scale
    return dataclasses.replace(estimate, batch=batch, latency_s=latency, bound_latency_s=bound_s,
                               efficiency_pct=100 * bound_s / latency, classes=classes, layers=layers,
                               latency_interval_s=interval, call_overhead_s=estimate.call_overhead_s * scale)

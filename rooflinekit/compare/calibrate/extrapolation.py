"""When a calibrated prediction extrapolates beyond the devices, or the networks, its calibration was fitted on.

**Devices.**
A calibration's factors F_c scale the roofline time of each op class, T_c = sum over its layers of
max(ops / peak, bytes / bandwidth) (:mod:`.features`), so the device enters a calibrated prediction through the
quantities that time is computed from, and through nothing else:

- the peak at the compute data type the prediction uses (``Precision.compute`` of its precision), ops/s;
- the bandwidth of the memory level its weights are read from (:meth:`~rooflinekit.descriptors.HardwareSpec.
  memory_for` ``("weights")``), bytes/s, which every traffic model reads the weights from;
- with a traffic model that moves activations (``weights_and_activations``, ``on_chip_if_fits``: the MCU
  calibration), the bandwidth of the level holding the activations too, bytes/s.

Capacities, clock, power and compute units are not in the features (a memory too small says so itself, as a
:class:`~rooflinekit.api.CapacityWarning`), so they are not checked. How far F_c moves with these quantities is
seen only between the devices the records ran on: a device beyond them (a 100 POPS accelerator, a 10 GB/s memory)
may be bound by what the records never showed (launch and host overheads, on-chip bandwidths), and the
unseen-device interval, cross-validated on devices held out from among them, assumes a device like them.

Rule: a prediction **extrapolates** when one of its quantities lies outside [min, max] of the same quantity over
the calibration's devices (``devices_``) of the prediction's hardware class (factors never cross classes) that
have it (a peak at that data type). No tolerance: outside [min, max] is outside, and the note gives the numbers.
The devices resolve through the catalog (``<name> [GPU only]``, a Jetson record costed on its GPU engine, as
:func:`~.inference_offline.gpu_only` of the catalog device), once per calibration's device list (cached); a name
that resolves nowhere (the name in a user's hardware YAML file) is left out, and with none resolved, or none of
the class with the quantity, that quantity is not checked. A peak is the device's (the sum of its engines',
:class:`~rooflinekit.descriptors.HardwareSpec`, as the records' devices are compared too); a system's spec (an
``interconnect``) holds one device's. A device the calibration's records had is inside by construction.

**Networks.** The network enters through its work per kernel,

    w = macs / kernels      (MAC per kernel)

``macs`` the network's multiply-accumulates at the batch costed and ``kernels`` its kernel launches (layers with
roofline time, one kernel each), as :func:`~.features.calibration_features` writes them for a record. Why this
quantity: the op-class factors F_c and the per-kernel overhead t0 are told apart only by how w varies among the
records (latency ~ kernels x t0 + F_c x T_c, T_c growing with the work of each kernel), and efficiency rises with
kernel size: small convolutions run far from the peak, large ones near it, so a factor is known only for kernels of
the sizes it was fitted on. Outside the records' w the split between F_c and t0, and the interval measured between
the records' networks, are an extrapolation (ResNet-50 v1.5 at batch 1 on a CPU, 23.4 MMAC per kernel, priced
with conv factors fitted on NAS-Bench-201 cells of 0.038-0.69 MMAC per kernel).

Rule: a prediction's network **extrapolates** when its w, from the features it is predicted from (at the batch
costed; in a regime, the regime's network at the regime's batch), lies outside [min, max] of w over the
calibration's records of the prediction's hardware class with ``macs`` and ``kernels`` both positive
(``macs_per_kernel_range_``, recorded at fit: :func:`~.model.macs_per_kernel_range`). No tolerance, as for
devices. A calibration without the range (a JSON written before it was recorded, records without the columns) or
without records of the class, or a prediction without kernels, is not checked.

:func:`~.regime.predict_in_regime` (so :func:`rooflinekit.predict` and ``rooflinekit predict --calibrated``) adds
the note of :func:`device_range_notes` after the interval notes, then the note of :func:`network_range_notes`,
and warns once for each that applies (:func:`extrapolation_message`, :func:`network_extrapolation_message`); a
calibrated sweep (:mod:`.sweep`) gives its rows the same notes and warns once for each kind, counting the rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from rooflinekit.catalog import get_hardware
from rooflinekit.compare.calibrate.model import CalibratedPredictor
from rooflinekit.descriptors import DType, HardwareKind, HardwareSpec, Precision, TensorRole
from rooflinekit.display import counted, si
from rooflinekit.errors import UnknownNameError
from rooflinekit.roofline.traffic import traffic_model


@dataclass(frozen=True)
class OutOfRange:
    """One roofline quantity of a device outside the range of the calibration's devices.

    Attributes
    ----------
    quantity : str
        What it is (``int8 peak``, ``weight-memory bandwidth``).
    value : float
        The device's value, in ``unit``.
    low, high : float
        Min and max over the calibration's devices that have it, in ``unit``.
    unit : str
        ``OPS`` (ops/s) or ``B/s`` (bytes/s).
    devices : str
        The devices the range is over, in words (``the 16 GPUs the calibration was fitted on``).
    """

    quantity: str
    value: float
    low: float
    high: float
    unit: str
    devices: str

    @property
    def text(self) -> str:
        """``int8 peak 100 POPS lies outside the 30 TOPS to 1.98 POPS of <devices>``."""
        span = (si(self.low, self.unit) if self.low == self.high
                else f"{si(self.low, self.unit)} to {si(self.high, self.unit)}")
        return f"{self.quantity} {_shown(self.value, self.low, self.high, self.unit)} lies outside the {span} of " \
               f"{self.devices}"


def _shown(value: float, low: float, high: float, unit: str) -> str:
    """``value`` with an SI prefix; with the ratio to the nearer bound when both round alike (no tolerance)."""
    bound = low if value < low else high
    text = si(value, unit)
    return text if text != si(bound, unit) else f"{text} (x{value / bound:.6g} of it)"


def _device_spec(name: str) -> HardwareSpec | None:
    """The catalog spec of a calibration device ``name`` (module docstring), None when it resolves nowhere."""
    try:
        return get_hardware(name)
    except UnknownNameError:
        pass
    from rooflinekit.compare.calibrate.inference_offline import GPU_ONLY, gpu_only

    if name.endswith(GPU_ONLY):
        base = _device_spec(name.removesuffix(GPU_ONLY))
        return None if base is None else gpu_only(base)
    return None


@lru_cache(maxsize=16)
def _device_specs(names: tuple[str, ...]) -> tuple[HardwareSpec, ...]:
    """The specs of the devices ``names`` that resolve (:func:`_device_spec`), in order."""
    return tuple(spec for spec in map(_device_spec, names) if spec is not None)


def out_of_range(calibration: CalibratedPredictor, spec: HardwareSpec, precision: Precision | str) -> list[OutOfRange]:
    """The roofline quantities of ``spec`` outside the range of the calibration's devices (module docstring).

    Parameters
    ----------
    calibration : CalibratedPredictor
        The calibration; its ``devices_`` name the devices its records ran on, its ``traffic`` says whether the
        activations' memory counts.
    spec : HardwareSpec
        The device predicted.
    precision : Precision or str
        The prediction's precision; its compute data type picks the peak (ops/s).

    Returns
    -------
    list of OutOfRange
        Peak at the compute type (ops/s), weight-memory bandwidth and, with a traffic model that moves
        activations, activation-memory bandwidth (bytes/s), each where it lies outside [min, max] of the
        calibration's devices of ``spec``'s class having it; empty when none does or nothing resolves.
    """
    dtype = Precision.parse(precision).compute
    roles = ("weights", "activations") if traffic_model(calibration.traffic).moves_activations else ("weights",)
    names = tuple(str(name) for name in getattr(calibration, "devices_", []))
    count, peaks, bandwidths = _spans(names, spec.kind, dtype, roles)
    if not count:
        return []
    everyone = f"the {counted(count, spec.kind.value)} the calibration was fitted on"
    quantities = []
    if peaks is not None and dtype in spec.peak_ops_per_s:
        who = everyone if peaks[2] == count else \
            f"the {peaks[2]} of its {counted(count, spec.kind.value)} with a peak at {dtype.value}"
        quantities.append((f"{dtype.value} peak", spec.peak_ops_per_s[dtype], peaks[0], peaks[1], "OPS", who))
    for role, (low, high) in zip(roles, bandwidths):
        memory = spec.memory_for(role)
        quantities.append((f"{role[:-1]}-memory ({memory.name}) bandwidth", memory.bandwidth_bytes_per_s, low, high,
                           "B/s", everyone))
    return [OutOfRange(quantity, value, low, high, unit, who)
            for quantity, value, low, high, unit, who in quantities if not low <= value <= high]


@lru_cache(maxsize=256)
def _spans(names: tuple[str, ...], kind: HardwareKind, dtype: DType, roles: tuple[TensorRole, ...]
           ) -> tuple[int, tuple[float, float, int] | None, tuple[tuple[float, float], ...]]:
    """Over the devices ``names`` of class ``kind`` that resolve (:func:`_device_specs`): their number, the
    (min, max, number) of their peaks at ``dtype`` (None when none has one; ops/s) and the (min, max) bandwidth of
    the memory holding each of ``roles`` (B/s)."""
    known = [device for device in _device_specs(names) if device.kind == kind]
    if not known:
        return 0, None, ()
    peaks = [device.peak_ops_per_s[dtype] for device in known if dtype in device.peak_ops_per_s]
    bandwidths = [[device.memory_for(role).bandwidth_bytes_per_s for device in known] for role in roles]
    return (len(known), (min(peaks), max(peaks), len(peaks)) if peaks else None,
            tuple((min(values), max(values)) for values in bandwidths))


def device_range_notes(calibration: CalibratedPredictor, spec: HardwareSpec, precision: Precision | str) -> list[str]:
    """The note of a calibrated prediction on ``spec`` at ``precision`` that extrapolates beyond the devices of
    ``calibration`` (:func:`out_of_range`), as one string in a list; empty when it does not.

    ``extrapolated: int8 peak 100 POPS lies outside the 30 TOPS to 1.98 POPS of the 16 GPUs the calibration was
    fitted on; ...; its factors and interval come from devices within these ranges, not from one like this``.
    """
    return extrapolation_notes(out_of_range(calibration, spec, precision))


def extrapolation_notes(beyond: list[OutOfRange]) -> list[str]:
    """:func:`device_range_notes` of the quantities ``beyond`` the calibration's devices (:func:`out_of_range`)."""
    if not beyond:
        return []
    return ["extrapolated: " + "; ".join(item.text for item in beyond)
            + "; its factors and interval come from devices within these ranges, not from one like this"]


def extrapolation_message(network: str, hardware: str, beyond: list[OutOfRange]) -> str:
    """The warning of a calibrated prediction of ``network`` on ``hardware`` with quantities ``beyond`` the
    calibration's devices (:func:`out_of_range`, not empty): briefly what :func:`device_range_notes` says."""
    items = "; ".join(f"{item.quantity} {si(item.value, item.unit)} outside {si(item.low, item.unit)} to "
                      f"{si(item.high, item.unit)}" for item in beyond)
    return (f"{network} on {hardware}: the calibrated estimate extrapolates beyond the devices the calibration was "
            f"fitted on ({items}); its interval assumes a device within them (see the prediction's notes)")


@dataclass(frozen=True)
class NetworkOutOfRange:
    """A network whose work per kernel lies outside the range of the calibration's records of its hardware class.

    Attributes
    ----------
    network : str
        The network's name.
    batch : int
        The batch it was costed at (samples).
    value : float
        Its work per kernel, macs / kernels, in MAC per kernel.
    low, high : float
        Min and max of macs / kernels over the calibration's records of ``hardware_class``, in MAC per kernel.
    hardware_class : str
        The prediction's hardware class (``CPU``).
    """

    network: str
    batch: int
    value: float
    low: float
    high: float
    hardware_class: str

    @property
    def span(self) -> str:
        """``38.2 kMAC to 689 kMAC per kernel`` (one value when low == high)."""
        return (si(self.low, "MAC") if self.low == self.high
                else f"{si(self.low, 'MAC')} to {si(self.high, 'MAC')}") + " per kernel"

    @property
    def shown(self) -> str:
        """The network's work per kernel with an SI prefix (with its ratio to the nearer bound where both round
        alike), ``23.4 MMAC``."""
        return _shown(self.value, self.low, self.high, "MAC")


def network_out_of_range(calibration: CalibratedPredictor, hardware_class: str, network: str, batch: int,
                         macs: float, kernels: float) -> NetworkOutOfRange | None:
    """The network's work per kernel when it lies outside the range of the calibration's records (module docstring).

    Parameters
    ----------
    calibration : CalibratedPredictor
        The calibration; its ``macs_per_kernel_range_`` holds, per hardware class, the records' (min, max) of
        macs / kernels (MAC per kernel).
    hardware_class : str
        The prediction's hardware class (``HardwareSpec.kind``'s value).
    network : str
        The network's name (for the note).
    batch : int
        The batch it is costed at (samples; for the note).
    macs, kernels : float
        Its MACs at that batch and its kernel launches, as the prediction's features give them.

    Returns
    -------
    NetworkOutOfRange or None
        w = macs / kernels and the range when w < low or w > high; None when it lies within, when the calibration
        holds no range for the class, or when ``kernels`` is not positive (w undefined).
    """
    span = getattr(calibration, "macs_per_kernel_range_", {}).get(hardware_class)
    if span is None or not kernels > 0:
        return None
    work = float(macs) / float(kernels)
    low, high = span
    return None if low <= work <= high else NetworkOutOfRange(network, int(batch), work, low, high, hardware_class)


def network_range_notes(beyond: NetworkOutOfRange | None) -> list[str]:
    """The note of a calibrated prediction whose network lies ``beyond`` the records' work per kernel
    (:func:`network_out_of_range`), as one string in a list; empty for None.

    ``extrapolated: ResNet-50-v1.5 does 23.4 MMAC per kernel at batch 1, outside the 38.2 kMAC to 689 kMAC per
    kernel of the calibration's CPU records; its factors and interval come from networks unlike it``.
    """
    if beyond is None:
        return []
    return [f"extrapolated: {beyond.network} does {beyond.shown} per kernel at batch {beyond.batch}, outside the "
            f"{beyond.span} of the calibration's {beyond.hardware_class} records; its factors and interval come from "
            "networks unlike it"]


def network_extrapolation_message(hardware: str, beyond: NetworkOutOfRange) -> str:
    """The warning of a calibrated prediction on ``hardware`` whose network lies ``beyond`` the records' work per
    kernel (:func:`network_out_of_range`): briefly what :func:`network_range_notes` says."""
    return (f"{beyond.network} on {hardware}: the calibrated estimate extrapolates beyond the networks the "
            f"calibration was fitted on ({si(beyond.value, 'MAC')} per kernel at batch {beyond.batch}, outside "
            f"{beyond.span} of its {beyond.hardware_class} records); its factors and interval assume a network within "
            "them (see the prediction's notes)")

"""The calibrated latency model: :class:`CalibratedPredictor`, its fit, prediction and JSON form.

Model (:class:`CalibratedPredictor`), on the features T_c(r) (s) and kernels(r) of :mod:`.features`:

    latency_s(r) = sum_c F_c(r) * T_c(r)                                (no overhead terms: the default)
    latency_s(r) = t_call(r) + kernels(r) * t0(r) + sum_c F_c(r) * T_c(r)   (both overhead terms)
    t0(r)        = F_kernel_overhead(r) * kernel_overhead_ref_s         (s per kernel)
    t_call(r)    = F_call_overhead(r) * call_overhead_ref_s             (s per inference call)
    log F_c(r)   = theta0 + b[global][c] + b[core_family][c] + b[framework][c] + b[framework_version][c]
                   + b[system][c]                                   (an op class c)
    log F_o(r)   = theta0 + b[global][o] + b[framework][o] + b[framework_version][o] + b[system][o]
                                                                    (an overhead term o: no core-family level)

each b taken at r's key on that level: the core family of H (:func:`~.features.core_family`), the software-stack
family (:func:`~rooflinekit.compare.records.normalize_framework`), (family, version) and the system
(``system_columns``). A missing key value is the category ``<unknown>``. F_c is the slowdown over the roofline
(efficiency = 1 / F_c); on a compute-bound layer it equals cycles per op x the core's peak ops per cycle.

Fit: theta0 = median_r log(latency_r / sum_c T_c(r)); the b minimize

    sum_r (log predicted_r - log measured_r)^2 + sum_b lambda(level of b) * b^2

by Gauss-Newton. lambda weighs like pseudo-records: a factor backed by n records whose time lies in its class moves
n / (n + lambda) of the way from what the coarser levels say (theta0 for the global level) to what its records say.
lambda is ``shrinkage`` on the global, core-family, framework and framework-version levels and
``system_shrinkage`` on systems, whose few records mix network-specific quirks into their factor.

Releases and fallback (:mod:`.releases`): spellings of one release (``8.1``, ``8.1.0``, ``v8.1``) are one key
(:func:`~.releases.release_key`); a record without a version is keyed by its round (``round v1.0``). A
release never calibrated takes the key of the newest calibrated release of the same stack; any other key not seen
in fit adds b = 0, so the prediction rests on the coarser levels (system -> framework version + framework + core
family -> global); a class no record had gets exp(theta0), with a :class:`CalibrationWarning` where the predicted
rows have roofline time in it (a class of zero time, such as a flatten's, scales nothing and is not warned about).
:meth:`CalibratedPredictor.explain` says, per prediction, which levels were calibrated, which fell back and how
(``depth`` = their number). A hardware class (MCU, GPU, ...) no record had is refused: factors never cross classes.

Per-kernel overhead (Hockney's form t = t0 + work / rate, summed over kernels): GPUs and CPUs running an eager
framework pay a fixed time per kernel launch (driver, framework dispatch, synchronization), independent of the
kernel's size; a GPU at batch 1 runs a small CNN hundreds of times slower than its roofline for that reason alone.
With ``kernel_overhead_ref_s`` set, the model carries it as one more class, ``kernel_overhead``, whose feature is
``kernels x t_ref``: the multiplicative machinery above then fits t0 per level (global, stack, release, system:
:data:`OVERHEAD_LEVELS`, not the core family: dispatch, launch and synchronization are the software stack's and its
host's work), shrunk toward its parent like every other factor. t_ref only sets the scale the log-factor starts
from (theta0 x t_ref); choose it near the expected overhead (1e-5 s for eager GPU frameworks). The per-call
overhead (``call_overhead_ref_s``, class ``call_overhead``, feature ``1 x t_ref``) is the same for the fixed cost of
one inference call (input copy, graph setup, the final synchronization): milliseconds on a GPU behind PyTorch.
The per-kernel term is also the size-dependent utilization the data needs: a kernel of roofline time T runs at
efficiency T / (t0 + F_c T), rising from ~0 for tiny kernels to 1 / F_c for large ones (the half-performance size
is n_1/2 = t0 / F_c in roofline seconds). Why no further size term (tile or wave quantization): fitted per device
on NAS-Bench-201 (500 networks, 9 device x batch sets), the log residuals after this model barely trend with the
roofline time per kernel (|Spearman| <= 0.2 on 8 of 9 sets; 0.59 on the TITAN RTX at batch 256, where a
log-linear trend would cut the residual sd from 0.073 to 0.063), which is small next to the 14-57 % errors between
devices; the shape dependence the data does need is by op class (``op_classes="fine"`` in :mod:`.features`). Off
by default: on the MLPerf Tiny networks (MCUs, 10-40 layers) a per-kernel time is hard to tell apart from the class
factors (AD is fully connected only), and with ``kernel_overhead_ref_s=1e-4`` the MLPerf Tiny median APEs
(forward / LOBO / LOMO) were 15.3 / 12.8 / 19.4 % against 14.8 / 11.0 / 19.2 % without it.

Several hardware classes in one fit: the op-class factors never cross classes, the overhead terms do. On records
of more than one hardware class (``class_scoped_``), the op classes' keys of the global, framework and framework-
version levels (:data:`CLASS_SCOPED_LEVELS`) are prefixed by the row's hardware class (``GPU | PyTorch``) and their
theta0 is the class's own median log slowdown (``class_theta0_``), so a GPU's conv factor and a CPU's are fitted
apart however they share a stack, each as a fit on its class alone would; the overhead terms keep the stack's own
key (``PyTorch``) and the overall theta0, so the per-call and per-kernel overhead of a stack is one estimate from
every class it ran on.
They are the stack's cost (eager dispatch, launch, synchronization on the host), and a device of a class that never
ran the stack (a CPU under PyTorch, where the records had PyTorch on GPUs only) takes the stack's overheads from
the other classes and its op-class factors from its own class, shrunk toward its class's level. Measured on
NAS-Bench-201 (``benchmarks/fidelity/RESULTS.md``): the Xeon under PyTorch, predicted from two TFLite CPUs alone,
was 4x too fast (75 % median APE); PyTorch's overheads, seen on the GPUs, take it to 22 %. On records of one class
the keys and theta0 are as before.

Intervals (:mod:`.intervals`): quantiles of held-out log residuals, by depth (without those of the devices and
networks held out where a new one has an interval of its own), give each prediction an interval of the stated
coverage (``interval_coverage``, default 80 %); a prediction on a device no record had (its ``catalog_hardware``,
else ``hardware``) adds the between-device spread: a device offset with a t predictive whose scale pools the
offsets of the devices held out in the inner cross-validation with a prior from other data sets
(``device_offset_prior``); a prediction for a network no record of its hardware class had (its ``network``)
adds the between-network spread likewise (``network_offset_prior``; both offsets on a new device with a new
network), and its interval holds the one the same prediction gets for a known network.

Work per kernel (:mod:`.extrapolation`): fit records, per hardware class, the range [min, max] of
w = macs / kernels (MAC per kernel) over the records with both positive (``macs_per_kernel_range_``), against which
a prediction's network is checked: the op-class factors and the per-kernel overhead are told apart only by how w
varies among the records.

JSON: :meth:`CalibratedPredictor.to_json` writes the parameters and learned factors (``format`` =
:data:`JSON_FORMAT`), :meth:`CalibratedPredictor.from_json` and :func:`load_calibration` read them back.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from rooflinekit._warnings import caller_stacklevel
from rooflinekit.compare.calibrate.features import ROOFLINE_PREFIX, UNKNOWN, check_op_classes, class_columns
from rooflinekit.compare.calibrate.intervals import (
    DEFAULT_NETWORK_PRIOR, DEFAULT_OFFSET_PRIOR, EMPTY_HELD_OUT, held_out_errors, held_out_residuals, inner_splits,
    interval, known_rows, novel_device_table, novel_network_table, residual_quantiles,
)
from rooflinekit.compare.calibrate.releases import (
    FALLBACK_RULE, STACK_RULE, device_stacks, newest_releases, release_key, release_versions,
)
from rooflinekit.compare.calibrate._checks import check_loaded
from rooflinekit.compare.records import is_missing
from rooflinekit.display import absent
from rooflinekit.errors import CalibrationError, CalibrationWarning
from rooflinekit.roofline import traffic_model

LEVELS = ("global", "core_family", "framework", "framework_version", "system")
REQUIRABLE_LEVELS = LEVELS[1:]
CLASS_SCOPED_LEVELS = ("global", "framework", "framework_version")
"""Levels whose op-class factors are keyed per hardware class on a predictor fitted on several classes (the core
family and the system belong to one class by themselves); the overhead terms stay keyed across classes."""
DEFAULT_SYSTEM_COLUMNS = ("catalog_hardware", "framework", "framework_version")
KEY_SEPARATOR = " | "
JSON_FORMAT = "rooflinekit.calibration/6"
READABLE_FORMATS = ("rooflinekit.calibration/1", "rooflinekit.calibration/2", "rooflinekit.calibration/3",
                    "rooflinekit.calibration/4", "rooflinekit.calibration/5", JSON_FORMAT)
"""Version 1 lacks releases, hardware classes and intervals: read with none of them. Version 2 lacks the
per-kernel overhead (``kernel_overhead_ref_s``): read without it, which is what it was fitted as. Version 3 lacks
the devices and the unseen-device interval: read with the depth intervals only (``device_offset_prior`` None).
Version 4 lacks the networks and the new-network interval: read without it (``network_offset_prior`` None).
Versions 1-5 key every level across hardware classes: read unscoped (``class_scoped_`` False), as fitted.
``macs_per_kernel_range`` is an optional member of version 6, not a new version: it changes no prediction, only
whether a note says the network lies outside the records' work per kernel. A reader ignores members it does not
know (:meth:`CalibratedPredictor.from_json` reads members by name), so a rooflinekit without the member reads a
file with it and predicts the same; a file without it reads with an empty range (the check skipped). Likewise
``device_stacks``: it changes only a query that names no stack on a device whose records ran one (keyed as that
stack, :data:`~.releases.STACK_RULE`); a reader without it, or a file without it, predicts such a query as before,
its stack unknown. A new format would make older readers refuse files they can predict from."""
KERNEL_OVERHEAD = "kernel_overhead"
"""The class of the per-kernel overhead term: feature ``kernels x kernel_overhead_ref_s``."""
CALL_OVERHEAD = "call_overhead"
"""The class of the per-call overhead term: feature ``call_overhead_ref_s`` on every row."""
OVERHEAD_CLASSES = (CALL_OVERHEAD, KERNEL_OVERHEAD)
OVERHEAD_LEVELS = ("global", "framework", "framework_version", "system")
"""The levels of the overhead terms: the software stack's, not the core family's (module docstring)."""
NO_RECORD_WARNING = "no calibration record had"
"""How the :class:`CalibrationWarning` of classes without calibration records starts (see ``class_factors``)."""


def _texts(column: pd.Series) -> pd.Series:
    """Each value as text, a missing one as <unknown> (each distinct value converted once)."""
    codes, values = pd.factorize(column, use_na_sentinel=False)
    texts = np.array([UNKNOWN if is_missing(v) else str(v) for v in values], dtype=object)
    return pd.Series(texts[codes], index=column.index, dtype=object)


def _key_strings(features: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """One key per row: the columns' values joined by ' | ', a missing value (or absent column) as <unknown>."""
    if not columns:
        return np.full(len(features), "*", dtype=object)
    parts = [_texts(features[c]) if c in features.columns
             else pd.Series(UNKNOWN, index=features.index) for c in columns]
    return parts[0].str.cat(parts[1:], sep=KEY_SEPARATOR).to_numpy(dtype=object) if len(parts) > 1 \
        else parts[0].to_numpy(dtype=object)


def _devices(features: pd.DataFrame) -> pd.Series:
    """Each row's device: ``catalog_hardware``, else ``hardware``, else one unnamed device for every row."""
    for column in ("catalog_hardware", "hardware"):
        if column in features.columns:
            return _texts(features[column])
    return pd.Series(UNKNOWN, index=features.index)


def _networks(features: pd.DataFrame) -> pd.Series | None:
    """Each row's network on its hardware class: ``<hardware_class> | <network>`` (the network alone without a
    ``hardware_class`` column); None when the records name no network."""
    if "network" not in features.columns:
        return None
    return pd.Series(_key_strings(features, [c for c in ("hardware_class", "network") if c in features.columns]),
                     index=features.index)


def _with_releases(features: pd.DataFrame) -> pd.DataFrame:
    """``features`` with ``framework_version`` keyed as :func:`~.releases.release_versions` says."""
    return features.assign(framework_version=release_versions(features))


def _normal_equations(positions: list[np.ndarray], size: int
                      ) -> Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``(share, residual) -> (J^T J, J^T residual)`` of the Gauss-Newton step, without forming J.

    J (rows x ``size``) is d log predicted_r / d beta_j: the share of row r's time in class i at each coefficient
    j = ``positions[level][r, i]`` (index ``size``: the fixed zero, dropped). Rows whose positions agree on every
    level (one device, stack and release) form one pattern g, and J^T J sums, over patterns and pairs of levels
    (a, b), the class Gram matrix S_g^T S_g (classes x classes, S_g the pattern's rows of ``share``) at the
    coefficients (positions[a], positions[b]); J^T residual sums S_g^T residual_g at each level's coefficients.
    The cost grows with rows x classes^2 and patterns x (levels x classes)^2, not with rows x coefficients^2.
    """
    pattern = np.concatenate(positions, axis=1)  # (rows, levels x classes)
    cells, group = np.unique(pattern, axis=0, return_inverse=True)
    group = np.asarray(group).ravel()
    order = np.argsort(group, kind="stable")
    starts = np.searchsorted(group[order], np.arange(len(cells)))
    levels = len(positions)

    def equations(share: np.ndarray, residual: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ordered = share[order]
        gram = np.add.reduceat(ordered[:, :, None] * ordered[:, None, :], starts)  # (patterns, classes, classes)
        moment = np.add.reduceat(ordered * residual[order][:, None], starts)  # (patterns, classes)
        jtj, jtr = np.zeros((size + 1, size + 1)), np.zeros(size + 1)
        np.add.at(jtj, (cells[:, :, None], cells[:, None, :]), np.tile(gram, (1, levels, levels)))
        np.add.at(jtr, cells, np.tile(moment, (1, levels)))
        return jtj[:size, :size], jtr[:size]

    return equations


class CalibratedPredictor:
    """Efficiency factors per core family, software stack, stack version and system, per op class and precision.

    Parameters (stored only; the module docstring gives the model):

    - ``shrinkage``: lambda of the global, core-family, framework and framework-version levels, in pseudo-records
    - ``system_shrinkage``: lambda of the system level
    - ``system_columns``: record columns whose values identify a system (a board with one software build)
    - ``required_levels``: levels whose key must have been calibrated; predicting a row with an unseen key there
      raises instead of falling back (e.g. ``("core_family",)``)
    - ``traffic``: the memory-traffic assumption the features were built with (used by :func:`predict_with_calibration`)
    - ``max_iter``, ``tol``: Gauss-Newton stops after ``max_iter`` steps or once no log-factor moves by more than
      ``tol`` in a step
    - ``interval_coverage``: the share of measurements the prediction intervals should cover (None: no intervals)
    - ``kernel_overhead_ref_s``: t_ref (s) of the per-kernel overhead term (module docstring); None: no such term
    - ``call_overhead_ref_s``: t_ref (s) of the per-call overhead term; None: no such term
    - ``op_classes``: the class scheme the features were built with (``coarse`` or ``fine``, see
      :mod:`.features`; used by :func:`predict_with_calibration`)
    - ``device_offset_prior``: ``(tau0, nu0)``, the prior scale (log) and degrees of freedom of the offset of a
      device no record had (:func:`~.intervals.offset_prior`; default from every data set the project measured,
      :data:`~.intervals.DEFAULT_OFFSET_PRIOR`); None: such a device takes the depth intervals like any other
    - ``network_offset_prior``: ``(tau0, nu0)`` of the offset of a network no record of its hardware class had
      (``offset_prior(offsets=NETWORK_OFFSETS)``; default :data:`~.intervals.DEFAULT_NETWORK_PRIOR`); None: such a
      network takes the interval of a known one

    Learned: ``theta0_``, ``classes_`` (class names fitted), ``coef_`` (level -> key -> log-factor per class, in the
    order of ``classes_``; on a ``class_scoped_`` predictor the op classes' keys of :data:`CLASS_SCOPED_LEVELS` are
    prefixed by the hardware class), ``class_scoped_`` (fitted on several hardware classes: module docstring),
    ``n_records_``, ``n_iter_``, ``objective_``, ``newest_releases_`` (stack -> newest
    calibrated version key), ``hardware_classes_``, ``residual_quantiles_`` (depth -> log-residual quantiles),
    ``devices_`` (the devices of the records), ``device_stacks_`` (device -> the one stack all its records ran,
    :func:`~.releases.device_stacks`: a query naming no stack on it is keyed as that one; empty in a JSON without
    the member), ``novel_device_`` (the log-residual interval of a device not in
    ``devices_`` and its ``scale``, ``df`` and number of inner ``devices``, :func:`~.intervals.novel_device_table`;
    empty without intervals or prior), ``networks_`` (``<hardware_class> | <network>`` of the records; empty when
    they name none), ``novel_network_`` (the log-residual interval of a network not in ``networks_``, on a known
    and on an unseen device, and its offset's ``scale``, ``df`` and number of inner ``networks``,
    :func:`~.intervals.novel_network_table`; empty without intervals, prior or networks),
    ``macs_per_kernel_range_`` (hardware class -> (low, high), the min and max of macs / kernels, MAC per kernel,
    over the class's records with both positive, :func:`macs_per_kernel_range`; empty when the records lack the
    columns or the JSON the member), ``held_out_errors_``
    (the errors of the inner cross-validation's held-out predictions by what was new to them: a device, a network,
    neither; :func:`~.intervals.held_out_errors`; no rows without intervals; set by :meth:`fit` only, not saved
    in the JSON).
    """

    def __init__(self, shrinkage: float = 0.1, system_shrinkage: float = 3.0,
                 system_columns: Sequence[str] = DEFAULT_SYSTEM_COLUMNS, required_levels: Sequence[str] = (),
                 traffic: str = "weights_and_activations", max_iter: int = 100, tol: float = 1e-6,
                 interval_coverage: float | None = 0.8, kernel_overhead_ref_s: float | None = None,
                 call_overhead_ref_s: float | None = None, op_classes: str = "coarse",
                 device_offset_prior: Sequence[float] | None = DEFAULT_OFFSET_PRIOR,
                 network_offset_prior: Sequence[float] | None = DEFAULT_NETWORK_PRIOR):
        self.shrinkage = shrinkage
        self.system_shrinkage = system_shrinkage
        self.system_columns = tuple(system_columns)
        self.required_levels = tuple(required_levels)
        self.traffic = traffic
        self.max_iter = max_iter
        self.tol = tol
        self.interval_coverage = interval_coverage
        self.kernel_overhead_ref_s = kernel_overhead_ref_s
        self.call_overhead_ref_s = call_overhead_ref_s
        self.op_classes = op_classes
        self.device_offset_prior = None if device_offset_prior is None else tuple(device_offset_prior)
        self.network_offset_prior = None if network_offset_prior is None else tuple(network_offset_prior)

    def get_params(self) -> dict[str, Any]:
        return {"shrinkage": self.shrinkage, "system_shrinkage": self.system_shrinkage,
                "system_columns": list(self.system_columns), "required_levels": list(self.required_levels),
                "traffic": self.traffic, "max_iter": self.max_iter, "tol": self.tol,
                "interval_coverage": self.interval_coverage, "kernel_overhead_ref_s": self.kernel_overhead_ref_s,
                "call_overhead_ref_s": self.call_overhead_ref_s, "op_classes": self.op_classes,
                "device_offset_prior": None if self.device_offset_prior is None else list(self.device_offset_prior),
                "network_offset_prior": None if self.network_offset_prior is None
                else list(self.network_offset_prior)}

    # -- helpers -------------------------------------------------------------------------------------------------

    def _check_params(self) -> None:
        for name in ("shrinkage", "system_shrinkage"):
            value = getattr(self, name)
            if not np.isfinite(value) or value <= 0:
                raise CalibrationError(f"{name} must be a positive number of pseudo-records, got {value!r}")
        unknown = set(self.required_levels) - set(REQUIRABLE_LEVELS)
        if unknown:
            raise CalibrationError(f"required_levels {sorted(unknown)} unknown; choose from {list(REQUIRABLE_LEVELS)}")
        traffic_model(self.traffic)
        check_op_classes(self.op_classes)
        for name in ("kernel_overhead_ref_s", "call_overhead_ref_s"):
            ref = getattr(self, name)
            if ref is not None and (isinstance(ref, bool) or not isinstance(ref, (int, float))
                                    or not np.isfinite(ref) or ref <= 0):
                raise CalibrationError(f"{name} must be a positive time in s (e.g. 1e-5), or None for no such "
                                       f"overhead term; got {ref!r}")
        for name in ("device_offset_prior", "network_offset_prior"):
            prior = getattr(self, name)
            if prior is not None and (len(prior) != 2 or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) and v > 0
                    for v in prior)):
                raise CalibrationError(f"{name} must be (scale, degrees of freedom), two positive numbers "
                                       f"(e.g. (0.22, 1.0)), or None; got {prior!r}")
        if self.interval_coverage is not None and not 0 < self.interval_coverage < 1:
            raise CalibrationError(f"interval_coverage must lie between 0 and 1 (e.g. 0.8), or be None; got "
                                   f"{self.interval_coverage!r}")

    def _level_columns(self, level: str) -> tuple[str, ...]:
        return {"global": (), "core_family": ("core_family",), "framework": ("framework",),
                "framework_version": ("framework", "framework_version"), "system": self.system_columns}[level]

    def _lambda(self, level: str) -> float:
        return self.system_shrinkage if level == "system" else self.shrinkage

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise CalibrationError("this CalibratedPredictor is not fitted yet; call fit(features) first "
                                   "or load a fitted one with CalibratedPredictor.from_json")

    def _overhead_names(self) -> list[str]:
        """The overhead classes this predictor carries, in design order."""
        return [name for name, ref in ((CALL_OVERHEAD, self.call_overhead_ref_s),
                                       (KERNEL_OVERHEAD, self.kernel_overhead_ref_s)) if ref is not None]

    def _level_keys(self, features: pd.DataFrame, level: str) -> tuple[np.ndarray, np.ndarray | None]:
        """Each row's key on ``level`` for the op classes and for the overhead terms (module docstring; None: the
        overhead terms take no factor on this level, :data:`OVERHEAD_LEVELS`): the same key, except on a
        ``class_scoped_`` predictor where the op classes' key of :data:`CLASS_SCOPED_LEVELS` is prefixed by the row's
        hardware class (the global level's key is the class alone)."""
        keys = _key_strings(features, self._level_columns(level))
        if not getattr(self, "class_scoped_", False) or level not in CLASS_SCOPED_LEVELS:
            return keys, keys if level in OVERHEAD_LEVELS else None
        classes = _key_strings(features, ("hardware_class",))
        if level == "global":
            return classes, keys
        return np.array([f"{c}{KEY_SEPARATOR}{k}" for c, k in zip(classes, keys)], dtype=object), keys

    def _centre(self, features: pd.DataFrame) -> np.ndarray:
        """The log-factor each row's classes start from (rows x ``classes_``): theta0, except for the op classes of
        a ``class_scoped_`` predictor, where it is the row's hardware class's own median log slowdown
        (``class_theta0_``; theta0 for a class without one)."""
        centre = np.full((len(features), len(self.classes_)), self.theta0_)
        if getattr(self, "class_theta0_", None):
            own = np.array([self.class_theta0_.get(c, self.theta0_)
                            for c in _key_strings(features, ("hardware_class",))])
            centre[:, ~self._overhead_mask()] = own[:, None]
        return centre

    def _overhead_mask(self) -> np.ndarray:
        """Per fitted class (``classes_``): True for an overhead term."""
        return np.isin(np.array(self.classes_, dtype=object), OVERHEAD_CLASSES)

    def calibrated_keys(self, level: str) -> list[str]:
        """The keys ``level`` was calibrated on as the records give them (a stack, ``stack | release``, a core
        family, ...), without the hardware-class prefix of a ``class_scoped_`` predictor's op-class keys."""
        self._check_fitted()
        keys = set(self.coef_[level])
        if getattr(self, "class_scoped_", False) and level in CLASS_SCOPED_LEVELS and level != "global":
            prefixes = tuple(f"{c}{KEY_SEPARATOR}" for c in self.hardware_classes_)
            keys = {next((k[len(p):] for p in prefixes if k.startswith(p)), k) for k in keys}
        return sorted(keys)

    def _design(self, features: pd.DataFrame) -> tuple[list[str], np.ndarray]:
        """Class names and the (rows, classes) matrix of terms in s: the ``roofline_s:<class>`` columns, then
        ``call_overhead_ref_s`` (class :data:`CALL_OVERHEAD`) and ``kernels x kernel_overhead_ref_s`` (class
        :data:`KERNEL_OVERHEAD`) for the overhead terms this predictor carries."""
        columns = class_columns(features)
        names = [c.removeprefix(ROOFLINE_PREFIX) for c in columns]
        times = features[columns].to_numpy(dtype=float)
        if self.call_overhead_ref_s is not None:
            names, times = [*names, CALL_OVERHEAD], np.column_stack(
                [times, np.full(len(features), float(self.call_overhead_ref_s))])
        if self.kernel_overhead_ref_s is None:
            return names, times
        if "kernels" not in features.columns:
            raise CalibrationError("this calibration has a per-kernel overhead term and needs a kernels column; "
                                   "build the features with calibration_features")
        kernels = features["kernels"].to_numpy(dtype=float)
        if not (np.isfinite(kernels) & (kernels >= 0)).all():
            raise CalibrationError(f"kernels must be a count >= 0 on every row, got {kernels[~(kernels >= 0)][:3]}; "
                                   "build the features with calibration_features")
        return [*names, KERNEL_OVERHEAD], np.column_stack([times, kernels * self.kernel_overhead_ref_s])

    # -- fit -------------------------------------------------------------------------------------------------------

    def fit(self, features: pd.DataFrame) -> "CalibratedPredictor":
        """Fit on :func:`calibration_features` output that carries the measured ``latency_s`` (s) of each row."""
        self._check_params()
        features = _with_releases(features)
        if len(features) == 0:
            raise CalibrationError("no records to fit; give featurized records with latency_s "
                                   "(see calibration_features)")
        columns = class_columns(features)
        if "latency_s" not in features.columns or not columns:
            raise CalibrationError("fit needs the columns latency_s and roofline_s:<class>; build them with "
                                   f"calibration_features (got {list(features.columns)})")
        latency = features["latency_s"].to_numpy(dtype=float)
        bad = ~(np.isfinite(latency) & (latency > 0))
        if bad.any():
            raise CalibrationError(f"{bad.sum()} records lack a positive latency_s (first at index "
                                   f"{features.index[bad][0]}); select records with a measured latency")
        names, times = self._design(features)
        total = times.sum(axis=1)
        if (total <= 0).any():
            raise CalibrationError(f"records at index {list(features.index[total <= 0][:5])} have no roofline time "
                                   "(networks without ops?); leave them out")
        fitted = times.sum(axis=0) > 0
        times, self.classes_ = times[:, fitted], [name for name, f in zip(names, fitted) if f]
        log_latency = np.log(latency)
        self.theta0_ = float(np.median(log_latency - np.log(total)))
        self.hardware_classes_ = sorted({str(c) for c in features.get("hardware_class", pd.Series(dtype=object))
                                        if not is_missing(c)})
        self.class_scoped_ = len(self.hardware_classes_) > 1
        slowdown = pd.Series(log_latency - np.log(total), index=features.index)
        self.class_theta0_ = {str(c): float(v) for c, v in slowdown.groupby(
            _key_strings(features, ("hardware_class",))).median().items()} if self.class_scoped_ else {}
        beta, blocks, self.n_iter_, self.objective_ = self._solve(features, times, log_latency)
        size = len(self.classes_)
        self.coef_ = {level: {key: beta[offset + i * size: offset + (i + 1) * size] for i, key in enumerate(keys)}
                      for level, (keys, offset) in blocks.items()}
        self.n_records_ = len(features)
        self.newest_releases_ = newest_releases(features)
        self.devices_ = sorted(set(_devices(features)))
        self.device_stacks_ = device_stacks(features, _devices(features))
        networks = _networks(features)
        self.networks_ = [] if networks is None else sorted(set(networks))
        self.macs_per_kernel_range_ = macs_per_kernel_range(features)
        self.residual_quantiles_, self.novel_device_, self.novel_network_, self.held_out_errors_ = \
            self._interval_table(features) if self.interval_coverage else ({}, {}, {}, held_out_errors(EMPTY_HELD_OUT))
        return self

    def _interval_table(self, features: pd.DataFrame
                        ) -> tuple[dict[int, tuple[float, float]], dict[str, float], dict[str, float], pd.DataFrame]:
        """Log-residual quantiles by depth (of the devices and networks the inner fit knew, where a new one has an
        interval of its own), the unseen-device interval (empty without a prior), the new-network interval
        (empty without a prior or networks) and the held-out errors by kind (:func:`~.intervals.held_out_errors`),
        from the inner cross-validation of :mod:`.intervals`."""
        params = {**self.get_params(), "interval_coverage": None, "required_levels": ()}  # held-out keys fall back

        def fit_predict(train: pd.DataFrame, test: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
            """Held-out latency_s and depth of ``test``; NaN (no prediction) on a row of a hardware class that
            ``train`` lacks (the only device of its class held out), whose factors would cross classes."""
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", CalibrationWarning)
                inner = CalibratedPredictor(**params).fit(train)
                classes = test.get("hardware_class")
                own = np.ones(len(test), dtype=bool) if classes is None or not inner.hardware_classes_ else \
                    classes.isin(inner.hardware_classes_).to_numpy()
                predicted, depth = np.full(len(test), np.nan), np.zeros(len(test), dtype=int)
                if own.any():
                    predicted[own] = inner.predict(test[own])
                    depth[own] = inner.explain(test[own])["depth"].to_numpy()
                return predicted, depth

        rows = pd.Series(np.arange(len(features)), index=features.index)
        groupings = [features["network"] if "network" in features.columns else rows,
                     pd.Series(_key_strings(features, ("framework", "framework_version")), index=features.index)]
        devices = _devices(features)
        splits = inner_splits(groupings, features.get("round"), alone=devices)
        networks = _networks(features)
        held_out = held_out_residuals(features, splits, fit_predict, devices, networks)
        errors = held_out_errors(held_out)
        if not len(held_out.residuals):
            return {}, {}, {}, errors
        coverage = float(self.interval_coverage)  # type: ignore[arg-type]
        novel = {} if self.device_offset_prior is None else \
            novel_device_table(held_out, self.device_offset_prior, coverage)  # type: ignore[arg-type]
        novel_network = {} if self.network_offset_prior is None or networks is None else novel_network_table(
            held_out, self.network_offset_prior, coverage, novel or None)  # type: ignore[arg-type]
        # new devices and networks with an interval of their own stay out of the depth quantiles
        known = known_rows(held_out, devices=bool(novel), networks=bool(novel_network))
        return residual_quantiles(held_out.residuals, held_out.depths, coverage, known), novel, novel_network, errors

    def _solve(self, features: pd.DataFrame, times: np.ndarray, log_latency: np.ndarray
               ) -> tuple[np.ndarray, dict[str, tuple[list[str], int]], int, float]:
        """Gauss-Newton on the penalized least squares of the module docstring, with step halving.

        Returns the coefficients, each level's (keys, offset of its block in the coefficients), the number of
        steps and the final objective. Block layout: coefficient ``offset + key_index * n_classes + class_index``.
        """
        n, n_classes = times.shape
        blocks, penalty, offset, positions = {}, [], 0, []
        overhead = self._overhead_mask()[None, :]
        for level in LEVELS:
            op_keys, overhead_keys = self._level_keys(features, level)
            both = op_keys if overhead_keys is None else np.concatenate([op_keys, overhead_keys])
            keys, inverse = np.unique(both, return_inverse=True)
            key_index = np.broadcast_to(inverse[:n, None], (n, n_classes)) if overhead_keys is None else \
                np.where(overhead, inverse[n:, None], inverse[:n, None])  # (rows, classes)
            blocks[level] = (list(keys), offset)
            positions.append(offset + key_index * n_classes + np.arange(n_classes)[None, :])
            if overhead_keys is None:  # the overhead terms point at the fixed zero after the coefficients
                positions[-1] = np.where(overhead, -1, positions[-1])
            penalty += [self._lambda(level)] * (len(keys) * n_classes)
            offset += len(keys) * n_classes
        positions = [np.where(p < 0, offset, p) for p in positions]
        penalty = np.array(penalty)
        normal_equations = _normal_equations(positions, offset)
        centre = self._centre(features)

        def evaluate(beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
            extended = np.append(beta, 0.0)
            parts = np.exp(centre + sum(extended[p] for p in positions)) * times
            predicted = parts.sum(axis=1)
            residual = np.log(predicted) - log_latency
            return float(residual @ residual + penalty @ beta**2), residual, parts / predicted[:, None]

        beta = np.zeros(offset)
        objective, residual, share = evaluate(beta)
        for iteration in range(1, self.max_iter + 1):
            gram, moment = normal_equations(share, residual)
            step = np.linalg.solve(gram + np.diag(penalty), -(moment + penalty * beta))
            scale = 1.0
            while True:
                candidate = evaluate(beta + scale * step)
                if candidate[0] <= objective or scale < 1e-6:
                    break
                scale /= 2
            beta, (objective, residual, share) = beta + scale * step, candidate
            if np.abs(scale * step).max() <= self.tol:
                break
        return beta, blocks, iteration, objective

    # -- predict ---------------------------------------------------------------------------------------------------

    def _given_stacks(self, features: pd.DataFrame) -> tuple[pd.DataFrame, dict[int, str]]:
        """``features`` with a missing ``framework`` set to the one stack every record of the row's device ran
        (``device_stacks_``, :data:`~.releases.STACK_RULE`), and the rows set so (position -> device)."""
        stacks = getattr(self, "device_stacks_", {})
        if not stacks:
            return features, {}
        frameworks = features["framework"] if "framework" in features.columns else \
            pd.Series(None, index=features.index, dtype=object)
        given = {row: device for row, (device, framework) in enumerate(zip(_devices(features), frameworks))
                 if is_missing(framework) and device in stacks}
        if not given:
            return features, {}
        filled = frameworks.astype(object).copy()
        for row, device in given.items():
            filled.iloc[row] = stacks[device]
        return features.assign(framework=filled), given

    def _resolve(self, features: pd.DataFrame) -> tuple[pd.DataFrame, list[list[str]], np.ndarray]:
        """Features with unseen releases replaced by their fallback (:data:`FALLBACK_RULE`), and per row the levels
        used (one phrase each) and the depth: how many levels were not calibrated or fell back."""
        self._check_fitted()
        features, stack_given = self._given_stacks(features)
        features = _with_releases(features)
        classes = features.get("hardware_class")
        if classes is not None and self.hardware_classes_:
            unseen = sorted({str(c) for c in classes if not is_missing(c) and str(c) not in self.hardware_classes_})
            if unseen:
                raise CalibrationError(f"no calibration for hardware class {', '.join(unseen)}: this calibration was "
                                       f"fitted on {', '.join(self.hardware_classes_)} only and factors never cross "
                                       "hardware classes; use the roofline bound, or calibrate with records of that "
                                       "class")
        versions = features["framework_version"].copy()
        known_releases = set(self.calibrated_keys("framework_version"))
        spelled: dict[tuple[str, Any], str] = {}  # (framework, release_key) -> the calibrated key's version
        for key in sorted(known_releases):
            framework_text, _, version_text = key.rpartition(KEY_SEPARATOR)
            spelled.setdefault((framework_text, release_key(version_text)), version_text)
        releases = _key_strings(features, ("framework", "framework_version"))
        fell_back: dict[int, str] = {}
        given_as: dict[int, str] = {}
        frameworks = features["framework"] if "framework" in features.columns else [None] * len(features)
        for row, (framework, release) in enumerate(zip(frameworks, releases)):
            if release in known_releases:
                continue
            framework_text, _, version_text = release.rpartition(KEY_SEPARATOR)
            same = spelled.get((framework_text, release_key(version_text)))
            newest = self.newest_releases_.get(str(framework)) if not is_missing(framework) else None
            if same is not None:  # a calibrated release spelled otherwise (8.1 for 8.1.0): the same level
                versions.iloc[row] = same
                given_as[row] = version_text
            elif newest is not None:
                versions.iloc[row] = newest
                fell_back[row] = release
        resolved = features.assign(framework_version=versions)
        notes: list[list[str]] = [[] for _ in range(len(features))]
        depth = np.array([int(row in fell_back) for row in range(len(features))])
        overheads = bool(self._overhead_mask().any())
        for level in REQUIRABLE_LEVELS:
            known = self.coef_[level]
            op_keys, overhead_keys = self._level_keys(resolved, level)
            # the records' own keys: the overhead terms', or where they take no factor the op classes' (unscoped)
            plain = op_keys if overhead_keys is None else overhead_keys
            for row, (key, op_key) in enumerate(zip(plain, op_keys)):
                if level == "framework_version" and row in fell_back:
                    stack, _, given = fell_back[row].rpartition(KEY_SEPARATOR)
                    asked = f"{stack} release not given (not calibrated)" if given == UNKNOWN \
                        else f"{fell_back[row]} not calibrated"
                    text = f"{level}: {asked} -> {key} ({FALLBACK_RULE})"
                elif level == "framework" and row in stack_given and (op_key in known or overheads and key in known):
                    text = f"{level}: {key} ({STACK_RULE}: {stack_given[row]})"
                elif level == "framework_version" and row in given_as:
                    text = f"{level}: {key} (given as {given_as[row]}: the same release)"
                elif op_key in known or overheads and key in known:
                    text = f"{level}: {key}"
                else:
                    notes[row].append(f"{level}: {key} not calibrated (coarser levels used)")
                    depth[row] += 1
                    continue
                if op_key not in known and op_key != key:  # a class-scoped key known for the overheads only
                    hardware_class = op_key[:-len(KEY_SEPARATOR + key)]
                    text += (f" for the overhead terms (calibrated on other hardware classes); its op-class factors "
                             f"not calibrated on {hardware_class} (coarser levels used)")
                    depth[row] += 1
                notes[row].append(text)
        return resolved, notes, depth

    def explain(self, features: pd.DataFrame) -> pd.DataFrame:
        """Per row (index of ``features``): ``levels``, one phrase per calibration level saying which key it used,
        which it fell back from and to, or that it was not calibrated; ``depth``, how many levels were not
        calibrated or fell back (0: every level known)."""
        _, notes, depth = self._resolve(features)
        return pd.DataFrame({"levels": [tuple(n) for n in notes], "depth": depth}, index=features.index)

    def predict_interval(self, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper latency_s bounds per row covering ``interval_coverage`` of measurements (:mod:`.intervals`):
        the depth quantiles, or on a device not in ``devices_`` the unseen-device interval, or for a network not in
        ``networks_`` the new-network interval (on a known or an unseen device) widened where need be to hold the
        interval the same prediction gets for a known network (an unknown network offset only adds spread)."""
        if not getattr(self, "residual_quantiles_", None):
            raise CalibrationError("this calibration has no intervals (fitted with interval_coverage=None or on too "
                                   "few records); refit with interval_coverage=0.8")
        _, _, depth = self._resolve(features)
        predicted = self.predict(features)
        low, high = interval(predicted, depth, self.residual_quantiles_)
        unseen = ~_devices(features).isin(getattr(self, "devices_", [])).to_numpy()
        if getattr(self, "novel_device_", None):
            low = np.where(unseen, predicted * np.exp(self.novel_device_["low"]), low)
            high = np.where(unseen, predicted * np.exp(self.novel_device_["high"]), high)
        networks = _networks(features)
        if getattr(self, "novel_network_", None) and networks is not None:
            new = ~networks.isin(self.networks_).to_numpy()
            table = self.novel_network_
            low = np.where(new, np.minimum(low, predicted * np.exp(
                np.where(unseen, table["low_unseen_device"], table["low"]))), low)
            high = np.where(new, np.maximum(high, predicted * np.exp(
                np.where(unseen, table["high_unseen_device"], table["high"]))), high)
        return low, high

    def class_factors(self, features: pd.DataFrame) -> pd.DataFrame:
        """F_c per row (index of ``features``) and class (columns named as ``roofline_s:<class>`` without prefix, then
        :data:`KERNEL_OVERHEAD` with the overhead term: t0 = its factor x ``kernel_overhead_ref_s``)."""
        names = [c.removeprefix(ROOFLINE_PREFIX) for c in class_columns(features)]
        if not names:
            raise CalibrationError("features have no roofline_s:<class> columns; build them with calibration_features")
        names += self._overhead_names()
        features, _, _ = self._resolve(features)
        theta = self._centre(features)
        overhead = self._overhead_mask()
        for level in LEVELS:
            keys, overhead_keys = self._level_keys(features, level)
            known = self.coef_[level]
            if level in self.required_levels:
                unseen = sorted({k for k in keys if k not in known})
                if unseen:
                    raise CalibrationError(
                        f"{level.replace('_', ' ')} {', '.join(map(repr, unseen))} was not calibrated and "
                        f"required_levels forbids a fallback; calibrated: {', '.join(sorted(known))}")
            zero = np.zeros(len(self.classes_))
            terms = np.array([known.get(k, zero) for k in keys]).reshape(theta.shape)
            if overhead_keys is None:
                terms[:, overhead] = 0.0
            elif overhead_keys is not keys and overhead.any():
                terms[:, overhead] = np.array([known.get(k, zero) for k in overhead_keys]
                                              ).reshape(theta.shape)[:, overhead]
            theta += terms
        factors = pd.DataFrame(np.exp(theta), index=features.index, columns=self.classes_)
        # a class scales nothing where its roofline time is 0 on every row (a view's class: a flatten moves nothing)
        timed = {c.removeprefix(ROOFLINE_PREFIX) for c in class_columns(features) if (features[c] != 0).any()}
        missing = [name for name in names if name not in self.classes_
                   and (name in timed or name in self._overhead_names())]
        if missing:
            warnings.warn(f"{NO_RECORD_WARNING} {', '.join(missing)} layers; their roofline time is scaled by "
                          f"the median factor exp(theta0) = {np.exp(self.theta0_):.3g}", CalibrationWarning,
                          stacklevel=caller_stacklevel())
        return factors.reindex(columns=names, fill_value=float(np.exp(self.theta0_)))

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """Predicted latency_s per row: sum_c F_c * T_c."""
        factors = self.class_factors(features)
        return (factors.to_numpy() * self._design(features)[1]).sum(axis=1)

    def factor_table(self) -> pd.DataFrame:
        """One row per (level, key, class): ``log_factor`` b and ``multiplier`` exp(b) it applies to F_c."""
        self._check_fitted()
        rows = [{"level": level, "key": key, "op_class": name, "log_factor": float(value),
                 "multiplier": float(np.exp(value))}
                for level in LEVELS for key, values in self.coef_[level].items()
                for name, value in zip(self.classes_, values)]
        return pd.DataFrame(rows, columns=["level", "key", "op_class", "log_factor", "multiplier"])

    # -- serialization ---------------------------------------------------------------------------------------------

    def to_json(self) -> str:
        """The parameters and learned factors as JSON text (``format`` = :data:`JSON_FORMAT`; the work-per-kernel
        range as the optional member ``macs_per_kernel_range``, class -> [low, high] in MAC per kernel, and each
        device's one stack as the optional member ``device_stacks``, device -> stack, with no new format:
        :data:`READABLE_FORMATS` says why)."""
        self._check_fitted()
        return json.dumps({
            "format": JSON_FORMAT, "params": self.get_params(), "theta0": self.theta0_, "classes": self.classes_,
            "n_records": self.n_records_, "n_iter": self.n_iter_, "objective": self.objective_,
            "coefficients": {level: {key: dict(zip(self.classes_, map(float, values)))
                                     for key, values in self.coef_[level].items()} for level in LEVELS},
            "newest_releases": self.newest_releases_, "hardware_classes": self.hardware_classes_,
            "class_scoped": self.class_scoped_, "class_theta0": self.class_theta0_,
            "residual_quantiles": {str(depth): list(q) for depth, q in self.residual_quantiles_.items()},
            "devices": self.devices_, "device_stacks": getattr(self, "device_stacks_", {}),
            "novel_device": self.novel_device_,
            "networks": self.networks_, "novel_network": self.novel_network_,
            "macs_per_kernel_range": {c: list(span) for c, span in getattr(self, "macs_per_kernel_range_", {}).items()},
        }, indent=1)

    @classmethod
    def from_json(cls, text: str) -> "CalibratedPredictor":
        """A fitted predictor from :meth:`to_json` output (members it does not know are ignored; without
        ``macs_per_kernel_range`` the range is empty and the network check skipped, without ``device_stacks`` a
        query naming no stack keeps it unknown)."""
        hint = "write it with CalibratedPredictor.to_json or 'rooflinekit calibrate'"
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CalibrationError(f"cannot read calibration JSON: {exc}; {hint}") from None
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        if found not in READABLE_FORMATS:
            raise CalibrationError(f"not a rooflinekit calibration: format {found!r}, expected {JSON_FORMAT!r}; "
                                   f"{hint}")
        try:
            predictor = cls(**data["params"])
            predictor.theta0_, predictor.classes_ = float(data["theta0"]), list(data["classes"])
            predictor.n_records_, predictor.n_iter_ = int(data["n_records"]), int(data["n_iter"])
            predictor.objective_ = float(data["objective"])
            predictor.coef_ = {level: {key: np.array([values[c] for c in predictor.classes_], dtype=float)
                                       for key, values in data["coefficients"][level].items()} for level in LEVELS}
            predictor.newest_releases_ = {str(k): str(v) for k, v in data.get("newest_releases", {}).items()}
            predictor.hardware_classes_ = [str(c) for c in data.get("hardware_classes", [])]
            predictor.class_scoped_ = data["class_scoped"] if found == JSON_FORMAT else False
            if not isinstance(predictor.class_scoped_, bool):
                raise TypeError(f"class_scoped must be true or false, got {predictor.class_scoped_!r}")
            predictor.class_theta0_ = {str(c): float(v) for c, v in data.get("class_theta0", {}).items()}
            predictor.residual_quantiles_ = {int(depth): (float(q[0]), float(q[1]))
                                             for depth, q in data.get("residual_quantiles", {}).items()}
            predictor.devices_ = [str(d) for d in data.get("devices", [])]
            predictor.device_stacks_ = {str(d): str(f) for d, f in data.get("device_stacks", {}).items()}
            predictor.novel_device_ = {str(k): float(v) for k, v in data.get("novel_device", {}).items()}
            predictor.networks_ = [str(n) for n in data.get("networks", [])]
            predictor.novel_network_ = {str(k): float(v) for k, v in data.get("novel_network", {}).items()}
            predictor.macs_per_kernel_range_ = {str(c): _span(span)
                                                for c, span in data.get("macs_per_kernel_range", {}).items()}
            if found in READABLE_FORMATS[:3]:
                predictor.device_offset_prior = None
            if found in READABLE_FORMATS[:4]:
                predictor.network_offset_prior = None
        except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError, IndexError) as exc:
            raise CalibrationError(f"calibration JSON incomplete or malformed ({type(exc).__name__}: "
                                   f"{str(exc)[:120]}); {hint}") from None
        check_loaded(predictor, hint)
        return predictor


def macs_per_kernel_range(features: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """Per hardware class of ``features``: (min, max) of the work per kernel w = macs / kernels (MAC per kernel,
    ``macs`` the record's MACs at its batch, ``kernels`` its kernel launches, as
    :func:`~.features.calibration_features` writes them) over the records with both positive and a class.

    Returns
    -------
    dict of str to (float, float)
        Hardware class -> (low, high) in MAC per kernel; empty when ``features`` lacks ``macs``, ``kernels`` or
        ``hardware_class``, or no record has both positive.
    """
    if not {"macs", "kernels", "hardware_class"} <= set(features.columns):
        return {}
    macs = pd.to_numeric(features["macs"], errors="coerce").to_numpy(dtype=float)
    kernels = pd.to_numeric(features["kernels"], errors="coerce").to_numpy(dtype=float)
    classes = features["hardware_class"].map(lambda c: None if is_missing(c) else str(c))
    usable = (macs > 0) & (kernels > 0) & np.isfinite(macs) & np.isfinite(kernels) & classes.notna().to_numpy()
    work = pd.Series(macs[usable] / kernels[usable]).groupby(classes[usable].to_numpy()).agg(["min", "max"])
    return {str(c): (float(low), float(high)) for c, (low, high) in work.iterrows()}


def _span(values: Any) -> tuple[float, float]:
    """``[low, high]`` of a JSON work-per-kernel range as floats; ValueError unless 0 < low <= high < inf."""
    low, high = (float(v) for v in values)
    if not 0 < low <= high < np.inf:
        raise ValueError(f"macs_per_kernel_range {[low, high]} is not 0 < low <= high")
    return low, high


def load_calibration(path: str | Path) -> CalibratedPredictor:
    """A fitted predictor from a JSON file written by :meth:`CalibratedPredictor.to_json`."""
    path = Path(path)
    if not path.is_file():
        raise CalibrationError(f"{path}: {absent(path, 'calibration file')}; write one with 'rooflinekit calibrate RECORDS... "
                               "--out FILE'")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CalibrationError(f"cannot read calibration JSON {path}: not UTF-8 text ({exc.reason} at byte "
                               f"{exc.start}); write it with CalibratedPredictor.to_json or 'rooflinekit calibrate'"
                               ) from None
    try:
        return CalibratedPredictor.from_json(text)
    except CalibrationError as exc:  # name the file the message is about
        raise CalibrationError(f"{path}: {exc}") from None

"""LLM time factors over the roofline bound, by GPU architecture, with an 80 % interval.

The roofline bound of :func:`rooflinekit.llm.predict_llm` takes datasheet peaks and bandwidths; a real stack
reaches a fraction of them, and not the same fraction everywhere. The bound time of a run is split into two parts,
``a`` and ``b`` (:data:`SPLITS`):

- ``prefill/decode``: the prefill (TTFT) and the decode steps, ``t = ttft + (G - 1) tpot``;
- ``compute/memory``: the compute-bound kernels and the rest (memory-bound kernels and interconnect), each phase
  split by its layer table (:func:`split_times_s`).

The calibrated time is ``t_cal = f_a t_a + f_b t_b`` (s) with ``f_a``, ``f_b`` the time factors (inverse
efficiencies, dimensionless, >= 1 when the bound holds). For a whole run of measured throughput,
``r = t_measured / t_bound = s f_a + (1 - s) f_b`` with ``s = t_a / t_bound``, linear in ``(f_a, f_b)``; they are
fitted by least squares on the relative error

    sum_i w_i (s_i f_a + (1 - s_i) f_b - r_i)^2 / r_i^2,

where the rows of a group (one accelerator and model) share a total weight of 1, so a model or system submitted
many times does not outweigh the others. When the rows do not vary ``s`` enough to tell the factors apart, a ridge
term ``LAMBDA ((f_a - f_b) / f_0)^2`` (:data:`EQUAL_RIDGE`; ``f_0`` the single-factor fit) keeps them equal. Levels:

- **global**: the fit on all groups;
- **architecture** (``Hopper``, ``Ampere``, ... from the spec's ``family``, :data:`ARCHITECTURES`): the fit on its
  groups plus :data:`SHRINK_GROUPS` pseudo-groups ``k ((f - f_global) / f_global)^2`` pulling each factor toward
  the global one. An architecture without training groups falls back to the global factors with a
  :class:`~rooflinekit.compare.calibrate.model.CalibrationWarning`.

80 % interval, in logs, for a new (accelerator, model) group: ``ln t_cal +- z_0.9 x s x sqrt(1 + 1/G)`` with
``z_0.9 = 1.2816``, ``G`` the training groups and ``s^2 = s_between^2 + s_within^2``: the spread of the groups'
mean log residuals ``ln(predicted / measured time)`` (ddof 2, the fitted factors) plus the pooled spread of rows
around their group means. With G <= 2 groups ``s_between`` cannot be estimated and :data:`PRIOR_SIGMA_LOG` (set
before any held-out result was seen) is used instead. The interval is on times; tokens/s get the reciprocal.

Status: scored on the MLPerf LLM rows by ``benchmarks/llm/mlperf_llm.py``; not applied by ``predict_llm``,
because it has not been shown to generalize (see ``benchmarks/llm/RESULTS.md``). The calibrated estimate
``predict_llm(..., calibrated=True)`` ships is :mod:`rooflinekit.llm.calibrated` (operator model fitted on Vidur's
kernels), not these factors.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rooflinekit.errors import CalibrationError
from rooflinekit.output import to_json_value

if TYPE_CHECKING:
    from rooflinekit.llm.result import LLMResult

ARCHITECTURES: Mapping[str, str] = {
    "H100": "Hopper", "H200": "Hopper", "GH200": "Hopper", "A100": "Ampere", "Ampere": "Ampere", "A40": "Ampere",
    "Ada Lovelace": "Ada Lovelace", "Turing": "Turing", "Volta": "Volta", "Pascal": "Pascal",
}
"""Spec ``family`` -> GPU architecture (the calibration level); a family not listed is its own level."""

SHRINK_GROUPS = 1.0
"""k: pseudo-groups pulling an architecture's factors toward the global ones."""

EQUAL_RIDGE = 0.01
"""LAMBDA: pseudo-groups holding f_a = f_b when the rows cannot tell them apart (nearly equal shares). It also
pulls a well-identified fit toward equal factors by a few % (4 % on the two-group example of the tests); at 1e-4
the leave-one-model-out fits, whose training shares differ by 0.01, extrapolate to factors of 3-5x."""

PRIOR_SIGMA_LOG = 0.15
"""Between-group log spread used when two or fewer groups leave none to estimate it (about +-15 % per sigma)."""

Z80 = 1.2815515655446004
"""Standard normal quantile at 0.9: a central 80 % interval is +- Z80 sigma."""

SPLITS: Mapping[str, tuple[str, str]] = {"prefill/decode": ("prefill", "decode"),
                                         "compute/memory": ("compute", "memory")}
"""Split name -> the names of its parts a and b."""

FORMAT_VERSION = 1

Factors = tuple[float, float]
"""(f_a, f_b): the time factors of parts a and b (dimensionless)."""


def architecture_of(family: str | None) -> str:
    """The calibration level of a spec ``family``: :data:`ARCHITECTURES`, else the family itself (``unknown``
    without one)."""
    if not family:
        return "unknown"
    return ARCHITECTURES.get(family, family)


@dataclass(frozen=True)
class LLMCalibration:
    """Fitted time factors of one split (module docstring).

    Attributes
    ----------
    split : str
        A key of :data:`SPLITS`: what parts a and b are.
    global_factors : tuple of float
        (f_a, f_b) of the global level.
    architecture_factors : Mapping[str, tuple of float]
        (f_a, f_b) per architecture, already shrunk toward the global ones.
    architecture_groups : Mapping[str, int]
        Training groups per architecture.
    sigma_log : float
        s, the log spread of a new group's time around the calibrated time (dimensionless).
    groups, rows : int
        Training groups and rows.
    source : str
        What it was fitted on.
    notes : tuple of str
        Choices and caveats carried with the file.
    """

    split: str
    global_factors: Factors
    architecture_factors: Mapping[str, Factors]
    architecture_groups: Mapping[str, int]
    sigma_log: float
    groups: int
    rows: int
    source: str = ""
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise CalibrationError(f"unknown split {self.split!r}; use one of {sorted(SPLITS)}")

    def level(self, family: str | None, *, warn: bool = True) -> tuple[str, Factors]:
        """``(level name, (f_a, f_b))`` for a spec family: its architecture's factors, or ``global`` (with a
        CalibrationWarning when ``warn``) for an architecture no training row had."""
        arch = architecture_of(family)
        if arch in self.architecture_factors:
            return f"architecture {arch}", self.architecture_factors[arch]
        if warn:
            from rooflinekit.errors import CalibrationWarning

            a, b = SPLITS[self.split]
            warnings.warn(f"LLM calibration: no training rows of architecture {arch!r} (family {family!r}); using "
                          f"the global factors {a} {self.global_factors[0]:.3g}, {b} {self.global_factors[1]:.3g}",
                          CalibrationWarning, stacklevel=3)
        return "global", self.global_factors

    def half_width_log(self) -> float:
        """Half-width of the 80 % interval of ln t: ``Z80 x s x sqrt(1 + 1/G)``."""
        return Z80 * self.sigma_log * math.sqrt(1.0 + 1.0 / max(self.groups, 1))

    def time_factor(self, family: str | None, share_a: float, *, warn: bool = True
                    ) -> tuple[str, float, float, float]:
        """``(level, f, f_low, f_high)`` for a bound time whose part a is the share ``share_a`` of it:
        ``f = s f_a + (1 - s) f_b`` and its 80 % interval (calibrated time = f x bound time)."""
        if not 0.0 <= share_a <= 1.0:
            raise CalibrationError(f"the share of part a must be in [0, 1], got {share_a!r}")
        name, (f_a, f_b) = self.level(family, warn=warn)
        f = share_a * f_a + (1.0 - share_a) * f_b
        half = self.half_width_log()
        return name, f, f * math.exp(-half), f * math.exp(half)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (``from_dict`` reads it back)."""
        a, b = SPLITS[self.split]
        return {"format_version": FORMAT_VERSION, "split": self.split,
                "quantity": f"time factors f = t_measured / t_bound of the {a} and {b} parts of the bound time",
                "global_factors": {a: self.global_factors[0], b: self.global_factors[1]},
                "architecture_factors": {k: {a: fa, b: fb} for k, (fa, fb) in self.architecture_factors.items()},
                "architecture_groups": dict(self.architecture_groups), "sigma_log": self.sigma_log,
                "groups": self.groups, "rows": self.rows, "shrink_groups": SHRINK_GROUPS,
                "equal_ridge": EQUAL_RIDGE, "source": self.source, "notes": list(self.notes)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LLMCalibration:
        """Read :meth:`to_dict`'s form; CalibrationError on a missing, non-finite or non-positive entry."""
        try:
            if int(data["format_version"]) != FORMAT_VERSION:
                raise CalibrationError(f"LLM calibration format {data['format_version']!r}, expected "
                                       f"{FORMAT_VERSION}")
            split = str(data["split"])
            if split not in SPLITS:
                raise CalibrationError(f"unknown split {split!r}; use one of {sorted(SPLITS)}")
            a, b = SPLITS[split]
            out = cls(split=split,
                      global_factors=(float(data["global_factors"][a]), float(data["global_factors"][b])),
                      architecture_factors={str(k): (float(v[a]), float(v[b]))
                                            for k, v in data["architecture_factors"].items()},
                      architecture_groups={str(k): int(v) for k, v in data["architecture_groups"].items()},
                      sigma_log=float(data["sigma_log"]), groups=int(data["groups"]), rows=int(data["rows"]),
                      source=str(data.get("source", "")), notes=tuple(str(n) for n in data.get("notes", ())))
        except CalibrationError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CalibrationError(f"malformed LLM calibration: {exc!r}") from exc
        values = [*out.global_factors, *(f for pair in out.architecture_factors.values() for f in pair)]
        if not all(math.isfinite(v) and v > 0 for v in values) or not math.isfinite(out.sigma_log) \
                or out.sigma_log < 0:
            raise CalibrationError("LLM calibration has a non-finite or non-positive factor or a negative spread")
        return out

    def save(self, path: str | Path) -> None:
        """Write :meth:`to_dict` as indented JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> LLMCalibration:
        """Read a file written by :meth:`save`."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise CalibrationError(f"cannot read LLM calibration {path}: {exc}") from exc
        return cls.from_dict(data)


def _solve(share: np.ndarray, ratio: np.ndarray, weight: np.ndarray, prior: Factors | None,
           strength: float) -> Factors:
    """Weighted least squares of ``s f_a + (1 - s) f_b = r`` on the relative error, with either ``strength``
    pseudo-groups pulling (f_a, f_b) to ``prior`` or, without a prior, :data:`EQUAL_RIDGE` holding them equal."""
    design = np.column_stack([share, 1.0 - share]) / ratio[:, None]
    target = np.ones_like(ratio)
    root = np.sqrt(weight)
    rows_a, rows_b = [design * root[:, None]], [target * root]
    if prior is None:
        single = float((design.sum(axis=1) * weight).sum() / ((design.sum(axis=1) ** 2) * weight).sum())
        rows_a.append(math.sqrt(EQUAL_RIDGE) * np.array([[1.0, -1.0]]) / single)
        rows_b.append(np.zeros(1))
    else:
        rows_a.append(math.sqrt(strength) * np.diag([1.0 / prior[0], 1.0 / prior[1]]))
        rows_b.append(math.sqrt(strength) * np.ones(2))
    solution, *_ = np.linalg.lstsq(np.vstack(rows_a), np.concatenate(rows_b), rcond=None)
    return float(solution[0]), float(solution[1])


def fit_llm_calibration(time_ratios: Sequence[float], shares_a: Sequence[float], families: Sequence[str | None],
                        groups: Sequence[str], *, split: str = "prefill/decode", source: str = "",
                        notes: Sequence[str] = ()) -> LLMCalibration:
    """Fit the levels of the module docstring.

    Parameters
    ----------
    time_ratios : sequence of float
        ``r = t_measured / t_bound`` per training row (= bound tokens/s / measured tokens/s), > 0.
    shares_a : sequence of float
        ``s = t_a / t_bound``: the share of part a in each row's bound time, in [0, 1].
    families : sequence of str or None
        The spec ``family`` of each row's accelerator.
    groups : sequence of str
        A group key per row (one accelerator and model); rows of a group share one draw of the factors.
    split : str
        What parts a and b are (:data:`SPLITS`).

    Returns
    -------
    LLMCalibration

    Raises
    ------
    CalibrationError
        No rows, lengths that differ, a ratio not finite and positive, a share outside [0, 1], an unknown split.
    """
    ratio = np.asarray(time_ratios, dtype=np.float64)
    share = np.asarray(shares_a, dtype=np.float64)
    if not (len(ratio) == len(share) == len(families) == len(groups)) or len(ratio) == 0:
        raise CalibrationError(f"need the same positive number of ratios, shares, families and groups, got "
                               f"{len(ratio)}, {len(share)}, {len(families)}, {len(groups)}")
    if not np.all(np.isfinite(ratio) & (ratio > 0)):
        raise CalibrationError("a time ratio is not finite and positive (a zero or missing throughput?)")
    if not np.all((share >= 0) & (share <= 1)):
        raise CalibrationError("a share of part a is outside [0, 1]")
    keys = np.asarray(groups, dtype=object)
    names = list(dict.fromkeys(groups))
    sizes = {g: int((keys == g).sum()) for g in names}
    weight = np.array([1.0 / sizes[g] for g in groups])
    global_factors = _solve(share, ratio, weight, None, 0.0)
    arch = np.array([architecture_of(f) for f in families], dtype=object)
    arch_factors: dict[str, Factors] = {}
    arch_groups: dict[str, int] = {}
    for name in dict.fromkeys(arch.tolist()):
        mask = arch == name
        arch_factors[name] = _solve(share[mask], ratio[mask], weight[mask], global_factors, SHRINK_GROUPS)
        arch_groups[name] = len(set(keys[mask].tolist()))
    predicted = np.array([s * arch_factors[a][0] + (1 - s) * arch_factors[a][1] for s, a in zip(share, arch)])
    residual = np.log(predicted / ratio)
    means = {g: float(residual[keys == g].mean()) for g in names}
    within = residual - np.array([means[g] for g in groups])
    dof = len(residual) - len(names)
    within_var = float((within ** 2).sum() / dof) if dof > 0 else 0.0
    if len(names) > 2:
        between_var = float((np.array(list(means.values())) ** 2).sum() / (len(names) - 2))
    else:
        between_var = PRIOR_SIGMA_LOG ** 2
    return LLMCalibration(split=split, global_factors=global_factors, architecture_factors=arch_factors,
                          architecture_groups=arch_groups, sigma_log=math.sqrt(between_var + within_var),
                          groups=len(names), rows=len(ratio), source=source, notes=tuple(notes))


def split_times_s(result: LLMResult, split: str) -> tuple[float, float]:
    """``(ttft_a_s, tpot_a_s)``: the part-a time of a result's TTFT and of its mean TPOT (s).

    ``prefill/decode``: ``(ttft, 0)``. ``compute/memory``: the prefill's compute-bound layers' ``time_s``, and
    the compute-bound share of the decode step at ``context_tokens`` (the one the layer table holds) times the mean
    TPOT (0 when G = 1).
    """
    if split == "prefill/decode":
        return result.ttft_s, 0.0
    if split != "compute/memory":
        raise CalibrationError(f"unknown split {split!r}; use one of {sorted(SPLITS)}")
    layers = result.layers
    if layers is None:
        raise CalibrationError("the result has no layer table to split compute from memory time")
    compute = layers["bound"] == "compute"
    prefill = float(layers.loc[compute & (layers["phase"] == "prefill"), "time_s"].sum())
    step = float(layers.loc[compute & (layers["phase"] == "decode"), "time_s"].sum())
    share = step / result.tpot_at_context_s if result.tpot_at_context_s > 0 else 0.0
    return min(prefill, result.ttft_s), (result.tpot_s or 0.0) * min(share, 1.0)


@dataclass(frozen=True)
class CalibratedLLM:
    """A calibrated LLM estimate next to its bound (module docstring).

    Attributes
    ----------
    level : str
        The calibration level used (``architecture Hopper`` or ``global``).
    split : str
        What the two factors apply to.
    factor_a, factor_b : float
        f_a and f_b of that level.
    ttft_s, tpot_s, e2e_latency_s : float or None
        Calibrated times (s): ``f_a t_a + f_b t_b`` per phase; ``e2e = ttft + (G - 1) tpot``.
    e2e_latency_interval_s : (float, float)
        80 % interval of the end-to-end time, ``(low, high)`` (s).
    output_tokens_per_s : float
        ``B G / e2e`` (tokens/s, all sequences).
    output_tokens_per_s_interval : (float, float)
        Its 80 % interval, ``(B G / e2e_high, B G / e2e_low)``.
    source : str
        The calibration's training data.
    """

    level: str
    split: str
    factor_a: float
    factor_b: float
    ttft_s: float
    tpot_s: float | None
    e2e_latency_s: float
    e2e_latency_interval_s: tuple[float, float]
    output_tokens_per_s: float
    output_tokens_per_s_interval: tuple[float, float]
    source: str = ""

    @classmethod
    def of(cls, calibration: LLMCalibration, family: str | None, *, batch: int, generate: int, ttft_s: float,
           tpot_s: float | None, ttft_a_s: float, tpot_a_s: float) -> CalibratedLLM:
        """Calibrate bound phase times (s) whose part-a times are ``ttft_a_s`` and ``tpot_a_s``
        (:func:`split_times_s`)."""
        level, (f_a, f_b) = calibration.level(family)
        ttft = f_a * ttft_a_s + f_b * (ttft_s - ttft_a_s)
        tpot = None if tpot_s is None else f_a * tpot_a_s + f_b * (tpot_s - tpot_a_s)
        e2e = ttft + (generate - 1) * (tpot or 0.0)
        half = calibration.half_width_log()
        low, high = e2e * math.exp(-half), e2e * math.exp(half)
        tokens = batch * generate
        return cls(level=level, split=calibration.split, factor_a=f_a, factor_b=f_b, ttft_s=ttft, tpot_s=tpot,
                   e2e_latency_s=e2e, e2e_latency_interval_s=(low, high), output_tokens_per_s=tokens / e2e,
                   output_tokens_per_s_interval=(tokens / high, tokens / low), source=calibration.source)

    def to_dict(self) -> dict[str, object]:
        """Every field as strict JSON data (an interval as ``[low, high]``, a non-finite number as None)."""
        return {k: to_json_value(getattr(self, k)) for k in self.__dataclass_fields__}

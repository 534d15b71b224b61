"""Operator-level GPU kernel times: fixed cost + a roofline with size-dependent, spec-relative utilization.

A kernel table (one row per kernel call, :data:`KERNEL_COLUMNS`) says what each kernel does: its ``kind`` (one
fitted parameter set per kind, e.g. ``mlp_up_proj``), its ``family`` (``"gemm"`` or ``"stream"``), arithmetic
``ops`` (1 MAC = 2 ops), DRAM ``bytes`` moved, the GEMM shape ``m x k`` by ``k x n`` and, for stream kernels, the
number of ``parallel_units`` (thread blocks) it launches. The hardware columns (:data:`HARDWARE_COLUMNS`, from a
spec by :func:`hardware_columns`) give the peak ops/s P (the fp16 tensor peak for a GEMM, the fp32 CUDA-core peak
for a stream kernel), the DRAM bandwidth W (bytes/s), the SM count S and the clock f (Hz).

Model (time in s, per kernel of kind k)
---------------------------------------
::

    GEMM:               t = o_k / f + ( (t_c / u_c,k)^p_k + (t_m / u_m,k)^p_k )^(1/p_k)
    stream:             t = o_k / f + max(t_c, t_m / u_m,stream) + t_s / beta_k
    stream, overlapped: t = o_k / f + max(t_c, t_m / u_m,stream, t_s / beta_k)

- **Fixed cost** ``o_k`` (cycles): the device-side time of a kernel of kind k that does nothing (block dispatch,
  prologue, the end-of-kernel drain), fitted in cycles of the SM clock f and so carried to another GPU as
  ``o_k / f``. This is the kernel's own duration as a GPU timer (CUPTI, CUDA events) records it, not the host's
  launch latency (which no datasheet number predicts and which such timers do not include); whether fixed
  cycles or fixed seconds carry better cannot be told from one GPU, which the interval accounts for
  (:meth:`OperatorPredictor.transfer_range`).
- **Compute** ``t_c``: for a GEMM, the tile- and wave-quantized compute time. The output ``m x n`` is cut into
  tiles of ``tm x tn``; ``tiles = ceil(m/tm) ceil(n/tn)`` run in ``waves = ceil(tiles / S)`` over the S SMs, so
  the share of issued tensor work that is useful is ``q = m n / (waves S tm tn)`` (<= 1) and
  ``t_c = ops / (P q)``. ``u_c,k`` (0-1) is the fitted share of the tensor peak a full wave reaches. For a stream
  kernel ``t_c = ops / P`` unscaled (its arithmetic is never the limit; the term keeps the bound honest).
- **DRAM** ``t_m = bytes / W``; ``u_m`` (0-1) is the share of the datasheet bandwidth reached: per GEMM kind
  (weight streaming at small m, where it is well determined), one value shared by all stream kinds (a property
  of the memory system; per stream kind it could not be told apart from ``beta_k``, see below).
- **Knee** ``p_k`` (>= 1, at most :data:`P_MAX`): the soft maximum of the GEMM's two times; ``p -> inf`` is the
  plain ``max`` of the roofline, ``p = 1`` their sum. The measured knee between the memory- and compute-bound
  regimes is rounder than a max.
- **Per-SM issue** (stream kernels) ``t_s = ceil(U / S) (bytes / U) / f`` with U the kernel's thread blocks:
  each wave of blocks moves ``bytes / U`` bytes per SM at ``beta_k`` bytes per cycle per SM (fitted). It is what
  a kernel with fewer blocks than SMs (one row of a norm at one token) or with latency-bound inner loops (a
  gather, a row reduction) costs beyond DRAM streaming; it scales with the SM count and clock, not with the
  bandwidth. Added by default: a kernel whose blocks alternate a load phase and a barrier-separated compute phase
  (a row reduction) does not overlap the two. For ``overlapped`` kinds (:class:`OperatorPredictor` parameter:
  grid-stride loops of independent element operations, e.g. a gather) the issue rate and the DRAM bandwidth are
  two roofs of the same stream (Little's law: bytes in flight / latency, or the bandwidth, whichever is lower),
  so the time is their maximum.

Why this form. Every fitted quantity is dimensionless or per SM-cycle (u_c, u_m, p, beta, o), so the fit
transfers to a GPU known only by its spec: the tensor peak, bandwidth, SM count and clock enter as inputs.
Tile/wave quantization over the SM count is what produces the staircases of measured GEMM times over the token
count (NeuSight's tile-level view); a smooth efficiency-vs-size curve cannot place the steps on another GPU.
The tile shape ``tm x tn`` is chosen among :data:`TILE_CANDIDATES` by the training loss alone.

Which terms are identifiable from one GPU. On a single GPU, ``t_m / u_m`` and ``t_s / beta_k`` are both
proportional to the bytes once a kernel has more blocks than SMs; only kernels with fewer blocks than SMs (small
token counts) tell them apart, hence one shared ``u_m`` for stream kernels. A weak prior (:data:`PRIOR_WEIGHT`)
pulls each raw parameter toward :data:`PRIOR` so that a direction the data does not determine stays at a neutral
value instead of running off. Not modelled: on-chip (L2) residency of small working sets, which lets a kernel beat
the DRAM roof (the prediction never does: it stays at or above the bound).

Fit. Least squares of ``log(t_pred / t_measured)`` (so a 2 us and a 2 ms kernel weigh alike) by
Levenberg-Marquardt in numpy (forward-difference Jacobian, block per kind): each GEMM kind alone, the stream
kinds jointly (they share ``u_m``), each stream kind started from its data (:func:`_stream_start`: a local
search from the prior's scale can stop at a large overhead with a wrong slope); bounded parameters through their
transforms (sigmoid for shares, exp for positives, 1 + exp for p).

Interval. Split-conformal from held-out residuals. With two or more GPUs in the training rows the folds are
leave-one-GPU-out (how a new GPU arrives); with one GPU, :attr:`OperatorPredictor.inner_folds` folds of whole
groups (``group`` column, e.g. model and tensor-parallel degree). Each fold is predicted by a model refitted
without it; the residuals ``r = log(measured / predicted)`` of a stratum (kind x regime: ``overhead`` where the
fitted overhead is at least half the predicted time, else ``throughput``) give the interval
``[t exp(q_lo), t exp(q_hi)]`` with q the ``(1 - c)/2`` and ``(1 + c)/2`` quantiles moved out by the
split-conformal factor ``(n + 1)/n``; a stratum with fewer than :data:`MIN_RESIDUALS` residuals uses its kind's,
then all. Quantiles rather than a normal law: the residuals are skewed (a staircase step is one-sided). Residuals
from one GPU measure how the fit carries to new shapes, not to a new GPU (:attr:`OperatorPredictor.interval_basis_`
says which basis was used); a fit on one GPU therefore widens the band to cover every transfer rule that GPU
cannot rule out, ``[t_low exp(q_lo), t_high exp(q_hi)]`` with ``t_low``, ``t_high`` the extremes of
:meth:`OperatorPredictor.transfer_range` (fixed cost in cycles or in seconds; a stream kind's throughput time
carried as DRAM or as per-SM issue).

Bound. :func:`roofline_bound` is ``max(ops / P, bytes / W)``: the plain roofline, an upper bound on speed, never
above the prediction (``q, u_c, u_m <= 1``, ``o, t_s >= 0``, and the p-norm is at least the max).

Time resolution. A timer that reports whole microseconds (Vidur's profiler traces) rounds a 2 us kernel by up
to 25 %; no model recovers what the measurement rounded away, and the residual strata carry that noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from rooflinekit.descriptors.dtypes import DType
from rooflinekit.descriptors.hardware import HardwareSpec
from rooflinekit.errors import CalibrationError

GEMM = "gemm"
STREAM = "stream"
FAMILIES = (GEMM, STREAM)
KERNEL_COLUMNS = ("kind", "family", "ops", "bytes", "m", "n", "k", "parallel_units")
"""Columns describing each kernel: ``m``, ``n``, ``k`` are used by GEMMs, ``parallel_units`` by stream kernels."""
HARDWARE_COLUMNS = ("peak_ops_per_s", "bandwidth_bytes_per_s", "compute_units", "clock_hz")
TRANSFER_COLUMNS = ("bandwidth_bytes_per_s", "compute_units", "clock_hz")
"""The spec quantities whose ratios between GPUs carry the fit (the peaks only bound GEMMs, which see both roofs)."""
TILE_CANDIDATES: tuple[tuple[int, int], ...] = ((64, 128), (128, 128), (128, 256))
"""GEMM output tiles ``(tm, tn)`` tried; the one with the lowest training loss is kept (cuBLAS Ampere fp16 shapes)."""
PRIOR: dict[str, float] = {"overhead_cycles": 7000.0, "u_compute": 0.7, "u_memory": 0.8, "p": 3.0, "beta": 16.0}
"""Neutral values the weak prior pulls toward: 7,000 cycles of fixed cost (5 us at 1.4 GHz), 70 % of the tensor
peak, 80 % of the bandwidth, knee exponent 3, 16 bytes per cycle per SM."""
OVERHEAD_CYCLES_LOG_MAX = float(np.log(1e9))
"""Upper limit of the raw overhead (log cycles): 1e9 cycles, about a second."""
PRIOR_WEIGHT = 1e-3
"""Weight of ``sum (raw - raw_prior)^2`` against the sum of squared log residuals."""
MIN_RESIDUALS = 20
STRATUM_SEPARATOR = "|"
INNER_FOLDS = 4
RAW_LIMIT = 30.0


def _sigmoid(x: np.ndarray | float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -RAW_LIMIT, RAW_LIMIT)))


def _logit(share: float) -> float:
    return float(np.log(share / (1 - share)))


def hardware_columns(spec: HardwareSpec, family: str, precision: DType | str = DType.FP16) -> dict[str, float]:
    """The :data:`HARDWARE_COLUMNS` of one GPU for kernels of one family.

    Parameters
    ----------
    spec
        The GPU; needs ``compute_units`` (SMs), ``clock_hz`` and a DRAM (off-chip) memory level.
    family
        ``"gemm"``: the peak of ``precision`` (the tensor-core peak); ``"stream"``: the fp32 peak (the CUDA
        cores elementwise and reduction kernels run on, computing in fp32).
    precision
        The GEMM's data type.

    Returns
    -------
    dict
        ``peak_ops_per_s`` (ops/s), ``bandwidth_bytes_per_s`` (bytes/s, the off-chip level holding weights),
        ``compute_units`` (SMs) and ``clock_hz`` (Hz).

    Raises
    ------
    CalibrationError
        When the family is unknown or the spec lacks the SM count, the clock or the peak.
    """
    if family not in FAMILIES:
        raise CalibrationError(f"kernel family {family!r} is not one of {FAMILIES}")
    missing = [name for name, value in (("compute_units", spec.compute_units), ("clock_hz", spec.clock_hz))
               if value is None]
    if missing:
        raise CalibrationError(f"hardware {spec.name!r} lacks {', '.join(missing)}; the operator model needs the "
                               "SM count and the clock: add them to its spec with their source")
    dtype = DType(precision) if family == GEMM else DType.FP32
    if dtype not in spec.peak_ops_per_s:
        raise CalibrationError(f"hardware {spec.name!r} has no {dtype.value} peak; known: "
                               f"{sorted(d.value for d in spec.peak_ops_per_s)}")
    dram = [m for m in spec.memories if not m.on_chip] or list(spec.memories)
    return {"peak_ops_per_s": float(spec.peak_ops_per_s[dtype]),
            "bandwidth_bytes_per_s": float(dram[0].bandwidth_bytes_per_s),
            "compute_units": float(spec.compute_units or 0), "clock_hz": float(spec.clock_hz or 0)}


def _check_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise CalibrationError(f"{what} lacks columns {missing}; give {list(columns)} "
                               "(see rooflinekit.compare.calibrate.operators)")
    families = set(frame["family"].unique()) if "family" in frame.columns else set()
    if families - set(FAMILIES):
        raise CalibrationError(f"{what}: unknown kernel families {sorted(families - set(FAMILIES))}; use {FAMILIES}")
    numeric = [c for c in columns if c not in ("kind", "family")]
    values = frame[numeric].to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise CalibrationError(f"{what}: column {numeric[col]!r} of row {frame.index[row]!r} is {values[row, col]!r}; "
                               "give finite non-negative numbers")


def roofline_bound(frame: pd.DataFrame) -> np.ndarray:
    """The plain roofline time (s) of each kernel, a **bound**: ``max(ops / P, bytes / W)``.

    Parameters
    ----------
    frame
        :data:`KERNEL_COLUMNS` and :data:`HARDWARE_COLUMNS`.

    Returns
    -------
    numpy.ndarray
        Seconds per row; no real kernel is faster (on DRAM-resident data).
    """
    _check_columns(frame, KERNEL_COLUMNS + HARDWARE_COLUMNS, "kernel table")
    ops = frame["ops"].to_numpy(float)
    return np.maximum(ops / frame["peak_ops_per_s"].to_numpy(float),
                      frame["bytes"].to_numpy(float) / frame["bandwidth_bytes_per_s"].to_numpy(float))


@dataclass(frozen=True)
class _Terms:
    """The spec-derived times (s) of one kind's rows, before the fitted parameters."""

    compute_s: np.ndarray
    memory_s: np.ndarray
    issue_s: np.ndarray  # seconds x bytes-per-cycle-per-SM: divide by beta
    cycle_s: np.ndarray  # 1 / clock (s per cycle): the overhead is fitted in cycles
    gemm: bool
    overlapped: bool


def _terms(frame: pd.DataFrame, tile: tuple[int, int], overlapped: bool = False) -> _Terms:
    peak = frame["peak_ops_per_s"].to_numpy(float)
    sms = frame["compute_units"].to_numpy(float)
    clock = frame["clock_hz"].to_numpy(float)
    ops = frame["ops"].to_numpy(float)
    moved = frame["bytes"].to_numpy(float)
    gemm = bool((frame["family"] == GEMM).all())
    if gemm:
        m, n = frame["m"].to_numpy(float), frame["n"].to_numpy(float)
        tm, tn = tile
        units = np.ceil(m / tm) * np.ceil(n / tn)
        waves = np.ceil(units / sms)
        useful = np.clip(m * n / (waves * sms * tm * tn), 1e-12, 1.0)
        compute = ops / (peak * useful)
    else:
        units = np.maximum(frame["parallel_units"].to_numpy(float), 1.0)
        compute = ops / peak
    issue = np.ceil(units / sms) * (moved / units) / clock
    return _Terms(compute, moved / frame["bandwidth_bytes_per_s"].to_numpy(float), issue, 1.0 / clock, gemm,
                  overlapped and not gemm)


# raw parameter layout per kind: [log overhead, logit u_compute, log(p - 1), logit u_memory, log beta]
_KIND_PRIOR = np.array([np.log(PRIOR["overhead_cycles"]), _logit(PRIOR["u_compute"]), np.log(PRIOR["p"] - 1),
                        _logit(PRIOR["u_memory"]), np.log(PRIOR["beta"])])
GEMM_FREE = (0, 1, 2, 3)
"""Raw parameters a GEMM kind fits on its own: overhead, u_compute, p, u_memory (no issue term)."""
STREAM_FREE = (0, 4)
"""Raw parameters a stream kind fits on its own: overhead, beta; u_memory (index 3) is shared by stream kinds."""
P_MAX = 50.0


def _kind_time(raw: np.ndarray, terms: _Terms) -> np.ndarray:
    overhead = np.exp(np.clip(raw[0], -RAW_LIMIT, OVERHEAD_CYCLES_LOG_MAX)) * terms.cycle_s
    memory = terms.memory_s / _sigmoid(raw[3])
    if terms.gemm:
        compute = terms.compute_s / _sigmoid(raw[1])
        p = 1.0 + np.exp(np.clip(raw[2], -RAW_LIMIT, np.log(P_MAX - 1)))
        top = np.maximum(compute, memory)
        top_safe = np.where(top > 0, top, 1.0)
        return overhead + top * ((compute / top_safe) ** p + (memory / top_safe) ** p) ** (1 / p)
    beta = np.exp(np.clip(raw[4], -RAW_LIMIT, RAW_LIMIT))
    if terms.overlapped:
        return overhead + np.maximum(np.maximum(terms.compute_s, memory), terms.issue_s / beta)
    return overhead + np.maximum(terms.compute_s, memory) + terms.issue_s / beta


def _stream_start(terms: _Terms, logs: np.ndarray) -> np.ndarray:
    """A data-based starting point for a stream kind's fit: overhead = half the fastest measured time (in
    cycles), ``beta`` as if the issue term took all the time of the quarter of rows with the largest issue term.
    A start, not an estimate: it keeps the search away from the prior's scale when the kind's is far from it."""
    measured = np.exp(logs)
    start = _KIND_PRIOR.copy()
    start[0] = np.log(0.5 * np.min(measured / terms.cycle_s))
    heavy = terms.issue_s >= np.quantile(terms.issue_s, 0.75)
    start[4] = np.log(max(float(np.median(terms.issue_s[heavy] / measured[heavy])), 1e-6))
    return start


def _fit_block(terms: Mapping[str, _Terms], logs: Mapping[str, np.ndarray], free: Sequence[int],
               shared: Sequence[int], starts: Mapping[str, np.ndarray] | None = None
               ) -> tuple[dict[str, np.ndarray], float]:
    """Fit the raw parameters of ``terms``' kinds: ``free`` indices per kind, ``shared`` indices common to all.

    ``starts`` (raw vectors per kind, :data:`_KIND_PRIOR` by default) is where the search begins; the weak prior
    always pulls toward :data:`_KIND_PRIOR`. Returns the raw vector per kind (the others at :data:`_KIND_PRIOR`)
    and the sum of squared log residuals.
    """
    kinds = list(terms)
    width = len(free)
    begin = {k: (starts or {}).get(k, _KIND_PRIOR) for k in kinds}
    prior_x = np.concatenate([_KIND_PRIOR[list(shared)]] + [_KIND_PRIOR[list(free)] for _ in kinds])
    start_x = np.concatenate([_KIND_PRIOR[list(shared)]] + [begin[k][list(free)] for k in kinds])
    weight = np.sqrt(PRIOR_WEIGHT)
    sizes = [len(logs[k]) for k in kinds]
    offsets = np.concatenate([[0], np.cumsum(sizes)])

    def raw_of(x: np.ndarray, i: int) -> np.ndarray:
        raw = _KIND_PRIOR.copy()
        raw[list(shared)] = x[: len(shared)]
        raw[list(free)] = x[len(shared) + width * i: len(shared) + width * (i + 1)]
        return raw

    def kind_residual(x: np.ndarray, i: int) -> np.ndarray:
        return np.log(_kind_time(raw_of(x, i), terms[kinds[i]])) - logs[kinds[i]]

    def residuals(x: np.ndarray) -> np.ndarray:
        return np.concatenate([kind_residual(x, i) for i in range(len(kinds))] + [weight * (x - prior_x)])

    def jacobian(x: np.ndarray, r: np.ndarray) -> np.ndarray:
        jac = np.zeros((len(r), len(x)))
        step = 1e-6
        for j in range(len(x)):
            moved = x.copy()
            moved[j] += step
            touched = range(len(kinds)) if j < len(shared) else [(j - len(shared)) // width]
            for i in touched:
                rows = slice(offsets[i], offsets[i + 1])
                jac[rows, j] = (kind_residual(moved, i) - r[rows]) / step
        jac[offsets[-1]:, :] = weight * np.eye(len(x))
        return jac

    x = _levenberg_marquardt(residuals, jacobian, start_x)
    fitted = residuals(x)[: offsets[-1]]
    return {k: raw_of(x, i) for i, k in enumerate(kinds)}, float(fitted @ fitted)


def _levenberg_marquardt(residuals: Callable[[np.ndarray], np.ndarray],
                         jacobian: Callable[[np.ndarray, np.ndarray], np.ndarray], start: np.ndarray,
                         iterations: int = 200) -> np.ndarray:
    """Minimize ``sum(residuals(x)^2)`` from ``start``; ``jacobian(x, r)`` gives d r / d x."""
    x, r = start.copy(), residuals(start)
    cost, damping = float(r @ r), 1e-2
    for _ in range(iterations):
        jac = jacobian(x, r)
        normal, gradient = jac.T @ jac, jac.T @ r
        improved = False
        while damping < 1e10:
            step = np.linalg.solve(normal + damping * (np.diag(np.diag(normal)) + 1e-9 * np.eye(len(x))), -gradient)
            trial = x + step
            trial_r = residuals(trial)
            trial_cost = float(trial_r @ trial_r)
            if np.isfinite(trial_cost) and trial_cost < cost:
                converged = cost - trial_cost < 1e-9 * max(cost, 1e-300)
                x, r, cost, damping, improved = trial, trial_r, trial_cost, max(damping / 3, 1e-9), True
                break
            damping *= 4
        if not improved or converged:
            break
    return x


@dataclass
class OperatorPredictor:
    """Fitted operator-level kernel-time model (module docstring): ``fit`` on kernels of known GPUs, ``predict``
    kernels on any GPU given by its spec columns.

    Parameters
    ----------
    coverage
        Nominal coverage of :meth:`predict_interval` (0-1).
    inner_folds
        Folds of whole ``group`` values for the held-out residuals of the interval.
    tiles
        GEMM tile shapes ``(tm, tn)`` to choose from by training loss.
    overlapped
        Stream kinds whose DRAM and per-SM issue times overlap (``max``) instead of adding (module docstring).

    Attributes
    ----------
    params_ : pandas.DataFrame
        Per kind: ``family``, ``overlapped`` (bool), ``overhead_cycles`` (cycles; seconds = cycles / clock),
        ``u_compute`` (1 for stream kinds), ``p`` (inf: the max), ``u_memory`` (shared by the stream kinds),
        ``beta_bytes_per_cycle_per_sm`` (inf for GEMMs: no issue term).
    tile_ : tuple of int
        The chosen GEMM tile.
    quantiles_ : dict
        ``{stratum: (q_lo, q_hi)}`` log-residual quantiles, keyed ``"<kind>|overhead"``,
        ``"<kind>|throughput"`` and ``"<kind>"``; key ``None`` holds the pooled ones.
    interval_basis_ : str
        Where the held-out residuals come from: ``"leave-one-hardware-out"`` when the training rows hold two or
        more GPUs (the honest basis for a GPU not fitted), else ``"within-hardware group folds"`` (new shapes on
        the same GPU only; the interval then adds :meth:`transfer_range` for another GPU).
    reference_ : dict or None
        The :data:`TRANSFER_COLUMNS` of the one GPU the rows came from, None when they hold several.
    """

    coverage: float = 0.8
    inner_folds: int = INNER_FOLDS
    tiles: tuple[tuple[int, int], ...] = TILE_CANDIDATES
    overlapped: tuple[str, ...] = ()
    params_: pd.DataFrame = field(init=False, repr=False)
    tile_: tuple[int, int] = field(init=False, repr=False)
    quantiles_: dict[str | None, tuple[float, float]] = field(init=False, repr=False)
    _raw: dict[str, np.ndarray] = field(init=False, repr=False)
    _gemm_kinds: frozenset[str] = field(init=False, repr=False)
    interval_basis_: str = field(init=False, repr=False)
    reference_: dict[str, float] | None = field(init=False, repr=False)

    def fit(self, frame: pd.DataFrame) -> "OperatorPredictor":
        """Fit on kernels with a measured ``latency_s`` (s, > 0); a ``group`` column (optional) defines the folds
        of the interval's held-out residuals (each row its own group otherwise), a ``hardware`` column with two
        or more values makes them leave-one-GPU-out folds.

        Parameters
        ----------
        frame
            :data:`KERNEL_COLUMNS`, :data:`HARDWARE_COLUMNS` and ``latency_s``; optional ``group``, ``hardware``.

        Returns
        -------
        OperatorPredictor
            ``self``, fitted (``params_``, ``tile_``, ``quantiles_``, ``interval_basis_``).

        Raises
        ------
        CalibrationError
            When columns are missing or invalid, or there are no rows.
        """
        _check_columns(frame, KERNEL_COLUMNS + HARDWARE_COLUMNS + ("latency_s",), "training kernels")
        if not 0 < self.coverage < 1:
            raise CalibrationError(f"coverage must lie in (0, 1), got {self.coverage!r}")
        if not self.tiles:
            raise CalibrationError("tiles is empty; give at least one GEMM tile shape (tm, tn)")
        measured = frame["latency_s"].to_numpy(float)
        if len(frame) == 0 or (measured <= 0).any():
            raise CalibrationError("training kernels need at least one row, every latency_s > 0; got "
                                   f"{len(frame)} rows, minimum {measured.min() if len(frame) else None!r}")
        self._gemm_kinds = frozenset(frame.loc[frame["family"] == GEMM, "kind"])
        self.tile_, self._raw = self._fit_raw(frame, self.tiles, frozenset(self.overlapped))
        spec_rows = frame[list(TRANSFER_COLUMNS)].drop_duplicates()
        self.reference_ = ({c: float(spec_rows[c].iloc[0]) for c in TRANSFER_COLUMNS} if len(spec_rows) == 1
                           else None)
        self.params_ = self._table()
        self.quantiles_ = self._held_out_quantiles(frame)
        return self

    @staticmethod
    def _fit_raw(frame: pd.DataFrame, tiles: Sequence[tuple[int, int]], overlapped: frozenset[str] = frozenset()
                 ) -> tuple[tuple[int, int], dict[str, np.ndarray]]:
        """Raw parameters per kind: each GEMM kind alone (tile chosen by training loss over all GEMM kinds),
        the stream kinds jointly (they share u_memory; each starts from :func:`_stream_start`)."""
        logs = {k: np.log(rows["latency_s"].to_numpy(float)) for k, rows in frame.groupby("kind")}
        family = frame.groupby("kind")["family"].first()
        gemm_kinds = [k for k in logs if family[k] == GEMM]
        stream_kinds = [k for k in logs if family[k] == STREAM]
        raw: dict[str, np.ndarray] = {}
        best_loss, best_tile = np.inf, tiles[0]
        for tile in tiles if gemm_kinds else tiles[:1]:
            fitted, loss = {}, 0.0
            for kind in gemm_kinds:
                one, kind_loss = _fit_block({kind: _terms(frame[frame["kind"] == kind], tile)}, {kind: logs[kind]},
                                            GEMM_FREE, ())
                fitted.update(one)
                loss += kind_loss
            if loss < best_loss:
                best_loss, best_tile, gemm_raw = loss, tile, fitted
        if gemm_kinds:
            raw.update(gemm_raw)
        if stream_kinds:
            terms = {k: _terms(frame[frame["kind"] == k], best_tile, k in overlapped) for k in stream_kinds}
            starts = {k: _stream_start(terms[k], logs[k]) for k in stream_kinds}
            stream_raw, _ = _fit_block(terms, {k: logs[k] for k in stream_kinds}, STREAM_FREE, (3,), starts)
            raw.update(stream_raw)
        return best_tile, raw

    def _table(self) -> pd.DataFrame:
        rows = []
        for kind, raw in self._raw.items():
            gemm = kind in self._gemm_kinds
            rows.append({"kind": kind, "family": GEMM if gemm else STREAM,
                         "overlapped": (not gemm) and kind in self.overlapped,
                         "overhead_cycles": float(np.exp(np.clip(raw[0], -RAW_LIMIT, OVERHEAD_CYCLES_LOG_MAX))),
                         "u_compute": float(_sigmoid(raw[1])) if gemm else 1.0,
                         "p": float(1 + np.exp(np.clip(raw[2], -RAW_LIMIT, np.log(P_MAX - 1)))) if gemm else np.inf,
                         "u_memory": float(_sigmoid(raw[3])),
                         "beta_bytes_per_cycle_per_sm": np.inf if gemm else
                         float(np.exp(np.clip(raw[4], -RAW_LIMIT, RAW_LIMIT)))})
        return pd.DataFrame(rows).set_index("kind")

    def _held_out_quantiles(self, frame: pd.DataFrame) -> dict[str | None, tuple[float, float]]:
        if "hardware" in frame.columns and frame["hardware"].nunique() >= 2:
            groups, self.interval_basis_ = frame["hardware"].astype(str), "leave-one-hardware-out"
            folds_wanted = groups.nunique()
        else:
            groups = frame["group"].astype(str) if "group" in frame.columns else pd.Series(
                np.arange(len(frame)).astype(str), index=frame.index)
            self.interval_basis_, folds_wanted = "within-hardware group folds", self.inner_folds
        order = {g: i % folds_wanted for i, g in enumerate(sorted(groups.unique()))}
        folds = groups.map(order).to_numpy()
        residuals, kinds = [], []
        for fold in np.unique(folds):
            test = folds == fold
            if test.all():
                continue
            inner = OperatorPredictor(coverage=self.coverage, inner_folds=self.inner_folds, tiles=(self.tile_,),
                                      overlapped=self.overlapped)
            inner.tile_, inner._raw = self._fit_raw(frame[~test], (self.tile_,), frozenset(self.overlapped))
            inner._gemm_kinds = self._gemm_kinds
            inner.params_ = inner._table()
            held = frame[test]
            known = held["kind"].isin(list(inner._raw)).to_numpy()
            held = held[known]
            residuals.append(np.log(held["latency_s"].to_numpy(float) / inner.predict(held)))
            kinds.append(inner._strata(held))
        if not residuals:
            raise CalibrationError("the interval needs at least two groups of training rows; give a 'group' column "
                                   "with two or more values, or more rows")
        pooled, labels = np.concatenate(residuals), np.concatenate(kinds)
        table: dict[str | None, tuple[float, float]] = {None: _quantiles(pooled, self.coverage)}
        kind_of = np.array([label.split(STRATUM_SEPARATOR)[0] for label in labels])
        for key, keys in ((kind_of, np.unique(kind_of)), (labels, np.unique(labels))):
            for value in keys:
                values = pooled[key == value]
                if len(values) >= MIN_RESIDUALS:
                    table[str(value)] = _quantiles(values, self.coverage)
        return table

    def _strata(self, frame: pd.DataFrame) -> np.ndarray:
        """``<kind>|overhead`` where the fitted overhead is at least half the predicted time, else
        ``<kind>|throughput``: the interval's residual strata."""
        predicted = self.predict(frame)
        overhead = frame["kind"].map(self.params_["overhead_cycles"]).to_numpy(float) / frame["clock_hz"].to_numpy(
            float)
        regime = np.where(overhead >= 0.5 * predicted, "overhead", "throughput")
        return (frame["kind"].astype(str).to_numpy() + STRATUM_SEPARATOR + regime).astype(str)

    def _checked(self, frame: pd.DataFrame) -> pd.DataFrame:
        if not hasattr(self, "_raw"):
            raise CalibrationError("OperatorPredictor is not fitted; call fit(kernels) first")
        _check_columns(frame, KERNEL_COLUMNS + HARDWARE_COLUMNS, "kernel table")
        unknown = sorted(set(frame["kind"]) - set(self._raw))
        if unknown:
            raise CalibrationError(f"kernel kinds {unknown} were not fitted; fitted kinds: {sorted(self._raw)}. "
                                   "Fit on records of those kinds first")
        return frame

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated kernel time (s) per row (module docstring formula); never below :func:`roofline_bound`."""
        frame = self._checked(frame)
        out = np.empty(len(frame))
        kinds = frame["kind"].to_numpy()
        for kind in np.unique(kinds):
            rows = kinds == kind
            out[rows] = _kind_time(self._raw[str(kind)], _terms(frame[rows], self.tile_, kind in self.overlapped))
        return np.maximum(out, roofline_bound(frame))  # equal in exact arithmetic; guards rounding

    def predict_interval(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds (s) of the :attr:`coverage` prediction interval per row (module docstring)."""
        pairs = [self.quantiles_.get(stratum, self.quantiles_.get(stratum.split(STRATUM_SEPARATOR)[0],
                                                                  self.quantiles_[None]))
                 for stratum in self._strata(frame)]
        lo = np.array([p[0] for p in pairs]) if pairs else np.array([])
        hi = np.array([p[1] for p in pairs]) if pairs else np.array([])
        low_time, high_time = self.transfer_range(frame)
        return low_time * np.exp(lo), high_time * np.exp(hi)

    def transfer_range(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Lowest and highest time (s) per row over the transfer rules a one-GPU fit cannot tell apart.

        A fit on one GPU (:attr:`reference_`) fixes each kind's time on that GPU but not how two of its parts
        scale to another: (1) the fixed cost, fitted in cycles (``o / f``), could as well be fixed seconds
        (``o / f_ref``); (2) a stream kind's throughput time ``T_ref`` (its time on the reference GPU without the
        fixed cost) is split between DRAM and per-SM issue by a share the one GPU does not identify (module
        docstring): carried all as DRAM it scales as ``t_m / t_m,ref`` (bandwidth ratio), all as issue as
        ``t_s / t_s,ref`` (SM count x clock ratio). The range is the minimum and maximum over the calibrated
        prediction and these alternatives (each at least the roofline bound). With two or more GPUs in the fit
        (``reference_`` None) the interval's leave-one-GPU-out residuals hold this spread and the range is the
        prediction itself.
        """
        predicted = self.predict(frame)
        if self.reference_ is None:
            return predicted, predicted
        at_reference = frame.assign(**self.reference_)
        low, high = predicted.copy(), predicted.copy()
        kinds = frame["kind"].to_numpy()
        for kind in np.unique(kinds):
            rows = kinds == kind
            raw = self._raw[str(kind)]
            here = _terms(frame[rows], self.tile_, kind in self.overlapped)
            there = _terms(at_reference[rows], self.tile_, kind in self.overlapped)
            cycles = np.exp(np.clip(raw[0], -RAW_LIMIT, OVERHEAD_CYCLES_LOG_MAX))
            fixed = [cycles * here.cycle_s, cycles * there.cycle_s]
            throughput = [_kind_time(raw, here) - fixed[0]]
            if not here.gemm:
                at_ref = _kind_time(raw, there) - fixed[1]
                throughput += [at_ref * here.memory_s / np.where(there.memory_s > 0, there.memory_s, 1.0),
                               at_ref * here.issue_s / np.where(there.issue_s > 0, there.issue_s, 1.0)]
            options = np.array([o + t for o in fixed for t in throughput])
            low[rows] = np.minimum(low[rows], options.min(axis=0))
            high[rows] = np.maximum(high[rows], options.max(axis=0))
        bound = roofline_bound(frame)
        return np.maximum(low, bound), np.maximum(high, bound)

    def to_json(self) -> dict[str, object]:
        """The fitted state as a strict-JSON dict (finite floats only): ``coverage``, ``tile``, ``gemm_kinds``,
        ``overlapped``, ``raw`` (the unconstrained parameters per kind, :func:`_kind_time`'s layout, overhead in
        log cycles), ``quantiles`` (``"*"`` for the pooled key), ``interval_basis`` and ``reference`` (the one
        training GPU's :data:`TRANSFER_COLUMNS`, or null); :meth:`from_json` restores a predictor that predicts
        identically.

        Raises
        ------
        CalibrationError
            When the predictor is not fitted.
        """
        if not hasattr(self, "_raw"):
            raise CalibrationError("OperatorPredictor is not fitted; call fit(kernels) first")
        return {"coverage": self.coverage, "tile": list(self.tile_), "gemm_kinds": sorted(self._gemm_kinds),
                "overlapped": sorted(self.overlapped),
                "raw": {k: [float(x) for x in v] for k, v in sorted(self._raw.items())},
                "quantiles": {("*" if k is None else k): [float(v[0]), float(v[1])]
                              for k, v in sorted(self.quantiles_.items(), key=lambda kv: str(kv[0]))},
                "interval_basis": self.interval_basis_, "reference": self.reference_}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> "OperatorPredictor":
        """A fitted predictor from :meth:`to_json`'s dict.

        Raises
        ------
        CalibrationError
            When a key is missing or a value has the wrong form.
        """
        try:
            raw = {str(k): np.array(v, dtype=float)
                   for k, v in dict(data["raw"]).items()}  # type: ignore[call-overload]
            quantiles = {(None if k == "*" else str(k)): (float(v[0]), float(v[1]))
                         for k, v in dict(data["quantiles"]).items()}  # type: ignore[call-overload]
            tile = tuple(int(x) for x in data["tile"])  # type: ignore[attr-defined]
            overlapped = tuple(str(k) for k in data["overlapped"])  # type: ignore[attr-defined]
            model = cls(coverage=float(data["coverage"]), tiles=(tile,),  # type: ignore[arg-type]
                        overlapped=overlapped)
            model._gemm_kinds = frozenset(str(k) for k in data["gemm_kinds"])  # type: ignore[attr-defined]
            model.interval_basis_ = str(data["interval_basis"])
            reference = data["reference"]
            model.reference_ = None if reference is None else {
                c: float(reference[c]) for c in TRANSFER_COLUMNS}  # type: ignore[index]
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise CalibrationError(f"not an OperatorPredictor.to_json dict: {exc!r}") from exc
        if any(v.shape != _KIND_PRIOR.shape or not np.isfinite(v).all() for v in raw.values()) or None not in quantiles:
            raise CalibrationError("OperatorPredictor JSON: each raw vector needs 5 finite numbers and the pooled "
                                   "quantiles ('*') must be present")
        model.tile_, model._raw, model.quantiles_ = (tile[0], tile[1]), raw, quantiles
        model.params_ = model._table()
        return model

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per row: ``latency_s`` (calibrated estimate), ``low_s`` / ``high_s`` (interval), ``estimate``
        (``"calibrated"``), ``bound_latency_s`` (the plain roofline) and ``bound_estimate`` (``"bound"``)."""
        low, high = self.predict_interval(frame)
        return pd.DataFrame({"latency_s": self.predict(frame), "low_s": low, "high_s": high,
                             "estimate": "calibrated", "bound_latency_s": roofline_bound(frame),
                             "bound_estimate": "bound"}, index=frame.index)


def _quantiles(residuals: np.ndarray, coverage: float) -> tuple[float, float]:
    """Split-conformal ``(q_lo, q_hi)`` of log residuals: quantile levels moved out by ``(n + 1) / n``."""
    n = len(residuals)
    upper = min((1 + coverage) / 2 * (n + 1) / n, 1.0)
    lower = max(1 - upper, 0.0)
    return float(np.quantile(residuals, lower)), float(np.quantile(residuals, upper))


def with_hardware(kernels: pd.DataFrame, specs: Mapping[str, HardwareSpec],
                  precision: DType | str = DType.FP16) -> pd.DataFrame:
    """``kernels`` with the :data:`HARDWARE_COLUMNS` of each row's ``hardware`` (a key of ``specs``) and family.

    Raises
    ------
    CalibrationError
        When a row's hardware is not in ``specs`` or its spec lacks a field (:func:`hardware_columns`).
    """
    missing = sorted(set(kernels["hardware"]) - set(specs))
    if missing:
        raise CalibrationError(f"no hardware spec for {missing}; give specs for {sorted(set(kernels['hardware']))}")
    out = kernels.copy()
    for column in HARDWARE_COLUMNS:
        out[column] = np.nan
    for (name, family), rows in kernels.groupby(["hardware", "family"]).groups.items():
        values = hardware_columns(specs[name], family, precision)
        for column in HARDWARE_COLUMNS:
            out.loc[rows, column] = values[column]
    return out

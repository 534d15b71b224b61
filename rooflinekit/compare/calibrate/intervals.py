"""Prediction intervals from cross-validated residuals (split-conformal, stratified by fallback depth), widened by
the between-device spread for a device the calibration never saw.

At fit time the predictor is refitted on part of its records and predicts the rest, in the ways the future
arrives: K folds of whole networks (a new network on known systems) and of whole software releases, each device
held out alone (a new device, predicted from all the others), and, where records name their benchmark round, each
round predicted from the earlier rounds alone (:func:`inner_splits`). (Devices were dealt into K folds before;
alone, the inner fits hold as many devices as the outer one less one, as a new device meets them: with K folds,
MLPerf Tiny's boards were held out two at a time from 7 and their offsets overstated those of a board predicted
from 9.) Each held-out record yields a log residual ``r = log(measured / predicted)`` and a **depth**: how many
calibration levels its prediction had to fall back on (an unseen system, board, release or stack each add one).
The interval of a new prediction with depth d is

    [predicted * exp(q_lo(d)), predicted * exp(q_hi(d))],   q = the (1 - coverage) / 2 and (1 + coverage) / 2
                                                              quantiles of the n residuals of depth d, moved
                                                              out by the split-conformal factor (n + 1) / n

Quantiles of held-out residuals give the stated coverage for records that resemble the held-out ones
(split-conformal prediction); stratifying by depth widens the interval of a prediction that leans on coarser
levels, as it should. Why not a parametric interval: the residuals are skewed and heavy-tailed (a stack's release
can be 2x off), and quantiles need no distribution. Which residuals a depth takes (:func:`residual_quantiles`):

- **Not those of new networks or devices** where the predictor has an interval of its own for them (below;
  :func:`known_rows`): a depth's interval is for a prediction whose network and device the calibration knows. A
  network is no calibration level, so a network fold predicts a new network on fully known levels, at depth 0: in
  the shipped calibrations those residuals were all of depth 0 on GPUs (518 of 518) and NPUs (79 of 79) and 168 of
  176 on MCUs, and their quantiles, (-0.44, +0.27) on GPUs and (-0.65, +1.43) on NPUs, are new-network errors,
  wider than depth 1's (-0.19, +0.27) and (-0.17, +0.65): naming a calibrated release widened the interval. A
  device held out alone is at depth 1 (its system is a level), beside the releases held out (514 of the 1,129
  depth-1 residuals on GPUs). Without an interval of its own, a new network or device takes the depth quantiles,
  and its kind of residual stays in them.
- **Too few** (under :data:`MIN_RESIDUALS` at depth d): two stand-ins, each erring wide (one more missing level,
  or a new network or device, only adds error), and the narrower of them: the known residuals of depth d pooled
  with d + 1, then with d + 2, ... until there are enough (the nearest depths first: pooled with every deeper depth
  at once, the MCU depth 0 took (-0.50, +0.33) from the few deepest fallbacks, wider than depth 1's (-0.28,
  +0.38); with depth 1 it is (-0.28, +0.37)); and every residual of depth d (on the shipped GPU and NPU
  calibrations no known residual has depth 0, and depth 1's are the narrower; on records of a single release none
  is known, and depth 0 takes the residuals of its network folds). Where neither has enough: all residuals of
  depth d or deeper; then all residuals.
- **No forced monotonicity**: a deeper depth can come out narrower than a shallower one (MCU depth 3, (-0.67,
  +0.12), against depth 2's (-0.56, +0.39): forward rounds whose new releases ran faster, one-sided). Widening
  each depth to hold every shallower depth's interval overcovered forward in time: MLPerf Inference 85 -> 91 %
  (BERT-Large 90 -> 99 %), MLPerf Tiny 79 -> 85 %; so the strata stay as measured.

**A device the calibration never saw** (its ``catalog_hardware``, else ``hardware``, had no record in the fit)
gets its interval from a random-effects view of its residual instead:

    r = delta + eps,    delta  the device's offset: what its spec and the coarser levels miss,
                        eps    the residual of one network on a device whose offset is known.

The depth quantiles cannot carry delta when the records hold few devices: with one device no inner fold can hold a
device out, and with a handful the quantiles of their pooled residuals rest on a handful of offsets (on
NAS-Bench-201's two GPUs the 80 % depth interval held 0-63 % of the measurements, on NeuSight's six GPUs 65 %).
So the scale of delta gets the textbook conjugate treatment of an unknown variance around a known mean 0 (Gelman
et al., *Bayesian Data Analysis*, 3rd ed., section 3.2; mean 0 because a held-out device is predicted from the
levels the other devices share, so its offset has no expected sign):

    offsets    d_j = median of the held-out residuals of device j in the inner splits that held it out
               (k such devices; :func:`device_offsets`)
    prior      tau^2 ~ Scaled-Inv-chi^2(nu0, tau0^2)   (:func:`offset_prior`: the between-device spread measured on
                                                        *other* data sets, never on the records fitted)
    posterior  tau_n^2 = (nu0 tau0^2 + k s^2) / (nu0 + k),   nu_n = nu0 + k       (:func:`device_spread`)
    predictive delta_new ~ t_{nu_n}(0, tau_n^2)

where k s^2 stands in for the sum of squares sum_j d_j^2 of the textbook update, s being the **robust** scale
1.4826 x median_j |d_j| (consistent for the sd of a normal; 1.4826 = 1 / z_0.75), and tau0 likewise
(:func:`robust_scale`). Why robust: device offsets are heavy-tailed; one board in ten (a Cortex-M0+ among M4 and
M7 boards) or one stack (PyTorch on a CPU among TFLite ones) is 3x off, and a mean of squares lets that one set the
spread of every other device (with it, the 80 % interval of MLPerf Tiny's leave-one-board-out held 98 % of the
measurements, NeuSight's 98 %); the rare far device is what the heavy tails of the t are for. The interval of a
prediction on an unseen device is then

    [predicted * exp(x_lo), predicted * exp(x_hi)],   F(x) = mean_i T_{nu_n}((x - eps_i) / tau_n),
                                                      F(x_lo) = (1 - coverage) / 2,  F(x_hi) = (1 + coverage) / 2

(:func:`novel_device_interval`: the quantiles of eps + delta), eps_i the within-device residuals: the held-out
residuals of the k devices less their own d_j (all residuals where those are fewer than :data:`MIN_RESIDUALS`).
With many devices the data dominate (tau_n -> their robust scale, t -> normal); with none the prior alone sets the
spread, with the heavy tails of a t of nu0 degrees of freedom. Why parametric here when the depth quantiles are
not: a handful of device offsets has no usable empirical 10 % and 90 % quantiles; a handful and a prior have a
posterior.

**A network the calibration never saw on its hardware class** (no record of its hardware class had its name) gets
the same treatment with a network offset: ``r = delta_net + eps``, the offsets d_k the medians of the held-out
residuals of each network in the inner splits that held it out, on devices the split had seen
(:func:`network_offsets`), the prior the spread of the held-out networks of the *other* data sets
(:data:`NETWORK_OFFSETS`, ``offset_prior(offsets=NETWORK_OFFSETS)``), eps the residuals of those rows less their
own d_k (:func:`novel_network_table`). Why: the op-class factors are learned on the networks of the records, and a
new network's layers can run at another efficiency than theirs for reasons no class carries (a class the records
never had takes the median factor exp(theta0), which can be far off: MLPerf Inference's grouped convolutions run at
~60x their weights-only roofline on GPUs, against the NPU class's median 3.2x); the held-out networks of the inner
cross-validation measure how far. A new network on a new device adds the network offset to the residual of a known
network on it, ``r = delta + delta_net + eps``, eps and delta those of the unseen-device interval (the within-device
residuals, :func:`device_within`, and the device offset's t; :func:`novel_device_interval` with ``extra``). It once
took the eps of the new-network interval instead, which says how one network's residuals spread over the devices
the records had, not how networks spread on one device: on 300 NAS-Bench-201 architectures on a Raspberry Pi 4 and
a Pixel 3 (two rows per network, so its eps are symmetric) the 10 / 90 % quantiles of the networks' eps were -0.09 /
+0.09 and of the devices' -0.58 / +0.20, and a known network on a new device got (-0.93, +0.62) against (-0.72,
+0.72) for a new one; now (-1.01, +0.72).

**A new network's interval holds the one the same prediction gets for a known network** (an unknown network offset
only adds spread): on a new device, the interval of eps + delta + delta_net is widened to hold that of eps + delta
where it falls inside (a symmetric offset added to an eps with one far tail can move a quantile inward);
on a known device, :meth:`~.model.CalibratedPredictor.predict_interval` takes the hull of the new-network interval
and the prediction's depth interval (the networks' eps are held out at depth 0, on fully known levels, and a
release never calibrated adds its own error; MLPerf Tiny's depth 2, (-0.56, +0.39), lies outside its new-network
interval, (-0.39, +0.34)). A new device's interval is not forced to hold a known device's, as the depth strata are
not forced monotone.
"""

from __future__ import annotations

import math
import re
from typing import Callable, Collection, Mapping, NamedTuple, Sequence

import numpy as np
import pandas as pd

INNER_FOLDS = 5
MIN_RESIDUALS = 10
MIXTURE_POINTS = 1000
"""eps is represented by this many of its quantiles in :func:`novel_device_interval` (error < 1 / this in F)."""
EXTRA_POINTS = 200
"""An extra offset in :func:`novel_device_interval` is represented by this many of its quantiles, each added to as
many quantiles of eps (error < 2 / this in F)."""

Split = tuple[np.ndarray, np.ndarray]


def fold_labels(groups: pd.Series, folds: int = INNER_FOLDS) -> np.ndarray:
    """Fold index per row: the distinct group values dealt round-robin, in sorted order, over ``folds`` folds."""
    values = groups.fillna("<missing>").astype(str)
    order = {value: position % folds for position, value in enumerate(sorted(values.unique()))}
    return values.map(order).to_numpy()


def inner_splits(groupings: list[pd.Series], rounds: pd.Series | None,
                 alone: pd.Series | None = None) -> list[Split]:
    """(train, test) boolean masks: :data:`INNER_FOLDS` folds of each grouping's distinct values, each distinct
    value of ``alone`` held out by itself (the devices: a new device arrives alone, predicted from all the
    others), then each round (sorted by its numbers) against the rounds before it. A row without a round (a
    user's own record added to a shipped calibration) takes part in no round split, so it leaves the splits of the
    rows that have one as they were (it once removed every round split, and with them the forward-in-time
    residuals of the deeper fallback depths)."""
    splits: list[Split] = []
    for groups, folds in [*((g, INNER_FOLDS) for g in groupings),
                          *(() if alone is None else ((alone, max(alone.nunique(), 1)),))]:
        labels = fold_labels(groups, folds)
        splits += [(labels != fold, labels == fold) for fold in np.unique(labels)]
    if rounds is not None:
        dated = rounds.notna().to_numpy()
        order = sorted(rounds[dated].unique(), key=lambda r: tuple(int(n) for n in re.findall(r"\d+", str(r))))
        position = rounds.map({r: i for i, r in enumerate(order)}).to_numpy(dtype=float)  # NaN: no round
        splits += [(dated & (position < i), dated & (position == i)) for i in range(1, len(order))]
    return [(train, test) for train, test in splits if train.any() and test.any()]


class HeldOut(NamedTuple):
    """The held-out rows of every inner split, one entry per (split, row)."""

    residuals: np.ndarray
    """``log(measured / predicted)``."""
    depths: np.ndarray
    """Calibration levels the prediction fell back on."""
    devices: np.ndarray
    """The row's device (str)."""
    novel: np.ndarray
    """True where the row's device had no row in the split's training part."""
    networks: np.ndarray | None = None
    """The row's network key (str; None: the records name no network)."""
    novel_network: np.ndarray | None = None
    """True where the row's network had no row in the split's training part (None: no networks named)."""


def held_out_residuals(features: pd.DataFrame, splits: list[Split],
                       fit_predict: Callable[[pd.DataFrame, pd.DataFrame], tuple[np.ndarray, np.ndarray]],
                       devices: pd.Series, networks: pd.Series | None = None) -> HeldOut:
    """Log residuals, depths, devices and device novelty of the test rows of every split, and their networks and
    network novelty where ``networks`` names each row's network (index of ``features``).

    ``fit_predict(train, test)`` returns the predicted latency_s and the depth of each test row (NaN latency: no
    prediction, the row is left out); ``devices`` names each row's device (index of ``features``).
    """
    residuals, depths, names, novel, network_names, novel_network = [], [], [], [], [], []
    measured = features["latency_s"].to_numpy(dtype=float)
    device = devices.fillna("<missing>").astype(str).to_numpy()
    network = None if networks is None else networks.fillna("<missing>").astype(str).to_numpy()
    for train, test in splits:
        predicted, depth = fit_predict(features[train], features[test])
        made = np.isfinite(predicted)
        test = np.flatnonzero(test)[made]  # the rows predicted
        residuals.append(np.log(measured[test] / predicted[made]))
        depths.append(np.asarray(depth)[made])
        names.append(device[test])
        novel.append(~pd.Series(device[test]).isin(set(device[train])).to_numpy())  # hashed: names, not sorted
        if network is not None:
            network_names.append(network[test])
            novel_network.append(~pd.Series(network[test]).isin(set(network[train])).to_numpy())
    if not residuals:
        empty = None if network is None else np.array([], dtype=object)
        return HeldOut(np.array([]), np.array([], dtype=int), np.array([], dtype=object), np.array([], dtype=bool),
                       empty, None if network is None else np.array([], dtype=bool))
    return HeldOut(np.concatenate(residuals), np.concatenate(depths).astype(int), np.concatenate(names),
                   np.concatenate(novel), np.concatenate(network_names) if network is not None else None,
                   np.concatenate(novel_network) if network is not None else None)


EMPTY_HELD_OUT = HeldOut(np.array([]), np.array([], dtype=int), np.array([], dtype=object), np.array([], dtype=bool))
"""No held-out prediction (a calibration fitted without intervals)."""
HELD_OUT_KINDS = ("a new device", "a new network on known devices", "known network and device")
"""What a held-out prediction of :func:`held_out_errors` had not seen, in the order of its rows."""


def held_out_errors(held_out: HeldOut) -> pd.DataFrame:
    """How far the inner cross-validation's held-out predictions were off, by what was new to them.

    One row per kind of :data:`HELD_OUT_KINDS` that has residuals: ``a new device`` (its device had no row in the
    split's training part: a device held out alone, or new in its round), ``a new network on known devices`` (its
    network had none, its device had), ``known network and device`` (a release, a stack or a round held out); with
    ``n`` (held-out predictions), ``median_ape_pct`` and ``within_25_pct``, where for a residual
    ``r = log(measured / predicted)`` the absolute percentage error is ``APE = 100 x |exp(-r) - 1|`` (=
    ``100 x |predicted / measured - 1|``). These are the errors to expect of a prediction of that kind, measured on
    the records; the intervals are drawn from the same residuals.
    """
    novel_network = held_out.novel_network if held_out.novel_network is not None else \
        np.zeros(len(held_out.residuals), dtype=bool)
    kinds = (held_out.novel, ~held_out.novel & novel_network, ~held_out.novel & ~novel_network)
    ape = 100 * np.abs(np.exp(-held_out.residuals) - 1)
    rows = [{"held_out": kind, "n": int(mask.sum()), "median_ape_pct": float(np.median(ape[mask])),
             "within_25_pct": float(100 * np.mean(ape[mask] <= 25))}
            for kind, mask in zip(HELD_OUT_KINDS, kinds) if mask.any()]
    return pd.DataFrame(rows, columns=["held_out", "n", "median_ape_pct", "within_25_pct"])


def known_rows(held_out: HeldOut, devices: bool, networks: bool) -> np.ndarray:
    """True where a held-out row's device (if ``devices``) and network (if ``networks``; every row where the records
    name no network) had rows in its split's training part: the rows the depth quantiles draw on (module
    docstring). Pass True for the kinds that have an interval of their own (new device, new network)."""
    known = ~held_out.novel if devices else np.ones(len(held_out.residuals), dtype=bool)
    if networks and held_out.novel_network is not None:
        known = known & ~held_out.novel_network
    return known


def conformal_quantiles(pool: np.ndarray, coverage: float) -> tuple[float, float]:
    """``(q_lo, q_hi)`` of ``pool``: its (1 -+ coverage) / 2 quantiles moved out by the split-conformal factor
    (n + 1) / n (module docstring)."""
    upper = min((1 + coverage) / 2 * (len(pool) + 1) / len(pool), 1.0)
    return float(np.quantile(pool, 1 - upper)), float(np.quantile(pool, upper))


def residual_quantiles(residuals: np.ndarray, depths: np.ndarray, coverage: float,
                       known: np.ndarray | None = None) -> dict[int, tuple[float, float]]:
    """``{depth: (q_lo, q_hi)}`` for every depth 0..max seen, in log space (module docstring): the
    :func:`conformal_quantiles` of the ``known`` residuals (:func:`known_networks`; None: all) of depth d; where
    those are fewer than :data:`MIN_RESIDUALS`, of the narrower of two stand-ins that hold at least as many: the
    ``known`` residuals of depth d pooled with the next deeper depths one at a time, and all residuals of depth d;
    where neither does, of all residuals of depth d or deeper, else of all residuals."""
    known = np.ones(len(residuals), dtype=bool) if known is None else np.asarray(known, dtype=bool)
    table: dict[int, tuple[float, float]] = {}
    top = int(depths.max()) if len(depths) else 0
    for depth in range(top + 1):
        own = known & (depths == depth)
        if own.sum() >= MIN_RESIDUALS:
            table[depth] = conformal_quantiles(residuals[own], coverage)
            continue
        deeper = next((rows for rows in (known & (depths >= depth) & (depths <= deepest)
                                         for deepest in range(depth + 1, top + 1)) if rows.sum() >= MIN_RESIDUALS),
                      None)
        stand_ins = [conformal_quantiles(residuals[rows], coverage) for rows in (deeper, depths == depth)
                     if rows is not None and rows.sum() >= MIN_RESIDUALS]
        if stand_ins:
            table[depth] = min(stand_ins, key=lambda bounds: bounds[1] - bounds[0])
            continue
        pool = residuals[depths >= depth] if (depths >= depth).sum() >= MIN_RESIDUALS else residuals
        if len(pool):
            table[depth] = conformal_quantiles(pool, coverage)
    return table


def interval(predicted: np.ndarray, depths: np.ndarray,
             quantiles: dict[int, tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper interval bounds (s) per prediction; a depth deeper than any seen takes the deepest's."""
    top = max(quantiles)
    lo = np.array([quantiles[min(int(d), top)][0] for d in depths])
    hi = np.array([quantiles[min(int(d), top)][1] for d in depths])
    return predicted * np.exp(lo), predicted * np.exp(hi)


# -- a device never seen -----------------------------------------------------------------------------------------

DEVICE_OFFSETS: dict[str, tuple[float, ...]] = {
    "mlperf_tiny": (-0.096, 0.234, -0.032, -0.353, 1.202, -0.014, -0.129, 0.079, -0.010, -0.006),
    "mlperf_inference": (0.207, 0.003, 0.245, -0.034, 0.121, -0.209),
    "nb201": (0.094, 0.607, 0.228, 0.159, -0.162),
    "neusight": (-0.166, -0.105, 0.030, 0.317, 0.193, -0.257),
}
"""Per data set of ``benchmarks/fidelity``, the offsets d_j (log measured / predicted, median over the device's
rows) of every device predicted with no record of it in the fit: MLPerf Tiny leave one board out, MLPerf Inference
the accelerators first seen in a later round (forward), NAS-Bench-201 and NeuSight leave one device out (point
predictions of the calibrated predictor of each scheme). Regenerate with ``python tools/device_offsets.py``."""


PRIOR_DF = 1.0
"""nu0: the prior counts as one device. The spread comes from other hardware and other software (the data sets'
own robust scales range from 0.13 on MCUs to 0.46 on NAS-Bench-201's CPUs and GPUs), so it should weigh less than
the devices of the records themselves; one is the least weight that keeps the predictive proper with no device
held out (a Cauchy, t_1, whose 80 % interval is +-3.08 tau0)."""


NETWORK_OFFSETS: dict[str, tuple[float, ...]] = {
    "mlperf_tiny": (0.129, -0.009, -0.361, 0.030),
    "mlperf_inference": (-0.306, 0.782, -0.312, -0.612, 0.227, 0.596),
    "neusight": (-0.023, -0.011, 0.006, -0.022, -0.043, 0.038, -0.046, -0.108, 0.008, 0.112),
}
"""Per data set of ``benchmarks/fidelity`` with several networks on the same devices, the offsets d_k (log
measured / predicted, median over the network's rows) of every network predicted with no record of it on its
hardware class: leave one network out (MLPerf Tiny LOMO; MLPerf Inference per hardware class over all rounds;
NeuSight), point predictions of the calibrated predictor of each data set. NAS-Bench-201 has none (thousands of
cells of one search space, each measured on every device). Regenerate with ``python tools/network_offsets.py``."""


def offset_prior(exclude: str | Collection[str] | None = None,
                 offsets: Mapping[str, tuple[float, ...]] = DEVICE_OFFSETS) -> tuple[float, float]:
    """``(tau0, nu0)``: the prior of the between-device (``offsets`` = :data:`DEVICE_OFFSETS`) or between-network
    (:data:`NETWORK_OFFSETS`) spread (module docstring) from the offsets of every data set but ``exclude`` (one
    name or several: a fidelity benchmark passes its own data sets, so that its prior never saw them).

    tau0 is the :func:`robust_scale` of the offsets of those data sets pooled (each device or network counts once);
    nu0 is :data:`PRIOR_DF`.
    """
    excluded = {exclude} if isinstance(exclude, str) else set(exclude or ())
    sets = [np.array(values) for name, values in offsets.items() if name not in excluded and len(values)]
    if not sets:
        raise ValueError(f"offset_prior needs the offsets of a data set besides {sorted(excluded)}; the table has "
                         f"{sorted(offsets)}")
    return robust_scale(np.concatenate(sets)), PRIOR_DF


def robust_scale(offsets: np.ndarray) -> float:
    """1.4826 x median |d|: the sd of offsets around 0, read off their median absolute value (0 for none)."""
    offsets = np.asarray(offsets, dtype=float)
    return float(1.4826 * np.median(np.abs(offsets))) if len(offsets) else 0.0


def device_offsets(held_out: HeldOut) -> pd.Series:
    """d_j per device held out in some inner split: the median of its residuals in the splits that held it out."""
    rows = pd.Series(held_out.residuals[held_out.novel], index=held_out.devices[held_out.novel], dtype=float)
    return rows.groupby(level=0).median()


def device_spread(offsets: np.ndarray, prior_scale: float, prior_df: float) -> tuple[float, float]:
    """``(tau_n, nu_n)``: the posterior scale and degrees of freedom of the device offset (module docstring)."""
    offsets = np.asarray(offsets, dtype=float)
    df = prior_df + len(offsets)
    return float(np.sqrt((prior_df * prior_scale**2 + len(offsets) * robust_scale(offsets)**2) / df)), float(df)


def _regularized_beta(x: np.ndarray, a: float, b: float) -> np.ndarray:
    """I_x(a, b) by its continued fraction (modified Lentz), on the side where it converges fast."""
    x = np.asarray(x, dtype=float)
    flip = x > (a + 1) / (a + b + 2)
    z, p, q = np.where(flip, 1 - x, x), np.where(flip, b, a), np.where(flip, a, b)
    tiny = 1e-300
    with np.errstate(divide="ignore", invalid="ignore"):
        front = np.exp(p * np.log(z) + q * np.log1p(-z) - (math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)))
    c, d = np.ones_like(z), 1 - (p + q) * z / (p + 1)
    d = 1 / np.where(np.abs(d) < tiny, tiny, d)
    h = d.copy()
    for m in range(1, 500):
        for numerator in (m * (q - m) * z / ((p + 2 * m - 1) * (p + 2 * m)),
                          -(p + m) * (p + q + m) * z / ((p + 2 * m) * (p + 2 * m + 1))):
            d = 1 + numerator * d
            d = 1 / np.where(np.abs(d) < tiny, tiny, d)
            c = 1 + numerator / c
            c = np.where(np.abs(c) < tiny, tiny, c)
            step = c * d
            h = h * step
        if np.abs(step - 1).max(initial=0.0) < 1e-13:
            break
    value = np.where(z > 0, front * h / p, 0.0)
    return np.where(flip, 1 - value, value)


def student_t_cdf(x: np.ndarray, df: float) -> np.ndarray:
    """P(T <= x) of Student's t with ``df`` degrees of freedom: 1 - I_{df/(df+x^2)}(df/2, 1/2) / 2 for x > 0,
    I / 2 for x <= 0."""
    x = np.asarray(x, dtype=float)
    tail = 0.5 * _regularized_beta(df / (df + x**2), df / 2, 0.5)
    return np.where(x > 0, 1 - tail, tail)


def student_t_quantiles(df: float, count: int) -> np.ndarray:
    """The quantiles of Student's t with ``df`` degrees of freedom at (i + 1/2) / count, i = 0..count-1, by
    bisection on :func:`student_t_cdf` (shape ``(count,)``)."""
    targets = (np.arange(count) + 0.5) / count
    low, high = np.full(count, -1e6), np.full(count, 1e6)
    for _ in range(100):
        middle = (low + high) / 2
        below = student_t_cdf(middle, df) < targets
        low, high = np.where(below, middle, low), np.where(below, high, middle)
    return (low + high) / 2


def novel_device_interval(within: np.ndarray, scale: float, df: float, coverage: float,
                          extra: Sequence[tuple[float, float]] = ()) -> tuple[float, float]:
    """``(x_lo, x_hi)``: the (1 -+ coverage) / 2 quantiles of eps + delta (+ one more offset per ``(scale, df)`` of
    ``extra``, each t_df(0, scale^2)), eps drawn from ``within`` and delta ~ t_df(0, scale^2) (module docstring), by
    bisection. eps, and eps plus each extra offset, are represented by :data:`MIXTURE_POINTS` of their quantiles
    (an extra offset by :data:`EXTRA_POINTS` of its quantiles added to as many of eps's)."""
    quantile_levels = (np.arange(MIXTURE_POINTS) + 0.5) / MIXTURE_POINTS
    points = np.quantile(np.asarray(within, dtype=float), quantile_levels)
    for extra_scale, extra_df in extra:
        thinned = np.quantile(points, (np.arange(EXTRA_POINTS) + 0.5) / EXTRA_POINTS)
        added = np.add.outer(thinned, extra_scale * student_t_quantiles(extra_df, EXTRA_POINTS))
        points = np.quantile(added.ravel(), quantile_levels)
    targets = np.array([(1 - coverage) / 2, (1 + coverage) / 2])
    low = np.full(2, points.min() - 1e3 * scale)
    high = np.full(2, points.max() + 1e3 * scale)
    for _ in range(60):
        middle = (low + high) / 2
        below = student_t_cdf((middle[:, None] - points[None, :]) / scale, df).mean(axis=1) < targets
        low, high = np.where(below, middle, low), np.where(below, high, middle)
    return float((low[0] + high[0]) / 2), float((low[1] + high[1]) / 2)


def device_within(held_out: HeldOut) -> np.ndarray:
    """eps of the unseen-device interval: the held-out residuals of the devices held out in the inner splits less
    their own d_j (:func:`device_offsets`); all residuals where those are fewer than :data:`MIN_RESIDUALS`."""
    offsets = device_offsets(held_out)
    novel = held_out.novel
    within = held_out.residuals[novel] - offsets.reindex(held_out.devices[novel]).to_numpy()
    return within if len(within) >= MIN_RESIDUALS else held_out.residuals


def novel_device_table(held_out: HeldOut, prior: tuple[float, float], coverage: float) -> dict[str, float]:
    """The interval of a prediction on an unseen device and what set it: ``low`` and ``high`` (log residuals),
    ``scale`` tau_n and ``df`` nu_n of the device offset, ``devices`` k held out in the inner splits."""
    offsets = device_offsets(held_out)
    scale, df = device_spread(offsets.to_numpy(), *prior)
    low, high = novel_device_interval(device_within(held_out), scale, df, coverage)
    return {"low": low, "high": high, "scale": scale, "df": df, "devices": float(len(offsets))}


def network_offsets(held_out: HeldOut) -> pd.Series:
    """d_k per network held out in some inner split on a device the split had seen: the median of those residuals
    (empty without networks)."""
    if held_out.networks is None or held_out.novel_network is None:
        return pd.Series(dtype=float)
    rows = held_out.novel_network & ~held_out.novel
    return pd.Series(held_out.residuals[rows], index=held_out.networks[rows], dtype=float).groupby(level=0).median()


def novel_network_table(held_out: HeldOut, prior: tuple[float, float], coverage: float,
                        device: Mapping[str, float] | None) -> dict[str, float]:
    """The interval of a prediction for a network its hardware class never had (module docstring) and what set it:
    ``low`` and ``high`` (log residuals) on a device the records had, ``low_unseen_device`` and
    ``high_unseen_device`` on one they did not (``device`` = its :func:`novel_device_table`; None: as on a known
    device), ``scale`` and ``df`` of the network offset, ``networks`` k held out in the inner splits.

    On an unseen device: the quantiles of eps + delta + delta_net, eps and delta those of ``device`` (the
    within-device residuals, :func:`device_within`, and the device offset's t), widened where need be to hold
    ``device``'s interval (an unknown network offset only adds spread)."""
    offsets = network_offsets(held_out)
    scale, df = device_spread(offsets.to_numpy(), *prior)
    rows = np.zeros(len(held_out.residuals), dtype=bool) if held_out.novel_network is None \
        else held_out.novel_network & ~held_out.novel
    within = held_out.residuals[rows] - offsets.reindex(
        held_out.networks[rows] if held_out.networks is not None else []).to_numpy()
    if len(within) < MIN_RESIDUALS:
        within = held_out.residuals
    low, high = novel_device_interval(within, scale, df, coverage)
    if device is None:
        low_unseen, high_unseen = low, high
    else:
        both_low, both_high = novel_device_interval(device_within(held_out), device["scale"], device["df"],
                                                    coverage, extra=((scale, df),))
        low_unseen, high_unseen = min(both_low, device["low"]), max(both_high, device["high"])
    return {"low": low, "high": high, "low_unseen_device": low_unseen, "high_unseen_device": high_unseen,
            "scale": scale, "df": df, "networks": float(len(offsets))}


DEFAULT_OFFSET_PRIOR = offset_prior()
"""The prior of a calibration fitted outside the fidelity benchmarks: from every data set of :data:`DEVICE_OFFSETS`."""
DEFAULT_NETWORK_PRIOR = offset_prior(offsets=NETWORK_OFFSETS)
"""The prior of the network offset of a calibration fitted outside the fidelity benchmarks: from every data set of
:data:`NETWORK_OFFSETS`."""

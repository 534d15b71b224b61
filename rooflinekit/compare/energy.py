"""Energy per inference, energy-versus-latency fits and Pareto frontiers on record DataFrames."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from rooflinekit.errors import RecordError

FIT_COLUMNS = ["n", "slope_w", "intercept_j", "r2", "status"]


def _require(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise RecordError(f"the DataFrame lacks columns {missing}; it has {list(frame.columns)}")


def energy_from_power(records: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``records`` with ``energy_j`` (J per frame) filled where only the power is known.

    ``energy_j = power_w * latency_s / batch`` (latency of one call on ``batch`` frames), or ``power_w /
    throughput_fps`` where the latency is missing. Measured energies are kept. The added column ``energy_source``
    says ``measured``, ``power x latency``, ``power / throughput`` or is empty where no energy is known.
    """
    _require(records, ["power_w", "batch"])
    out = records.copy()
    if "energy_j" not in out:
        out["energy_j"] = np.nan
    power = out["power_w"].astype("float64")
    latency = out["latency_s"].astype("float64") if "latency_s" in out else pd.Series(np.nan, index=out.index)
    throughput = (out["throughput_fps"].astype("float64") if "throughput_fps" in out
                  else pd.Series(np.nan, index=out.index))
    measured = out["energy_j"].notna()
    from_latency = ~measured & power.notna() & latency.notna()
    from_throughput = ~measured & ~from_latency & power.notna() & throughput.notna()
    out["energy_j"] = out["energy_j"].astype("float64")
    out.loc[from_latency, "energy_j"] = power * latency / out["batch"]
    out.loc[from_throughput, "energy_j"] = power / throughput
    source = pd.Series(pd.NA, index=out.index, dtype="str")
    source[measured] = "measured"
    source[from_latency] = "power x latency"
    source[from_throughput] = "power / throughput"
    out["energy_source"] = source
    return out


def energy_latency_fit(records: pd.DataFrame, by: Sequence[str] = ("hardware",)) -> pd.DataFrame:
    """Per group of ``by``, the least-squares line ``energy_j = slope_w * t + intercept_j`` with ``t = latency_s /
    batch`` (s per frame), by ``numpy.polyfit(t, energy_j, 1)``.

    ``slope_w`` (J/s = W) is the power the energy grows with per second of latency; ``intercept_j`` the energy at
    zero latency; ``r2 = 1 - SS_res / SS_tot``. Rows lacking either value are left out; ``n`` counts the rest. A group
    with fewer than two distinct latencies is not fitted: NaN numbers and the reason in ``status`` (else ``ok``).
    """
    _require(records, [*by, "latency_s", "energy_j", "batch"])
    data = records.assign(_t=records["latency_s"].astype("float64") / records["batch"],
                          _e=records["energy_j"].astype("float64")).dropna(subset=["_t", "_e"])
    rows = []
    for group, part in data.groupby(list(by), dropna=False, sort=True):
        t, e = part["_t"].to_numpy(), part["_e"].to_numpy()
        row = dict(zip(by, group if isinstance(group, tuple) else (group,)))
        if np.unique(t).size < 2:
            rows.append({**row, "n": len(t), "slope_w": np.nan, "intercept_j": np.nan, "r2": np.nan,
                         "status": f"not fitted: {np.unique(t).size} distinct latencies, need 2"})
            continue
        slope, intercept = np.polyfit(t, e, 1)
        residual = float(np.sum((e - (slope * t + intercept)) ** 2))
        total = float(np.sum((e - e.mean()) ** 2))
        rows.append({**row, "n": len(t), "slope_w": float(slope), "intercept_j": float(intercept),
                     "r2": 1 - residual / total if total > 0 else np.nan, "status": "ok"})
    return pd.DataFrame(rows, columns=[*by, *FIT_COLUMNS])


def pareto_front(frame: pd.DataFrame, x: str, y: str, maximize: tuple[bool, bool] = (False, True)) -> pd.DataFrame:
    """The non-dominated rows of ``frame`` for the objectives ``x`` and ``y`` (in input order, original index).

    ``maximize`` says per objective whether larger is better (default: small ``x``, large ``y``, e.g. latency and
    accuracy). Row a dominates row b when a is at least as good in both objectives and better in one; identical
    points do not dominate each other. Rows with NaN in ``x`` or ``y`` are not compared and not returned.
    Sort-based, O(n log n).
    """
    _require(frame, [x, y])
    if len(maximize) != 2:
        raise RecordError(f"maximize needs one flag per objective ({x}, {y}), got {maximize!r}")
    values = frame[[x, y]].to_numpy(dtype="float64")
    positions = np.flatnonzero(~np.isnan(values).any(axis=1))
    a = values[positions, 0] * (-1 if maximize[0] else 1)  # both objectives: smaller is better
    b = values[positions, 1] * (-1 if maximize[1] else 1)
    order = np.lexsort((b, a))
    keep = np.zeros(len(a), dtype=bool)
    best_b = np.inf  # smallest b among points of strictly smaller a
    start = 0
    while start < len(order):
        stop = start
        while stop < len(order) and a[order[stop]] == a[order[start]]:
            stop += 1
        group = order[start:stop]  # equal a, sorted by b
        group_min = b[group[0]]
        if group_min < best_b:
            keep[group[b[group] == group_min]] = True
        best_b = min(best_b, group_min)
        start = stop
    return frame.iloc[positions[keep]]

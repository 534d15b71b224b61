"""Energy per inference and energy-versus-latency fits on record DataFrames (Pareto fronts: :mod:`.pareto`)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from rooflinekit.compare.records import require_columns

FIT_COLUMNS = ["n", "slope_w", "intercept_j", "r2", "status"]


def energy_from_power(records: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``records`` with ``energy_j`` (J per frame) filled where only the power is known.

    ``energy_j = power_w * latency_s / batch`` (latency of one call on ``batch`` frames), or ``power_w /
    throughput_fps`` where the latency is missing. Measured energies are kept. The added column ``energy_source``
    says ``measured``, ``power x latency``, ``power / throughput`` or is empty where no energy is known.
    """
    require_columns(records, ["power_w", "batch"], "records")
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
    source = pd.Series([None] * len(out), index=out.index, dtype=object)  # None where no energy is known
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
    require_columns(records, [*by, "latency_s", "energy_j", "batch"], "records")
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

"""The calibrated estimate of an ONNX decoder export: its GEMMs priced by the operator model fitted on Vidur.

The config path names every kernel (:mod:`rooflinekit.llm.calibrated`); a graph names none, so the fitted GEMM
kinds are read from the tensor-parallel split of its data flow (:func:`~rooflinekit.llm.onnx_parallel.graph_split`),
on one device's shard:

    weighted GEMM                                   Vidur kind       m x n x k (T tokens in the pass)
    column-parallel, its region reads the cache     attn_pre_proj    T x out/N x in      (q, k, v: one kernel)
    row-parallel, its region reads the cache        attn_post_proj   T x out x in/N
    column-parallel, its region has a row-parallel  mlp_up_proj      T x out/N x in      (gate, up: one kernel)
    row-parallel, the others                        mlp_down_proj    T x out x in/N
    column-parallel, no row-parallel reads it       mlp_up_proj      (LM head proxy)

with ``T`` the rows of the layer's output (all sequences), ops counted, and ``W + b T (in + out)`` DRAM bytes per
kernel at the layer's shard (``b`` the compute type's bytes). A view (a layer that computes and moves nothing:
reshape, squeeze, ...) launches no kernel (:data:`VIEW_KIND`, no fixed cost). Every other layer -- attention, norms,
activations, residual adds, gathers, decomposed into primitive ONNX ops by exporters -- is priced as its bound
kernel's roofline plus the fitted fixed cost (one the bound fuses into a GEMM's kernel, such as a residual add
after it, inside that GEMM's fitted time), and every kernel at least at its bound, as on the config path; the
interval
is the config path's (:func:`~rooflinekit.llm.calibrated.phase_estimate`). Compute types other than fp16 / bf16
are priced by extrapolation (:class:`~rooflinekit.compare.calibrate.model.CalibrationWarning`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rooflinekit.compare.calibrate.operators import GEMM, STREAM, hardware_columns
from rooflinekit.descriptors import DType, HardwareSpec, LayerNetwork
from rooflinekit.llm.calibrated import (
    FITTED_TYPES, LM_HEAD_PROXY, ROOFLINE_KIND, CalibratedPhase, LLMOperatorCalibration, RowPricing,
    calibrate_phase, device_notes, extrapolation_note,
)
from rooflinekit.llm.onnx_parallel import COLUMN, ROW, GraphSplit
from rooflinekit.llm.phases import KernelCosts
from rooflinekit.roofline import CountedNetwork, place

VIEW_KIND = "view"
"""Kind of a row that computes and moves nothing (no ops, weights, state or activation bytes): no kernel."""


def gemm_kinds(split: GraphSplit) -> np.ndarray:
    """(R,) the Vidur kind of each weighted GEMM (module docstring table), ``""`` for the other rows."""
    closed = set(split.region[split.role == ROW].tolist())
    kinds = np.full(len(split.role), "", dtype=object)
    for i, (role, region) in enumerate(zip(split.role, split.region)):
        attention = int(region) in split.attention_regions
        if role == ROW:
            kinds[i] = "attn_post_proj" if attention else "mlp_down_proj"
        elif role == COLUMN:
            kinds[i] = ("attn_pre_proj" if attention else "mlp_up_proj" if int(region) in closed
                        else f"{LM_HEAD_PROXY} (LM head proxy)")
    return kinds.astype(str)


def price_onnx_rows(network: LayerNetwork, counted: CountedNetwork, split: GraphSplit, tp: int,
                    device: HardwareSpec, batch: int, calibration: LLMOperatorCalibration) -> RowPricing:
    """Price the weighted GEMMs of one pass of an imported decoder (module docstring).

    Parameters
    ----------
    network : LayerNetwork
        The whole pass (layer shapes as in the file, batch ``batch``).
    counted : CountedNetwork
        One device's shard of it (:func:`~rooflinekit.llm.onnx_parallel.shard_counted`).
    split : GraphSplit
        The graph's tensor-parallel split.
    tp : int
        N.
    device : HardwareSpec
        One device (needs ``compute_units`` and ``clock_hz``).
    batch : int
        Sequences B (counted ops are per sequence).
    calibration : LLMOperatorCalibration

    Returns
    -------
    RowPricing
        GEMMs of one kind in one split region form one kernel (its first row carries the time, the others are
        absorbed); views are :data:`VIEW_KIND` (no time); every other row is
        :data:`~rooflinekit.llm.calibrated.ROOFLINE_KIND`.
    """
    kinds = gemm_kinds(split)
    peaks = place(counted, device).peak_ops_per_s
    n_rows = len(network.layers)
    absorbed = np.zeros(n_rows, dtype=bool)
    kernels: list[dict[str, float | str]] = []
    first_row: list[int] = []
    groups: dict[tuple[int, str], int] = {}
    for i, layer in enumerate(network.layers):
        if not kinds[i]:
            continue
        out_shape = layer.outputs[0]
        n = float(out_shape[-1]) / (tp if split.role[i] == COLUMN else 1)
        k = float(layer.inputs[0][-1]) / (tp if split.role[i] == ROW else 1)
        m = float(np.prod(out_shape[:-1]))
        b = DType.parse(str(counted.compute_dtype[i])).bits / 8
        ops = float(counted.ops[i]) * batch
        key = (int(split.region[i]), str(kinds[i]))
        if key in groups:
            absorbed[i] = True
            row = kernels[groups[key]]
            row["ops"] = float(row["ops"]) + ops
            row["n"] = float(row["n"]) + n
            row["bytes"] = float(row["bytes"]) + float(counted.weight_bytes[i]) + b * m * n
            continue
        groups[key] = len(kernels)
        first_row.append(i)
        kernels.append({"kind": str(kinds[i]).split(" ")[0], "family": GEMM, "ops": ops, "m": m, "n": n, "k": k,
                        "parallel_units": 0.0, "bytes": float(counted.weight_bytes[i]) + b * m * (k + n),
                        "peak_ops_per_s": float(peaks[i])})
    time_s = np.zeros(n_rows)
    if kernels:
        table = pd.DataFrame(kernels)
        device_columns = hardware_columns(device, STREAM)
        for column in ("bandwidth_bytes_per_s", "compute_units", "clock_hz"):
            table[column] = device_columns[column]
        time_s[np.array(first_row)] = calibration.model.predict(table)
    moves = counted.ops + counted.weight_bytes + counted.state_bytes + np.nan_to_num(counted.activation_bytes)
    kind = np.where(kinds != "", kinds, np.where(moves > 0, ROOFLINE_KIND, VIEW_KIND))
    return RowPricing(time_s=time_s, kind=kind.astype(str), absorbed=absorbed)


def calibrated_onnx_phase(costs: KernelCosts, network: LayerNetwork, counted: CountedNetwork, split: GraphSplit,
                          tp: int, device: HardwareSpec, batch: int,
                          calibration: LLMOperatorCalibration) -> CalibratedPhase:
    """One pass's calibrated kernels (:func:`price_onnx_rows` grouped by
    :func:`~rooflinekit.llm.calibrated.calibrate_phase`)."""
    pricing = price_onnx_rows(network, counted, split, tp, device, batch, calibration)
    return calibrate_phase(costs, pricing, calibration, float(device.clock_hz or 0))


def onnx_scope_notes(counted: CountedNetwork, split: GraphSplit, device: HardwareSpec,
                     calibration: LLMOperatorCalibration) -> list[str]:
    """Refuse a device the operator model cannot price; warn and note GEMMs computed outside fp16 / bf16.

    Raises
    ------
    CalibrationError
        A GPU spec without ``compute_units`` or ``clock_hz``.

    Warns
    -----
    CalibrationWarning
        A weighted GEMM computed at a type other than fp16 / bf16.
    """
    notes = device_notes(device, calibration)
    fitted = {t.value for t in FITTED_TYPES}
    types = sorted(set(counted.compute_dtype[np.isin(split.role, [COLUMN, ROW])].tolist()) - fitted)
    if types:
        notes.insert(0, extrapolation_note(", ".join(types), calibration))
    return notes

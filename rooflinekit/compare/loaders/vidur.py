"""Load Vidur's per-operator times of Llama-family layers (``../shared/data/vidur/llm_op_profiles.csv.gz``).

Each input row (one GPU, model, tensor-parallel degree and token count) holds the median time of ten operators of
one transformer layer (:data:`OPERATORS`); it gives ten records, one per operator, each kept or rejected with a
reason. Row conservation is therefore ``records + rejected = 10 x input rows``.

- ``hardware``: ``gpu`` through :data:`GPUS` (``a100`` -> ``A100-SXM4-80GB``: Vidur's A100 SKU has 80 GB;
  the form factor is not stated and SXM4 is assumed, with a note; a bare ``a100`` is too ambiguous for a catalog
  alias) or else the catalog's aliases (``a40`` -> ``NVIDIA A40``); a GPU the catalog lacks is rejected.
- ``network`` = ``<model>/<operator>`` with the model's Hugging Face name without its organisation
  (``Llama-2-7b-hf/attn_pre_proj``); ``model`` keeps the full name and ``operator`` the operator. Build the operator
  from the row's shape columns (``n_head``, ``n_kv_head``, ``n_embd``, ``n_expanded_embd``, ``vocab_size``,
  ``use_gated_mlp``) at ``num_tokens`` tokens with ``1/tp`` of the heads and FFN width, as the folder's README
  gives the GEMM shapes.
- ``batch`` = 1 (one call over ``num_tokens`` tokens); ``latency_s`` = ``<operator>_median_ms`` / 1000;
  ``precision`` = ``fp16``; ``framework`` = ``PyTorch`` (CUDA; version not in the table).
- Key: the record key plus ``operator``, ``num_tokens`` and ``tp``. The table repeats some token counts with
  different times; such conflicting duplicates are all rejected (the records schema's rule), naming both sources.
- ``source``: ``llm_op_profiles.csv.gz:<line> <operator>``.

:func:`vidur_kernels` turns loaded records into the kernel table of
:mod:`rooflinekit.compare.calibrate.operators` (ops, DRAM bytes, GEMM shape or thread blocks per operator).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from rooflinekit.catalog import HardwareCatalog
from rooflinekit.compare.loaders._tables import catalog_name, load_rows, number
from rooflinekit.compare.records import LoadResult, Record, RequiredText
from rooflinekit.errors import RecordError

FILE = "llm_op_profiles.csv.gz"
OPERATORS: tuple[str, ...] = ("emb", "input_layernorm", "attn_pre_proj", "attn_rope", "attn_post_proj",
                              "post_attention_layernorm", "mlp_up_proj", "mlp_act", "mlp_down_proj", "add")
"""The operators of one layer, each with a ``<operator>_median_ms`` column."""
SHAPES = ("n_head", "n_kv_head", "n_embd", "n_expanded_embd", "vocab_size")
REQUIRED = ("gpu", "model", *SHAPES, "use_gated_mlp", "num_tokens", "tp", *(f"{op}_median_ms" for op in OPERATORS))
GPUS: dict[str, tuple[str, str]] = {
    "a100": ("A100-SXM4-80GB", "Vidur's a100 SKU has 80 GB (vidur/config/device_sku_config.py); taken as the SXM4 "
                               "part (assumption: the form factor is not stated)"),
}
"""Vidur GPU names too ambiguous for a catalog alias (lower case) -> (catalog name, note)."""


class VidurRecord(Record):
    """A record plus the Vidur columns: ``model`` (Hugging Face name), ``operator`` (:data:`OPERATORS`),
    ``num_tokens`` (tokens in the batch), ``tp`` (tensor-parallel degree), the model shape ``n_head``,
    ``n_kv_head``, ``n_embd``, ``n_expanded_embd`` (FFN width), ``vocab_size``, ``use_gated_mlp`` and ``gpu`` (as
    written)."""

    KEY_FIELDS: ClassVar[tuple[str, ...]] = Record.KEY_FIELDS + ("operator", "num_tokens", "tp")

    model: RequiredText
    operator: RequiredText
    num_tokens: int
    tp: int
    n_head: int
    n_kv_head: int
    n_embd: int
    n_expanded_embd: int
    vocab_size: int
    use_gated_mlp: bool
    gpu: RequiredText


def _records(row: dict[str, str], source: str, catalog: HardwareCatalog | None) -> list[tuple[dict[str, Any],
                                                                                                 str | None]]:
    """The ten operator records of one row, each with a rejection reason or None."""
    gpu = row["gpu"].strip()
    mapped = GPUS.get(gpu.casefold())
    spec, reason = (mapped[0], None) if mapped else catalog_name(gpu, catalog)
    notes = [mapped[1]] if mapped else []
    model = row["model"].strip()
    gated = row["use_gated_mlp"].strip().casefold()
    out = []
    for operator in OPERATORS:
        text = row[f"{operator}_median_ms"]
        value = number(text)
        record: dict[str, Any] = {
            "hardware": spec or gpu, "gpu": gpu, "network": f"{model.rsplit('/', 1)[-1]}/{operator}",
            "model": model, "operator": operator, "precision": "fp16", "batch": 1, "framework": "PyTorch",
            "task": "llm inference", "num_tokens": row["num_tokens"], "tp": row["tp"],
            **{name: row[name] for name in SHAPES},
            "use_gated_mlp": {"true": True, "false": False}.get(gated, row["use_gated_mlp"]),
            "latency_s": value / 1000 if value is not None else (text if text.strip() else None),
            "source": f"{source} {operator}", "notes": "; ".join(notes) or None,
        }
        out.append((record, reason))
    return out


def load_vidur(path: str | Path, catalog: HardwareCatalog | None = None) -> LoadResult:
    """Per-operator records of ``llm_op_profiles.csv.gz`` (give the file or its folder); see the module docstring.

    Parameters
    ----------
    path
        ``../shared/data/vidur`` or its ``llm_op_profiles.csv.gz`` (a plain ``.csv`` works too).
    catalog
        Hardware catalog the GPU names are resolved against; the bundled one by default.

    Returns
    -------
    LoadResult
        :class:`VidurRecord` rows (ten per input row at most), rejected ones with a ``reason`` and the file
        inventory.

    Raises
    ------
    RecordError
        When the file is missing, unreadable or lacks a column of :data:`REQUIRED`.
    """
    return load_rows(path, FILE, "Vidur", REQUIRED, _records, VidurRecord, catalog)


BYTES_PER_ELEMENT = 2
"""fp16 activations and weights."""
BLOCK_ELEMENTS = 512
"""Elements per thread block of PyTorch's vectorized elementwise kernels (128 threads x 4), for ``add``."""
GATHER_THREADS = 128
"""Threads per block of PyTorch's ``index_select`` kernels (``F.embedding``'s forward), one element each."""
GATHER_SMALL_INDEX = 16
"""At most this many indices, ``index_select`` runs its small-index kernel: one block per 128 elements of a row,
each looping over the indices (``aten/src/ATen/native/cuda/Indexing.cu``)."""
GATHER_SMALL_KIND = "emb_small_index"
"""Kernel kind of ``emb`` at <= :data:`GATHER_SMALL_INDEX` tokens: another kernel, fitted on its own."""
OVERLAPPED_KINDS: tuple[str, ...] = ("emb", GATHER_SMALL_KIND)
"""Stream kinds whose DRAM and per-SM issue times overlap
(:class:`~rooflinekit.compare.calibrate.operators.OperatorPredictor` ``overlapped``): the embedding gather is a loop
of independent element copies, no block barrier between a load phase and a compute phase (unlike the norms' row
reductions)."""


def vidur_kernels(records: pd.DataFrame) -> pd.DataFrame:
    """The kernel table of :mod:`rooflinekit.compare.calibrate.operators` for Vidur records (one row each).

    With T = ``num_tokens``, E = ``n_embd``, h = E / ``n_head``, Q = ``n_head`` h / tp, KV = ``n_kv_head`` h / tp,
    F = ``n_expanded_embd`` / tp, fp16 (2 bytes per element):

    ========================  ======  =====================================  ==========================================
    operator                  family  ops (1 MAC = 2)                        bytes (DRAM, each tensor once)
    ========================  ======  =====================================  ==========================================
    attn_pre_proj             gemm    2 T E (Q + 2 KV)                       2 (T E + E (Q + 2 KV) + T (Q + 2 KV))
    attn_post_proj            gemm    2 T Q E                                2 (T Q + Q E + T E)
    mlp_up_proj (gated)       gemm    2 T E (2F) (F without a gate)          2 (T E + E 2F + T 2F)
    mlp_down_proj             gemm    2 T F E                                2 (T F + F E + T E)
    emb                       stream  0                                      2 (2 T E) + 8 T (rows read, written; ids)
    input_layernorm,          stream  4 T E (square, sum, scale, weight)     2 (2 T E + E)
    post_attention_layernorm
    attn_rope                 stream  3 T (Q + KV) (6 per rotated pair)      2 (2 T (Q + KV))
    mlp_act (SiLU and mul)    stream  5 T F                                  2 (T 2F + T F) (F T and F without gate)
    add                       stream  T E                                    2 (3 T E)
    ========================  ======  =====================================  ==========================================

    GEMMs are ``m = T`` by ``k`` x ``n`` as in the README. ``parallel_units`` of a stream kernel: one thread block
    per token row for the norms, RoPE and the activation (the vLLM-derived kernels of Sarathi, which Vidur
    profiles, launch a grid of ``num_tokens`` blocks), ``ceil(T E / 512)`` blocks for ``add`` (PyTorch's
    elementwise kernel), and for ``emb`` the blocks of PyTorch's ``index_select`` (what ``F.embedding`` runs; the
    profiled ``VocabParallelEmbedding`` has no masking at one process): ``ceil(E / 128)`` for T <= 16 (small-index
    kernel, each block loops over the T ids) and ``ceil(T E / 128)`` above (one element per thread); GEMMs take
    theirs from the tile count. ``kind`` is the operator, except ``emb`` at T <= 16, which is the small-index kernel
    (:data:`GATHER_SMALL_KIND`); ``operator`` keeps the operator. The rotary cos/sin table read is not counted
    (T h elements, small). ``group`` = ``<model> tp<tp>`` (the interval's folds); ``hardware`` as loaded.

    Raises
    ------
    RecordError
        When a record's ``operator`` is not one of :data:`OPERATORS` or a shape column is missing.
    """
    needed = ("hardware", "operator", "num_tokens", "tp", "latency_s", "use_gated_mlp", *SHAPES)
    missing = [c for c in needed if c not in records.columns]
    if missing:
        raise RecordError(f"Vidur records lack columns {missing}; load them with load_vidur")
    unknown = sorted(set(records["operator"]) - set(OPERATORS))
    if unknown:
        raise RecordError(f"unknown Vidur operators {unknown}; known: {list(OPERATORS)}")
    r = records
    t = r["num_tokens"].to_numpy(float)
    e = r["n_embd"].to_numpy(float)
    tp = r["tp"].to_numpy(float)
    head = e / r["n_head"].to_numpy(float)
    q = r["n_head"].to_numpy(float) * head / tp
    kv = r["n_kv_head"].to_numpy(float) * head / tp
    f = r["n_expanded_embd"].to_numpy(float) / tp
    gate = np.where(r["use_gated_mlp"].astype(bool).to_numpy(), 2.0, 1.0)
    b = BYTES_PER_ELEMENT
    gemm_shapes = {"attn_pre_proj": (e, q + 2 * kv), "attn_post_proj": (q, e), "mlp_up_proj": (e, gate * f),
                   "mlp_down_proj": (f, e)}
    stream = {
        "emb": (0 * t, b * 2 * t * e + 8 * t,
                np.ceil(np.where(t <= GATHER_SMALL_INDEX, e, t * e) / GATHER_THREADS)),
        "input_layernorm": (4 * t * e, b * (2 * t * e + e), t),
        "post_attention_layernorm": (4 * t * e, b * (2 * t * e + e), t),
        "attn_rope": (3 * t * (q + kv), b * 2 * t * (q + kv), t),
        "mlp_act": (np.where(gate > 1, 5.0, 4.0) * t * f, b * (gate * t * f + t * f), t),
        "add": (t * e, b * 3 * t * e, np.ceil(t * e / BLOCK_ELEMENTS)),
    }
    op = r["operator"].to_numpy()
    kind = np.where((op == "emb") & (t <= GATHER_SMALL_INDEX), GATHER_SMALL_KIND, op)
    out = pd.DataFrame({"hardware": r["hardware"].to_numpy(), "kind": kind, "operator": op, "family": "stream",
                        "ops": 0.0, "bytes": 0.0, "m": t, "n": 0.0, "k": 0.0, "parallel_units": 0.0,
                        "num_tokens": r["num_tokens"].to_numpy(), "tp": r["tp"].to_numpy(),
                        "model": r["model"].to_numpy(), "latency_s": r["latency_s"].to_numpy(float),
                        "group": (r["model"].astype(str) + " tp" + r["tp"].astype(str)).to_numpy()},
                       index=r.index)
    for name, (k, n) in gemm_shapes.items():
        rows = op == name
        out.loc[rows, "family"] = "gemm"
        out.loc[rows, "k"], out.loc[rows, "n"] = k[rows], n[rows]
        out.loc[rows, "ops"] = 2 * t[rows] * k[rows] * n[rows]
        out.loc[rows, "bytes"] = b * (t[rows] * k[rows] + k[rows] * n[rows] + t[rows] * n[rows])
    for name, (ops, moved, units) in stream.items():
        rows = op == name
        out.loc[rows, "ops"], out.loc[rows, "bytes"] = ops[rows], moved[rows]
        out.loc[rows, "parallel_units"] = units[rows]
    return out

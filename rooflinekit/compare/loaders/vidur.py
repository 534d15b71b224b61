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
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rooflinekit.catalog import HardwareCatalog
from rooflinekit.compare.loaders._tables import catalog_name, load_rows, number
from rooflinekit.compare.records import LoadResult, Record, RequiredText

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

"""Fidelity on MLPerf Inference **SingleStream** (batch-1 latency on GPUs and NPUs): forward in time, per accelerator.

    python benchmarks/fidelity/mlperf_singlestream.py [--data ../shared/data/mlperf_inference]

Rows: the closed-division SingleStream results of ``resnet50``, ``retinanet`` and ``bert-99``/``bert-99.9`` (v2.1,
v3.0, v4.1), one per (round, system, benchmark), each the **90th-percentile latency of one sample** (the loader's
``latency_s`` = ``latency_ms`` / 1000; the table gives the early-stopping p90 estimate and no other statistic).
Every other row of the table is in ``left_out`` with its reason and counted: rows + left out = the rows the loader
read + the rows it rejected (:func:`load_features`). Left out: other scenarios and benchmarks (Offline,
3D-UNet, the LLMs), power-capped MaxQ systems (the spec describes the full clocks), the loader's rejections (MIG
slices, vGPUs, CPU-only systems, accelerators without a datasheet) and rows faster than the compute and
weight-traffic bound of one sample (fp32 stated where TensorRT ran a narrower type: the RTX 4090's BERT, the Jetson
AGX Orin's fp32 BERT and ResNet-50). Rows faster than the weights-and-activations bound but not than that one are
kept: activations that stay on chip (the Cloud AI 100's 144 MB of SRAM, the L4's 48 MB L2) make the batch-1
roofline no bound (the Cloud AI 100 runs ResNet-50 at 0.52x it, the L4 at 0.95-0.99x), and their factors below 1
say so. (The first version left out every row faster than the weights-and-activations bound, 20 rows, 12 of them
the Cloud AI 100's ResNet-50; changed on seeing those ratios, before any prediction was made.)

Costing: every row at **batch 1** on its layer network at its precision, with the conventions of
:mod:`rooflinekit.compare.calibrate.inference_offline` where they apply: the accelerator mapping (Jetson rows whose
notes say the GPU ran alone on a GPU-only copy of the spec; every SingleStream Jetson row does), the networks
(:func:`~rooflinekit.compare.calibrate.inference_offline.networks`), int8 where a mixed or no weight type is
stated, the stack key (Jetson's TensorRT apart), the core family (micro-architecture), releases keyed by round and
the device as the system. **BERT** is costed at the Offline convention's 177 real tokens per sample (the mean
SQuAD v1.1 sequence after the harness drops padding), not at the padded 384: SingleStream runs the same
padding-free engines one sample at a time, so a sample's work is its own real sequence, and 177 keeps the network
the one a calibrated BERT request is keyed and costed as (``BERT-Large-SQuAD s177``). The p90 sample is longer
than the mean one; at batch 1 that length moves the compute part only, while most of the time is per-kernel and
per-call overhead independent of it (below), and a constant ratio of p90 to mean work is absorbed by the BERT
rows' factors.

The statistic: a model predicts a typical latency, the median; the rows are the 90th percentile, which sits above
it by the run-to-run jitter of one sample's latency (and, for BERT, by the longer p90 sequences). The table holds no
median to measure the gap with. An upper bound on what jitter does to the errors: the rows of one device, stack,
round and network from different submitters (identical engines on different hosts) differ by a median of 1.3 %
from their group median (printed as ``p90 spread``), so on the fixed-shape networks the p90 sits a few percent
above the median at most, well under the calibrated errors (8-30 % median APE).

Predictors (errors on the latency of one sample):

- ``roofline``: the batch-1 layer-mode bound (``rk.predict(..., batch=1, mode="layer",
  traffic="weights_and_activations", fuse=False)``: at batch 1 activations move), nothing fitted;
- ``naive``: the roofline times the median measured / roofline of the training rows of the row's class;
- ``calibrated``: :class:`~rooflinekit.compare.calibrate.CalibratedPredictor` with the per-call and per-kernel
  overhead terms (t_ref :data:`CALL_REF_S` and :data:`OVERHEAD_REF_S`) and the ``fine`` op classes of the
  eager-latency calibration (``lodo.calibrated_predictor``), per hardware class, keyed as above; the traffic of
  its features is chosen per fit by an inner leave-one-accelerator-out cross-validation on the fit's own training
  rows (:func:`choose`, never on held-out rows) between :data:`TRAFFICS`, weights and activations winning ties; 80 %
  intervals from its inner cross-validation with device- and network-offset priors from the other data sets
  (``offset_prior(exclude="mlperf_inference")``);
- ``offline_scaled``: what ``rk.predict(network, hardware, precision, batch=1, calibrated=True)`` gave before the
  batch-1 calibration shipped, and gives today for batches 2-63 (no stack named: the class's default stack,
  TensorRT on a GPU, the Qualcomm SDK on the NPU): the shipped Offline calibration, named explicitly
  (``calibration=default_calibration(spec)``, the class's :data:`~rooflinekit.compare.calibrate.defaults.SHIPPED`
  one; ``calibrated=True`` at batch 1 now gets the SingleStream one, fitted on these rows), costed at 64 samples
  per accelerator and scaled to one sample (its regime warning silenced here).
  It was fitted on the Offline rows of every round, v3.0 and v4.1 included, so forward in time it has seen the
  test rounds' Offline throughputs: the baseline a SingleStream calibration must beat to be worth shipping.

Schemes, each hardware class apart (GPU, NPU = Qualcomm Cloud AI 100; factors never cross classes):

- ``forward``: each round predicted from the earlier rounds alone (v3.0 from v2.1; v4.1 from v2.1 + v3.0);
- ``LOAO``: leave one accelerator out within its class (a GPU from the other GPUs, an NPU from the other NPU);
  the held-out accelerator is known by its spec and stack only;

and, as ``tools/build_singlestream_calibration.py`` fits the shipped calibration (both classes in one predictor,
the op-class factors scoped by class, the overheads shared by stack, one traffic chosen on all rows, the intervals
from its inner cross-validation over both classes), ``forward one fit``: the same rounds, the GPU and NPU rows of
each in one fit (:data:`JOINT`), scored per class.

Metrics: median APE, within 10 / 25 %, Spearman, 80 % interval coverage per scheme and class, and the calibrated
median APE per accelerator. The last line printed is ``name=value`` of the headline numbers.

Nothing here was changed after seeing held-out numbers. Measured (2026-12-01, this script): calibrated median APE
forward GPU / NPU 29.5 / 15.3 %, LOAO GPU / NPU 19.0 / 8.6 %, against ``offline_scaled`` 63.3 / 78.1 % and 78.2 /
78.3 % (the scaled Offline figure is 2-5x too fast: a lone sample pays launch and synchronization costs a
sustained stream hides), which is why ``tools/build_singlestream_calibration.py`` builds a calibration from these
rows (one predictor over both classes, op-class factors scoped by class). Where it misses (log calibrated /
measured, median per accelerator and network): forward on the GPUs, RetinaNet of v3.0 is predicted 1.6-2x too
slow on every accelerator that ran it in v2.1 (+0.47 to +0.71): TensorRT 8.6 halved its SingleStream latency (A100
PCIe 5.7-6.0 ms in v2.1, 2.9 ms in v3.0; A30 7.4 -> 4.2-4.4 ms) while ResNet-50 and BERT stayed, and factors fitted
on v2.1 cannot know a later release; forward on the NPU, RetinaNet (no v2.1 NPU row) is 6-7x too fast (-1.75 to
-1.90). The L4 (1.0-1.1x its roofline) is predicted 1.4-1.9x too slow on ResNet-50 and BERT, where the bound alone
is 11.7 % off; the A2 likewise; the RTX 4090's rows state fp32 for TensorRT engines (82-117 % off).
The form the calibration ships in, both classes in one fit (``forward one fit``, added after the per-class schemes
had been scored, to validate the shipped form; nothing changed after it), is 23.0 / 13.2 % off forward on the
GPUs / the NPU with 79 / 95 % coverage, closer on both classes than the per-class fits (29.5 / 15.3 %); the
cause was not isolated (the fit differs in two ways: overheads shared by the two classes' stacks at the global
level, and one traffic chosen on both, weights-only in its v3.0 fold, 20.3 against 21.4 % in its inner
cross-validation).
"""

from __future__ import annotations

import os

for _threads in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_threads, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402
from functools import lru_cache  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable, Iterator, Sequence  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lodo  # noqa: E402

import rooflinekit as rk  # noqa: E402
from rooflinekit.catalog import get_hardware  # noqa: E402
from rooflinekit.compare.calibrate import CalibratedPredictor, CalibrationWarning  # noqa: E402
from rooflinekit.compare.calibrate import inference_offline as offline  # noqa: E402
from rooflinekit.compare.calibrate.defaults import default_calibration  # noqa: E402
from rooflinekit.compare.calibrate.intervals import NETWORK_OFFSETS, offset_prior  # noqa: E402
from rooflinekit.compare.evaluate import ape_pct, error_metrics  # noqa: E402
from rooflinekit.compare.loaders import load_mlperf_inference  # noqa: E402
from rooflinekit.descriptors import HardwareSpec  # noqa: E402

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "mlperf_inference"
DATASET = "mlperf_inference"
"""This data set's key for ``offset_prior(exclude=...)``: the interval priors come from the other data sets."""
BATCH = 1
"""SingleStream: one sample per query."""
TRAFFICS = ("weights_and_activations", "weights_only")
"""The traffic the calibrated features may be costed with (:func:`choose`); the first is the default and the
roofline's (at batch 1 activations move)."""
BASELINE_TRAFFIC = TRAFFICS[0]
OP_CLASSES = lodo.OP_CLASSES
CALL_REF_S = lodo.CALL_REF_S
OVERHEAD_REF_S = lodo.OVERHEAD_REF_S
PREDICTORS = ("roofline", "naive", "calibrated", "offline_scaled")
CLASSES = ("GPU", "NPU")
SCHEMES = ("forward", "LOAO", "forward one fit")
"""The schemes of the module docstring, in the order they run."""
JOINT = "forward one fit"
"""The scheme whose folds hold both classes, as the shipped calibration is fitted."""


def featurize(records: pd.DataFrame, traffic: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(features, skipped)``: SingleStream rows costed at batch 1 with ``traffic`` and keyed as the module
    docstring says (``latency_s``: the p90 latency of one sample, s)."""
    return offline.key_records(records.assign(precision=records["precision"].fillna("int8")), BATCH, traffic,
                               OP_CLASSES)


def load_features(data: Path = DATA) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """``(features, left_out)``: the kept rows featurized with each of :data:`TRAFFICS` (traffic -> features, the
    same rows in the same order), and every other row the loader read or rejected, with a ``reason``; together
    they hold each input row once."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = load_mlperf_inference(data)
        kept, left_out = offline.select(loaded.records, scenario="SingleStream")
        features, unresolved = {}, pd.DataFrame()
        for traffic in TRAFFICS:
            features[traffic], unresolved = featurize(kept, traffic)
    base = features[BASELINE_TRAFFIC]
    beyond = (features["weights_only"]["roofline_latency_s"] > base["latency_s"]).to_numpy()
    impossible = base[beyond].assign(reason=(
        "measured faster than the compute and weight-traffic bound of one sample at the stated precision (fp32 "
        "stated for a TensorRT engine that ran a narrower type): the stated precision is not what ran"))
    features = {traffic: frame[~beyond].reset_index(drop=True) for traffic, frame in features.items()}
    left_out = pd.concat([loaded.rejected, left_out, unresolved, impossible], ignore_index=True)
    return features, left_out


def calibrated_predictor(traffic: str, **params: object) -> CalibratedPredictor:
    """The calibrated predictor: per-call and per-kernel overheads, ``fine`` op classes (the eager-latency
    configuration), the device as the system, ``traffic`` recorded, and ``params`` (priors, intervals)."""
    return lodo.calibrated_predictor(traffic=traffic, system_columns=offline.SYSTEM_COLUMNS, **params)


def inner_error(features: pd.DataFrame, traffic: str) -> float:
    """Median APE (%) of leave-one-accelerator-out predictions within ``features`` (one class; no intervals); NaN
    with fewer than two accelerators."""
    errors = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        for device in features["device"].unique():
            test = (features["device"] == device).to_numpy()
            if test.all():
                continue
            model = calibrated_predictor(traffic, interval_coverage=None).fit(features[~test])
            errors.append(np.abs(model.predict(features[test]) / features.loc[test, "latency_s"] - 1))
    return float(100 * np.median(np.concatenate(errors))) if errors else float("nan")


def choose(features: dict[str, pd.DataFrame], rows: np.ndarray) -> tuple[str, dict[str, float]]:
    """``(traffic, scores)``: the traffic of :data:`TRAFFICS` with the lowest :func:`inner_error` on the training
    ``rows`` (a boolean mask), the first listed on a tie or when no score exists."""
    scores = {traffic: inner_error(features[traffic][rows], traffic) for traffic in TRAFFICS}
    return min(TRAFFICS, key=lambda t: (np.nan_to_num(scores[t], nan=np.inf), TRAFFICS.index(t))), scores


@lru_cache(maxsize=None)
def _offline_scaled(network: str, precision: str, hardware: str) -> float:
    """Latency (s) of one sample from the shipped Offline calibration, scaled to one sample (module docstring)."""
    spec: HardwareSpec = (offline.gpu_only(get_hardware(hardware.removesuffix(offline.GPU_ONLY)))
                          if hardware.endswith(offline.GPU_ONLY) else get_hardware(hardware))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return rk.predict(offline.networks()[(network, precision)], spec, precision, batch=BATCH,
                          calibration=default_calibration(spec)).latency_s


def offline_scaled(features: pd.DataFrame) -> np.ndarray:
    """:func:`_offline_scaled` of every row (s)."""
    return np.array([_offline_scaled(n, p, h) for n, p, h in zip(features["network"], features["precision"],
                                                                 features["catalog_hardware"])])


def _order(round_name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in round_name.lstrip("v").split("."))


def splits(features: pd.DataFrame, scheme: str) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """``(fold name, train, test)`` boolean masks of ``scheme`` within each hardware class (:data:`JOINT`: over
    both at once); a fold without a training row of the class is skipped."""
    groups = ([("+".join(CLASSES), features["hardware_class"].isin(CLASSES).to_numpy())] if scheme == JOINT else
              [(name, (features["hardware_class"] == name).to_numpy()) for name in CLASSES])
    for hardware_class, own in groups:
        if scheme.startswith("forward"):
            rounds = sorted(features.loc[own, "round"].unique(), key=_order)
            folds = [(f"{hardware_class} {later}", own & (features["round"].map(_order) < _order(later)).to_numpy(),
                      own & (features["round"] == later).to_numpy()) for later in rounds[1:]]
        else:
            folds = [(f"{hardware_class} {device}", own & (features["device"] != device).to_numpy(),
                      own & (features["device"] == device).to_numpy())
                     for device in dict.fromkeys(features.loc[own, "device"])]
        yield from ((name, train, test) for name, train, test in folds if train.any())


def run_scheme(features: dict[str, pd.DataFrame], scheme: str, progress: Callable[[str], None] = lambda _: None
               ) -> pd.DataFrame:
    """Every predictor's latency (s), the calibrated 80 % interval, depth, the traffic chosen and whether the
    accelerator had training rows (``seen``), for each row a fold of ``scheme`` held out."""
    prior, network_prior = offset_prior(exclude=DATASET), offset_prior(exclude=DATASET, offsets=NETWORK_OFFSETS)
    base = features[BASELINE_TRAFFIC]
    parts = []
    for held, train, test in splits(base, scheme):
        traffic, scores = choose(features, train)
        progress(f"{scheme}: {held}, fit on {train.sum()} rows; inner cross-validation: "
                 + ", ".join(f"{t} {s:.1f} %" for t, s in scores.items()) + f" -> {traffic}")
        chosen = features[traffic]
        fold = lodo.fold_predictions(chosen[train], chosen[test],
                                     calibrated_predictor(traffic, device_offset_prior=prior,
                                                          network_offset_prior=network_prior),
                                     lodo.MedianEfficiency(), baseline=(base[train], base[test]))
        fold["offline_scaled"] = offline_scaled(base[test])
        fold["seen"] = base.loc[test, "device"].isin(base.loc[train, "device"])
        parts.append(fold.assign(fold=held, traffic=traffic))
    return pd.concat(parts)


def metrics(features: pd.DataFrame, predicted: pd.DataFrame, scheme: str) -> list[dict[str, object]]:
    """One row per predictor of :data:`PREDICTORS` (error metrics on the latency of one sample; coverage of the
    calibrated 80 % interval)."""
    measured = features.loc[predicted.index, "latency_s"]
    inside = (measured >= predicted["low"]) & (measured <= predicted["high"])
    return [{"scheme": scheme, "predictor": name, **error_metrics(measured.tolist(), predicted[name].tolist()),
             "coverage_80_pct": float(100 * inside.mean()) if name == "calibrated" else float("nan")}
            for name in PREDICTORS]


def per_accelerator(features: pd.DataFrame, predicted: pd.DataFrame, scheme: str) -> pd.DataFrame:
    """Median APE (%) of each predictor per accelerator (and whether it had training rows), with the median
    measured / roofline and the calibrated coverage."""
    frame = features.loc[predicted.index]
    measured = frame["latency_s"]
    table = pd.DataFrame({"scheme": scheme, "accelerator": frame["device"], "known": predicted["seen"],
                          "over_roofline": measured / frame["roofline_latency_s"],
                          "inside": (measured >= predicted["low"]) & (measured <= predicted["high"])})
    for name in PREDICTORS:
        table[name] = ape_pct(measured.tolist(), predicted[name].tolist())
    return table.groupby(["scheme", "accelerator", "known"]).agg(
        n=("calibrated", "size"), measured_over_roofline=("over_roofline", "median"),
        calibrated_mdape_pct=("calibrated", "median"), offline_scaled_mdape_pct=("offline_scaled", "median"),
        naive_mdape_pct=("naive", "median"), roofline_mdape_pct=("roofline", "median"),
        coverage_80_pct=("inside", lambda x: 100 * x.mean())).reset_index()


def p90_spread(features: pd.DataFrame) -> float:
    """Median |latency / group median - 1| (%) over the rows of groups of one device, stack release, round and
    network with two or more rows (module docstring)."""
    keys = ["device", "stack_release", "round", "network"]
    group = features.groupby(keys, dropna=False)["latency_s"]
    sizes = group.transform("size")
    deviation = (features["latency_s"] / group.transform("median") - 1).abs()[sizes >= 2]
    return float(100 * deviation.median())


def results(data: Path = DATA, progress: Callable[[str], None] = lambda _: None
            ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(table, per_accelerator, folds, left_out)``: the metrics per scheme, class and predictor; the median APEs
    per scheme and accelerator; the traffic chosen per fold; the rows left out with their reason."""
    features, left_out = load_features(data)
    base = features[BASELINE_TRAFFIC]
    progress(f"SingleStream: {len(base)} rows costed at batch 1 ("
             + ", ".join(f"{k} {n}" for k, n in base["hardware_class"].value_counts().sort_index().items())
             + f"), {len(left_out)} left out")
    rows, accelerators, folds = [], [], []
    for scheme in SCHEMES:
        predicted = run_scheme(features, scheme, progress)
        classes = base.loc[predicted.index, "hardware_class"]
        for hardware_class in [c for c in CLASSES if (classes == c).any()]:
            rows += metrics(base, predicted[classes == hardware_class], f"{scheme} {hardware_class}")
        if scheme == "forward":
            rows += metrics(base, predicted[predicted["seen"].astype(bool)], "forward-known")
            rows += metrics(base, predicted[~predicted["seen"].astype(bool)], "forward-new")
        if scheme != JOINT:  # per accelerator: the per-class schemes (the one-fit rows are scored per class above)
            accelerators.append(per_accelerator(base, predicted, scheme))
        folds.append(predicted.drop_duplicates("fold")[["fold", "traffic"]].assign(scheme=scheme))
    return (pd.DataFrame(rows), pd.concat(accelerators, ignore_index=True),
            pd.concat(folds, ignore_index=True)[["scheme", "fold", "traffic"]], left_out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help=f"MLPerf Inference data folder (default {DATA})")
    args = parser.parse_args(argv)
    table, accelerators, folds, left_out = results(args.data, lambda text: print(text, file=sys.stderr, flush=True))
    lodo.print_tables(table, accelerators, folds)
    print(f"left out: {len(left_out)} rows")
    with pd.option_context("display.width", 200, "display.max_colwidth", 110):
        print(left_out["reason"].str.slice(0, 110).value_counts().to_string())
    print(f"p90 spread: {p90_spread(load_features(args.data)[0][BASELINE_TRAFFIC]):.1f} % (median |p90 / median "
          "of its device, release, round and network - 1|)")
    calibrated = table.set_index(["scheme", "predictor"])["median_ape_pct"]
    heads = {f"{scheme.replace(' ', '_').replace('-', '_')}_{name}_median_ape_pct": calibrated[(scheme, name)]
             for scheme in ("forward GPU", "forward NPU", "LOAO GPU", "LOAO NPU") for name in ("calibrated",
                                                                                             "offline_scaled")
             if (scheme, name) in calibrated.index}
    print(" ".join(f"{name}={value:.2f}" for name, value in heads.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

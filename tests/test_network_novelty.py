"""The interval of a prediction for a network its hardware class never had
(:mod:`rooflinekit.compare.calibrate.intervals`): a network offset with a t predictive whose scale pools the
networks held out in the inner cross-validation with a prior from other data sets."""

from __future__ import annotations

import json
import math
import warnings
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from rooflinekit.compare.calibrate import CalibratedPredictor, CalibrationWarning
from rooflinekit.compare.calibrate.intervals import (
    DEFAULT_NETWORK_PRIOR, NETWORK_OFFSETS, PRIOR_DF, HeldOut, network_offsets, novel_device_interval, offset_prior,
    student_t_quantiles,
)
from rooflinekit.errors import CalibrationError

Z90 = 1.2815516  # the 90 % quantile of the standard normal
T1_90 = math.tan(0.4 * math.pi)  # the 90 % quantile of Student's t with 1 degree of freedom (Cauchy): 3.0777


def normal_offsets(count: int, sd: float, seed: int) -> np.ndarray:
    """count offsets that follow N(0, sd^2) exactly: sd x the normal quantiles at (j + 1/2) / count, shuffled."""
    return np.random.default_rng(seed).permutation(
        [sd * NormalDist().inv_cdf((j + 0.5) / count) for j in range(count)])


def networks_records(offsets: np.ndarray, noise: float, seed: int, devices: int = 6,
                     prefix: str = "net") -> pd.DataFrame:
    """Records of each network (one per offset) on ``devices`` devices of one stack: latency = 2 x exp(delta_k) x
    (conv + other roofline time) x exp(eps), delta_k the network's offset (what its layers run at beyond what the
    classes say), eps ~ N(0, noise^2) per record."""
    rng = np.random.default_rng(seed)
    rows = []
    for network, delta in enumerate(offsets):
        conv, other = rng.uniform(1e-3, 1e-2), rng.uniform(1e-4, 1e-3)
        for device in range(devices):
            rows.append({"hardware": f"D{device}", "catalog_hardware": f"D{device}", "hardware_class": "GPU",
                         "core_family": "GPU", "framework": "S", "framework_version": "1",
                         "network": f"{prefix}{network}", "roofline_s:conv/fp32": conv,
                         "roofline_s:other/fp32": other,
                         "latency_s": 2 * math.exp(delta) * (conv + other) * math.exp(rng.normal(0, noise))})
    return pd.DataFrame(rows)


def fitted(records: pd.DataFrame, **params: object) -> CalibratedPredictor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        return CalibratedPredictor(**params).fit(records)  # type: ignore[arg-type]


def test_student_t_quantiles_invert_the_closed_forms():
    # df 1: the Cauchy, x = tan(pi (p - 1/2)); df 2: x = (2p - 1) sqrt(2 / (4 p (1 - p)))
    p = (np.arange(8) + 0.5) / 8
    assert student_t_quantiles(1.0, 8) == pytest.approx(np.tan(np.pi * (p - 0.5)), abs=1e-9)
    assert student_t_quantiles(2.0, 8) == pytest.approx((2 * p - 1) * np.sqrt(2 / (4 * p * (1 - p))), abs=1e-9)


def test_an_extra_offset_adds_its_variance_to_the_interval():
    # eps = 0, delta ~ N(0, 0.2^2) and an extra N(0, 0.15^2) (df large): their sum is N(0, 0.25^2), so the 80 %
    # interval is +-1.2816 x 0.25 = +-0.320
    low, high = novel_device_interval(np.zeros(50), 0.2, 1e4, 0.8, extra=[(0.15, 1e4)])
    assert (low, high) == pytest.approx((-Z90 * 0.25, Z90 * 0.25), abs=0.004)


def test_network_offsets_are_medians_of_held_out_networks_on_known_devices():
    held = HeldOut(residuals=np.array([0.1, 0.3, 0.2, -0.4, -0.6, 9.0, 5.0]), depths=np.zeros(7, dtype=int),
                   devices=np.array(["d"] * 7, dtype=object),
                   novel=np.array([False, False, False, False, False, True, False]),
                   networks=np.array(["a", "a", "a", "b", "b", "b", "c"], dtype=object),
                   novel_network=np.array([True, True, True, True, True, True, False]))
    # b's row on a new device and c's known-network row are left out
    assert network_offsets(held).to_dict() == pytest.approx({"a": 0.2, "b": -0.5})
    assert network_offsets(held._replace(networks=None, novel_network=None)).empty


def test_the_network_prior_of_a_benchmark_never_holds_its_own_data_set():
    for name in NETWORK_OFFSETS:
        others = np.concatenate([np.array(v) for k, v in NETWORK_OFFSETS.items() if k != name])
        assert offset_prior(exclude=name, offsets=NETWORK_OFFSETS) == pytest.approx(
            (1.4826 * np.median(np.abs(others)), PRIOR_DF))
    everything = np.concatenate([np.array(v) for v in NETWORK_OFFSETS.values()])
    assert DEFAULT_NETWORK_PRIOR == pytest.approx((1.4826 * np.median(np.abs(everything)), PRIOR_DF))


def test_new_networks_are_covered_as_their_offset_distribution_says():
    # 40 networks whose offsets are N(0, 0.3^2), record noise N(0, 0.05^2): the classes cannot know a network's
    # offset, so for a new network the residual is delta + eps, normal with sd hypot(0.3, 0.05) = 0.304; an
    # honest 80 % interval is +-1.28 x 0.304 = +-0.39 and holds 80 % of new networks drawn alike (the robust scale
    # of 40 inner offsets and the t_41 move it by a few points: 74-86 %)
    train = networks_records(normal_offsets(40, 0.3, seed=1), 0.05, seed=1)
    fresh = networks_records(normal_offsets(200, 0.3, seed=2), 0.05, seed=2, prefix="new")
    fit = fitted(train, network_offset_prior=(0.3, 1.0))
    assert fit.novel_network_["networks"] == 40
    low, high = fit.predict_interval(fresh)
    inside = float(np.mean((fresh.latency_s >= low) & (fresh.latency_s <= high)))
    assert 0.74 <= inside <= 0.86
    assert np.median(np.log(high / low)) / 2 == pytest.approx(Z90 * math.hypot(0.3, 0.05), rel=0.1)
    # without the new-network interval the same rows take the depth interval (all levels known: depth 0), and the
    # point predictions are the same
    plain = fitted(train, network_offset_prior=None)
    assert plain.novel_network_ == {}
    plain_low, plain_high = plain.predict_interval(fresh)
    assert np.log(plain_high / plain.predict(fresh)) == pytest.approx(plain.residual_quantiles_[0][1])
    assert plain.predict(fresh) == pytest.approx(fit.predict(fresh))


def test_one_network_leaves_the_prior_alone_to_set_the_spread():
    # fitted on one network no inner fold can hold a network out: the offset of a new network is t_1(0, tau0^2),
    # whose 80 % interval is +-3.08 tau0 (noise 0.01 adds little)
    tau0 = 0.2
    train = networks_records(np.zeros(1), 0.01, seed=3, devices=20)
    fit = fitted(train, network_offset_prior=(tau0, 1.0))
    assert fit.novel_network_["networks"] == 0 and fit.novel_network_["df"] == 1.0
    assert (fit.novel_network_["low"], fit.novel_network_["high"]) == pytest.approx((-T1_90 * tau0, T1_90 * tau0),
                                                                                   abs=0.03)
    fresh = networks_records(np.zeros(3), 0.01, seed=4, prefix="new")
    low, high = fit.predict_interval(fresh)
    assert np.log(high / fit.predict(fresh)) == pytest.approx(fit.novel_network_["high"])
    # a known network on a known device keeps the depth interval, much narrower
    known_low, known_high = fit.predict_interval(train)
    assert np.median(np.log(known_high / known_low)) < 0.2 * np.median(np.log(high / low))


def test_a_new_network_on_a_new_device_adds_both_offsets_and_json_keeps_them():
    train = networks_records(normal_offsets(8, 0.2, seed=5), 0.05, seed=5)
    fit = fitted(train)
    table = fit.novel_network_
    assert table["low_unseen_device"] < table["low"] < table["high"] < table["high_unseen_device"]
    fresh = networks_records(normal_offsets(3, 0.2, seed=6), 0.05, seed=6, prefix="new").assign(
        hardware="N0", catalog_hardware="N0")
    low, high = fit.predict_interval(fresh)
    assert np.log(high / fit.predict(fresh)) == pytest.approx(table["high_unseen_device"])
    assert np.log(low / fit.predict(fresh)) == pytest.approx(table["low_unseen_device"])
    again = CalibratedPredictor.from_json(fit.to_json())
    for bounds_again, bounds in zip(again.predict_interval(fresh), (low, high)):
        assert bounds_again == pytest.approx(bounds)
    data = json.loads(fit.to_json())
    data["novel_network"]["low"] = 5.0  # above high
    with pytest.raises(CalibrationError, match="novel_network"):
        CalibratedPredictor.from_json(json.dumps(data))
    with pytest.raises(CalibrationError, match="network_offset_prior must be"):
        fitted(train, network_offset_prior=(0.0, 1.0))


def test_record_network_names_are_those_of_the_networks_the_records_were_costed_on():
    from rooflinekit.compare.calibrate.inference_offline import RECORD_NETWORKS, networks

    built = networks()
    assert {costed.name: name for (name, _), costed in built.items()} == RECORD_NETWORKS
    assert len(built) == 3 * 3  # three networks at int8, fp16 and fp32


def test_a_shipped_calibration_knows_its_networks_by_the_name_they_were_costed_under():
    import rooflinekit as rk
    from rooflinekit.compare.calibrate import default_calibration
    from rooflinekit.compare.calibrate.inference_offline import record_network
    from rooflinekit.networks.mlperf import mlperf_network

    assert record_network(mlperf_network("resnet50")) == "resnet50"
    longer = mlperf_network("bert-99", seq_len=384)  # the records ran 177 tokens per sample
    assert record_network(longer) == longer.name
    shipped = default_calibration("GPU")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        known = rk.predict("ResNet-50", "A100-SXM4-80GB", calibrated=True, batch=64)
        new = rk.predict(longer, "A100-SXM4-80GB", calibrated=True, batch=64)
    assert new.latency_interval_s[1] / new.latency_s == pytest.approx(math.exp(shipped.novel_network_["high"]))
    depth_highs = [math.exp(high) for _, high in shipped.residual_quantiles_.values()]
    assert any(known.latency_interval_s[1] / known.latency_s == pytest.approx(h) for h in depth_highs)


def test_a_calibration_without_a_regime_says_when_a_new_networks_interval_is_widened():
    # the eager-latency calibration's CPU records ran NAS-Bench-201 cells only (hundreds of them); LeNet-MNIST is
    # none of them, so its interval is the new-network one, and the note says so, naming five of the networks the
    # records ran and counting the rest; a cell the records ran gets no such note
    import rooflinekit as rk
    from rooflinekit.compare.calibrate import default_calibration
    from rooflinekit.networks import nb201_network

    shipped = default_calibration("CPU")
    cells = sorted(key for key in shipped.networks_ if key.startswith("CPU | "))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        new = rk.predict("LeNet-MNIST", "Raspberry Pi 4 Model B", calibrated=True, framework="TFLite")
        known = rk.predict(nb201_network(cells[0].removeprefix("CPU | ")), "Raspberry Pi 4 Model B",
                           calibrated=True, framework="TFLite")
    [note] = [n for n in new.notes if n.startswith("interval: ")]
    assert note.startswith("interval: no CPU record of the calibration ran LeNet-MNIST (they ran ")
    assert f" and {len(cells) - 5} more): its interval adds the spread between networks (x" in note
    low = math.exp(min(shipped.novel_network_["low"], shipped.residual_quantiles_[0][0]))
    assert new.latency_interval_s[0] / new.latency_s == pytest.approx(low)
    assert not [n for n in known.notes if n.startswith("interval: ")]

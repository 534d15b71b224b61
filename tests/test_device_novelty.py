"""The interval of a prediction on a device no record had (:mod:`rooflinekit.compare.calibrate.intervals`): a device
offset with a t predictive whose scale pools the inner held-out devices with a prior from other data sets."""

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
    DEFAULT_OFFSET_PRIOR, DEVICE_OFFSETS, PRIOR_DF, HeldOut, device_offsets, device_spread, novel_device_interval,
    offset_prior, robust_scale, student_t_cdf,
)
from rooflinekit.errors import CalibrationError

Z90 = 1.2815516  # the 90 % quantile of the standard normal
T1_90 = math.tan(0.4 * math.pi)  # the 90 % quantile of Student's t with 1 degree of freedom (Cauchy): 3.0777


def normal_offsets(n_devices: int, sd: float, seed: int) -> np.ndarray:
    """n device offsets that follow N(0, sd^2) exactly: sd x the normal quantiles at (j + 1/2) / n, shuffled (a
    random sample of 40 would itself be 10-20 % off in spread, and the test would measure the sample)."""
    quantiles = [sd * NormalDist().inv_cdf((j + 0.5) / n_devices) for j in range(n_devices)]
    return np.random.default_rng(seed).permutation(quantiles)


def devices_records(offsets: np.ndarray, noise: float, seed: int, networks: int = 12,
                    prefix: str = "D") -> pd.DataFrame:
    """Records of ``networks`` networks on each device (one per offset) of one stack: latency = 2 x exp(delta_j) x
    (conv + other roofline time) x exp(eps), delta_j the device's offset, eps ~ N(0, noise^2) per record."""
    rng = np.random.default_rng(seed)
    rows = []
    for device, delta in enumerate(offsets):
        for network in range(networks):
            conv, other = rng.uniform(1e-3, 1e-2), rng.uniform(1e-4, 1e-3)
            rows.append({"hardware": f"{prefix}{device}", "catalog_hardware": f"{prefix}{device}",
                         "hardware_class": "GPU", "core_family": "GPU", "framework": "S", "framework_version": "1",
                         "network": f"net{network}", "roofline_s:conv/fp32": conv, "roofline_s:other/fp32": other,
                         "latency_s": 2 * math.exp(delta) * (conv + other) * math.exp(rng.normal(0, noise))})
    return pd.DataFrame(rows)


def normal_cdf(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.vectorize(math.erf)(np.asarray(x) / math.sqrt(2)))


def test_student_t_cdf_matches_the_closed_forms():
    x = np.linspace(-40, 40, 161)
    # df 1: the Cauchy, 1/2 + atan(x) / pi; df 2: 1/2 + x / (2 sqrt(2 + x^2)); df -> infinity: the normal
    assert student_t_cdf(x, 1.0) == pytest.approx(0.5 + np.arctan(x) / np.pi, abs=1e-12)
    assert student_t_cdf(x, 2.0) == pytest.approx(0.5 + x / (2 * np.sqrt(2 + x**2)), abs=1e-12)
    assert student_t_cdf(x, 1e6) == pytest.approx(normal_cdf(x), abs=1e-6)
    assert student_t_cdf(np.array([T1_90]), 1.0)[0] == pytest.approx(0.9, abs=1e-12)


def test_device_spread_is_the_conjugate_update_with_a_robust_scale():
    # no device held out: the prior alone
    assert device_spread(np.array([]), 0.3, 1.0) == pytest.approx((0.3, 1.0))
    # k offsets: tau_n^2 = (nu0 tau0^2 + k s^2) / (nu0 + k), s = 1.4826 median |d|; one far device does not set s
    offsets = np.array([0.1, -0.2, 0.15, -0.05, 3.0])
    s = 1.4826 * 0.15
    assert robust_scale(offsets) == pytest.approx(s)
    assert device_spread(offsets, 0.3, 1.0) == pytest.approx((math.sqrt((0.09 + 5 * s**2) / 6), 6.0))


def test_offsets_are_medians_of_the_held_out_residuals_of_each_novel_device():
    held = HeldOut(residuals=np.array([0.1, 0.3, 0.2, -0.4, -0.6, 9.0]), depths=np.zeros(6, dtype=int),
                   devices=np.array(["a", "a", "a", "b", "b", "b"], dtype=object),
                   novel=np.array([True, True, True, True, True, False]))
    assert device_offsets(held).to_dict() == pytest.approx({"a": 0.2, "b": -0.5})  # b's known-device row left out


def test_novel_device_interval_is_the_t_quantile_when_the_within_device_residuals_vanish():
    # eps = 0: the interval is +-t_{df, 0.9} x scale (df 1: the Cauchy's 3.0777)
    low, high = novel_device_interval(np.zeros(50), 0.2, 1.0, 0.8)
    assert (low, high) == pytest.approx((-T1_90 * 0.2, T1_90 * 0.2), rel=1e-6)
    # eps and delta both normal (df large): eps + delta is normal with the variances added
    eps = np.random.default_rng(0).normal(0, 0.1, 200_000)
    low, high = novel_device_interval(eps, 0.2, 1e4, 0.8)
    assert (low, high) == pytest.approx((-Z90 * math.hypot(0.1, 0.2), Z90 * math.hypot(0.1, 0.2)), abs=0.004)


def test_the_prior_of_a_benchmark_never_holds_its_own_data_set():
    for name in DEVICE_OFFSETS:
        others = np.concatenate([np.array(v) for k, v in DEVICE_OFFSETS.items() if k != name])
        assert offset_prior(exclude=name) == pytest.approx((1.4826 * np.median(np.abs(others)), PRIOR_DF))
    everything = np.concatenate([np.array(v) for v in DEVICE_OFFSETS.values()])
    assert DEFAULT_OFFSET_PRIOR == pytest.approx((1.4826 * np.median(np.abs(everything)), PRIOR_DF))


def test_unseen_devices_are_covered_as_their_offset_distribution_says():
    # 40 devices whose offsets are N(0, 0.3^2), record noise N(0, 0.1^2): for a new device the residual is normal
    # with sd hypot(0.3, 0.1) = 0.316, so an honest 80 % interval is about +-1.28 x 0.316 = +-0.405 and holds 80 %
    # of the records of new devices drawn from the same distribution (t_41 instead of the normal: +-1.30, 80.4 %;
    # the robust scale of 40 offsets and the noise in each inner offset move it by a few points: 75-85 %)
    train = devices_records(normal_offsets(40, 0.3, seed=1), 0.1, seed=1)
    fresh = devices_records(normal_offsets(200, 0.3, seed=2), 0.1, seed=2, networks=4, prefix="N")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        fit = CalibratedPredictor(device_offset_prior=(0.3, 1.0)).fit(train)
        low, high = fit.predict_interval(fresh)
    assert fit.novel_device_["devices"] == 40
    inside = float(np.mean((fresh.latency_s >= low) & (fresh.latency_s <= high)))
    assert 0.75 <= inside <= 0.85
    assert np.median(np.log(high / low)) / 2 == pytest.approx(Z90 * math.hypot(0.3, 0.1), rel=0.1)
    # a known device keeps the narrower depth interval: its offset is fitted, only the record noise is left
    known_low, known_high = fit.predict_interval(train)
    assert np.median(np.log(known_high / known_low)) < 0.6 * np.median(np.log(high / low))


def test_one_device_leaves_the_prior_alone_to_set_the_spread():
    # fitted on one device no inner fold can hold a device out: the offset of a new device is t_1(0, tau0^2),
    # whose 80 % interval is +-3.08 tau0 (noise 0.02 adds little); with true offsets N(0, tau0^2) it holds
    # P(|Z| < 3.08) = 99.8 % of new devices, the price of knowing one device
    tau0 = 0.2
    train = devices_records(np.zeros(1), 0.02, seed=3, networks=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        fit = CalibratedPredictor(device_offset_prior=(tau0, 1.0)).fit(train)
    assert fit.novel_device_["devices"] == 0 and fit.novel_device_["df"] == 1.0
    assert (fit.novel_device_["low"], fit.novel_device_["high"]) == pytest.approx((-T1_90 * tau0, T1_90 * tau0),
                                                                                 abs=0.05)


def test_without_a_prior_a_new_device_takes_the_depth_interval_and_json_keeps_both():
    train = devices_records(normal_offsets(6, 0.3, seed=4), 0.1, seed=4)
    fresh = devices_records(normal_offsets(3, 0.3, seed=5), 0.1, seed=5, prefix="N")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        plain = CalibratedPredictor(device_offset_prior=None).fit(train)
        assert plain.novel_device_ == {}
        fit = CalibratedPredictor().fit(train)
        assert fit.device_offset_prior == DEFAULT_OFFSET_PRIOR and fit.devices_ == [f"D{i}" for i in range(6)]
        again = CalibratedPredictor.from_json(fit.to_json())
        for bounds_again, bounds in zip(again.predict_interval(fresh), fit.predict_interval(fresh)):
            assert bounds_again == pytest.approx(bounds)
    data = json.loads(fit.to_json())
    data["novel_device"]["low"] = 1.0  # above high
    with pytest.raises(CalibrationError, match="novel_device"):
        CalibratedPredictor.from_json(json.dumps(data))
    with pytest.raises(CalibrationError, match="device_offset_prior must be"):
        CalibratedPredictor(device_offset_prior=(0.2, -1.0)).fit(train)

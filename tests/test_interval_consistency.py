"""Intervals that know less are no narrower (:mod:`rooflinekit.compare.calibrate.intervals`): a new network on a new
device holds the interval of a known network on that device, and a new network on a known device holds the interval
of a known network there (an unknown network offset only adds spread)."""

from __future__ import annotations

import math
import warnings
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rooflinekit.compare.calibrate import CalibratedPredictor, CalibrationWarning
from rooflinekit.compare.calibrate.intervals import HeldOut, novel_device_table, novel_network_table

Z90 = 1.2815516  # the 90 % quantile of the standard normal


def normal_quantiles(count: int, sd: float) -> np.ndarray:
    """sd x the normal quantiles at (j + 1/2) / count: count values whose robust scale is sd (to O(1 / count))."""
    return np.array([sd * NormalDist().inv_cdf((j + 0.5) / count) for j in range(count)])


def held_out_of(device_offsets: np.ndarray, device_eps: np.ndarray, network_offsets: np.ndarray,
                network_eps: float) -> HeldOut:
    """Held-out rows of two kinds: each device j held out alone, with residuals d_j + each of ``device_eps``; each
    network k held out on two known devices, with residuals d_k -+ ``network_eps`` (its median d_k)."""
    residuals = [d + device_eps for d in device_offsets] + [np.array([d - network_eps, d + network_eps])
                                                             for d in network_offsets]
    devices = [f"D{j}" for j, _ in enumerate(device_offsets) for _ in device_eps] + \
        ["K0", "K1"] * len(network_offsets)
    networks = [f"seen{i}" for i in range(len(device_offsets) * len(device_eps))] + \
        [f"N{k}" for k, _ in enumerate(network_offsets) for _ in range(2)]
    novel = np.arange(len(devices)) < len(device_offsets) * len(device_eps)
    return HeldOut(np.concatenate(residuals), np.zeros(len(devices), dtype=int), np.array(devices, dtype=object),
                   novel, np.array(networks, dtype=object), ~novel)


def test_a_new_network_on_a_new_device_adds_the_network_offset_to_the_new_device_interval() -> None:
    """2,000 devices held out, offsets N(0, 0.2^2), no within-device spread; 2,000 networks, offsets N(0, 0.15^2),
    each +-0.5 across its two devices. Priors at the same scales, so tau_n = 0.2 and 0.15 with ~2,000 degrees of
    freedom (t ~ normal). New device: +-z90 x 0.2 = +-0.256. New network on it: eps (0: the new device's), delta
    and delta_net: +-z90 x sqrt(0.2^2 + 0.15^2) = +-z90 x 0.25 = +-0.320 (the +-0.5 of the networks across
    known devices is the eps of a new network on a known device, not of one on a new device)."""
    held_out = held_out_of(normal_quantiles(2000, 0.2), np.zeros(2), normal_quantiles(2000, 0.15), 0.5)
    device = novel_device_table(held_out, (0.2, 1.0), 0.8)
    assert (device["low"], device["high"]) == pytest.approx((-Z90 * 0.2, Z90 * 0.2), abs=0.004)
    table = novel_network_table(held_out, (0.15, 1.0), 0.8, device)
    assert (table["low_unseen_device"], table["high_unseen_device"]) == pytest.approx((-Z90 * 0.25, Z90 * 0.25),
                                                                                      abs=0.005)
    # on a known device: +-0.5 (half the records) plus N(0, 0.15^2): F(x) = (Phi((x - 0.5) / 0.15)
    # + Phi((x + 0.5) / 0.15)) / 2 = 0.9 at x = 0.5 + 0.15 x z_0.8 = 0.626
    z80 = NormalDist().inv_cdf(0.8)
    assert (table["low"], table["high"]) == pytest.approx((-0.5 - 0.15 * z80, 0.5 + 0.15 * z80), abs=0.01)


def test_a_skewed_new_device_interval_stays_inside_that_of_a_new_network_on_it() -> None:
    """The trial's case: two devices held out whose within-device residuals are skewed (one network in five runs
    e^-1 = 0.37x as long as predicted), networks whose own residuals are symmetric. The interval of a new network on a
    new device once took the networks' symmetric eps in place of the devices' skewed one and came out above the
    new device's lower bound; built on the devices' eps, it holds it."""
    skewed = np.array([0.1, 0.05, 0.0, -0.05, -1.0] * 40)
    held_out = held_out_of(np.array([-0.3, 0.3]), skewed, normal_quantiles(300, 0.2), 0.1)
    device = novel_device_table(held_out, (0.3, 1.0), 0.8)
    table = novel_network_table(held_out, (0.2, 1.0), 0.8, device)
    assert table["low_unseen_device"] <= device["low"] < device["high"] <= table["high_unseen_device"]
    assert table["low_unseen_device"] <= table["low"] < table["high"] <= table["high_unseen_device"]


def test_where_the_network_offset_pulls_a_far_tail_inward_the_new_device_interval_is_kept() -> None:
    """eps 0 on 85 % of a device's rows and -3 on 15 % (offsets 0, device spread ~0): the new device's 10 %
    quantile is -3. Adding a network offset N(0, 1.5^2) puts P(eps + delta_net <= -3) at 0.15 x 1/2 + 0.85 x
    Phi(-2) = 0.094 < 0.1, so the sum's 10 % quantile lies above -3: the interval of a new network there is widened
    to -3. Its upper bound is the sum's: 0.15 Phi((x + 3) / 1.5) + 0.85 Phi(x / 1.5) = 0.9, solved by bisection."""
    held_out = held_out_of(np.zeros(20), np.array([0.0] * 17 + [-3.0] * 3), normal_quantiles(2000, 1.5), 0.0)
    device = novel_device_table(held_out, (1e-3, 1.0), 0.8)
    assert device["low"] == pytest.approx(-3.0, abs=0.01)
    table = novel_network_table(held_out, (1.5, 1.0), 0.8, device)
    assert table["low_unseen_device"] == device["low"]
    phi = NormalDist().cdf
    low, high = 0.0, 5.0
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if 0.15 * phi((middle + 3) / 1.5) + 0.85 * phi(middle / 1.5) < 0.9 \
            else (low, middle)
    assert table["high_unseen_device"] == pytest.approx(low, abs=0.03)


# -- on any fitted calibration ------------------------------------------------------------------------------------

@st.composite
def record_sets(draw: st.DrawFn) -> pd.DataFrame:
    """Records of 2-4 networks on 1-3 devices of one GPU stack (two releases), latency = factor x roofline time x
    noise, the factors of each device and network drawn at random."""
    devices = draw(st.integers(1, 3))
    networks = draw(st.integers(2, 4))
    seed = draw(st.integers(0, 2**16))
    spread = draw(st.sampled_from([0.05, 0.3, 1.0]))
    rng = np.random.default_rng(seed)
    device_factor, network_factor = rng.normal(0, spread, devices), rng.normal(0, spread, networks)
    rows = []
    for device in range(devices):
        for network in range(networks):
            for release in ("1", "2"):
                conv, other = rng.uniform(1e-3, 1e-2), rng.uniform(1e-4, 1e-3)
                rows.append({"hardware": f"D{device}", "catalog_hardware": f"D{device}", "hardware_class": "GPU",
                             "core_family": "GPU", "framework": "S", "framework_version": release,
                             "network": f"net{network}", "roofline_s:conv/fp32": conv,
                             "roofline_s:other/fp32": other,
                             "latency_s": 2 * (conv + other) * math.exp(device_factor[device]
                                                                        + network_factor[network]
                                                                        + rng.normal(0, spread / 2))})
    return pd.DataFrame(rows)


@settings(max_examples=12)
@given(records=record_sets())
def test_on_any_fitted_calibration_a_new_network_widens_the_interval_of_a_known_one(records: pd.DataFrame) -> None:
    """Each record predicted as it is, on a new device, for a new network, and both (same features otherwise, so
    the same point prediction): the new network's interval holds the known network's, on a known device (depth
    quantiles, here of depth 0, and of depth 1 for a release never calibrated) and on a new one."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        fit = CalibratedPredictor().fit(records)
    assert fit.novel_network_ and fit.residual_quantiles_
    rows = pd.concat([records, records.assign(framework_version="3")], ignore_index=True)
    new_device = rows.assign(hardware="NEW", catalog_hardware="NEW")
    for known in (rows, new_device):
        low, high = fit.predict_interval(known)
        new_low, new_high = fit.predict_interval(known.assign(network="never seen"))
        assert np.all(new_low <= low * (1 + 1e-12)) and np.all(new_high >= high * (1 - 1e-12))
    table = fit.novel_network_
    assert table["low_unseen_device"] <= fit.novel_device_["low"] < fit.novel_device_["high"] <= \
        table["high_unseen_device"]

"""Which held-out residuals set the depth intervals (:func:`rooflinekit.compare.calibrate.intervals.residual_quantiles`
and :func:`~rooflinekit.compare.calibrate.intervals.known_rows`): where new devices and networks have an interval of
their own, those of rows whose device and network the inner fit knew; where too few, the narrower of the nearest
deeper depths and all rows of the depth."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from rooflinekit.compare.calibrate import CalibratedPredictor, CalibrationWarning
from rooflinekit.compare.calibrate.intervals import HeldOut, known_rows, residual_quantiles

# np.quantile interpolates linearly: the p quantile of sorted x_0..x_{n-1} is x_i + f (x_{i+1} - x_i) with
# i + f = p (n - 1). With n = 10 and coverage 0.8 the split-conformal levels are 0.9 x 11 / 10 = 0.99 and 0.01,
# i.e. positions 8.91 and 0.09: for x_k = k (k = 0..9) the quantiles are (0.09, 8.91).
TEN = (0.09, 8.91)


def held(residuals: list[float], depths: list[int], novel: list[bool], novel_network: list[bool]) -> HeldOut:
    count = len(residuals)
    return HeldOut(residuals=np.array(residuals, dtype=float), depths=np.array(depths, dtype=int),
                   devices=np.array([f"d{i % 3}" for i in range(count)], dtype=object), novel=np.array(novel),
                   networks=np.array([f"n{i % 2}" for i in range(count)], dtype=object),
                   novel_network=np.array(novel_network))


def test_known_rows_leave_out_the_new_devices_and_networks_that_have_their_own_interval():
    rows = held([0.0] * 4, [0] * 4, novel=[False, True, False, True], novel_network=[False, False, True, True])
    assert known_rows(rows, devices=True, networks=True).tolist() == [True, False, False, False]
    # without an interval of its own, a new device (network) takes the depth quantiles, so its rows stay in
    assert known_rows(rows, devices=False, networks=True).tolist() == [True, True, False, False]
    assert known_rows(rows, devices=True, networks=False).tolist() == [True, False, True, False]
    assert known_rows(rows, devices=False, networks=False).tolist() == [True] * 4
    # records that name no network: every row's network counts as known
    assert known_rows(rows._replace(networks=None, novel_network=None), devices=True, networks=True).tolist() == [
        True, False, True, False]


def test_depth_quantiles_come_from_known_networks_on_known_devices():
    # depth 0: ten known rows 0..9 and ten new-network rows at +-50 (a network fold predicts at depth 0);
    # depth 1: ten known rows 10..19 and ten rows at 99 of devices held out (a held-out device falls back a level)
    residuals = [*range(10), *[50.0, -50.0] * 5, *range(10, 20), *[99.0] * 10]
    depths = [0] * 20 + [1] * 20
    novel_network = [False] * 10 + [True] * 10 + [False] * 20
    novel = [False] * 30 + [True] * 10
    rows = held(residuals, depths, novel, novel_network)
    table = residual_quantiles(rows.residuals, rows.depths, 0.8, known_rows(rows, devices=True, networks=True))
    assert table[0] == pytest.approx(TEN)
    assert table[1] == pytest.approx((10 + TEN[0], 10 + TEN[1]))
    # with every row (the rule before), the +-50 and the 99s set the bounds
    everything = residual_quantiles(rows.residuals, rows.depths, 0.8)
    assert everything[0][0] < -40 and everything[0][1] > 40 and everything[1][1] > 90


def test_too_few_at_a_depth_pool_the_next_deeper_depth_before_the_deeper_ones():
    # known networks: depth 0 holds 0..3, depth 1 holds 4..9, depth 2 ten rows of 100
    rows = held([*range(10), *[100.0] * 10], [0] * 4 + [1] * 6 + [2] * 10, [False] * 20, [False] * 20)
    table = residual_quantiles(rows.residuals, rows.depths, 0.8, known_rows(rows, devices=True, networks=True))
    # depth 0: 4 < 10 residuals, so depths 0-1 pooled: 0..9 -> (0.09, 8.91); depth 2's 100s stay out
    assert table[0] == pytest.approx(TEN)
    # depth 1: 6 < 10, so depths 1-2: 4..9 and ten 100s (n = 16); levels 0.9 x 17 / 16 = 0.95625 and 0.04375, at
    # positions 14.34 (a 100) and 0.656 (4 + 0.656)
    assert table[1] == pytest.approx((4.65625, 100.0))
    assert table[2] == pytest.approx((100.0, 100.0))


def test_too_few_at_a_depth_take_the_narrower_stand_in():
    # depth 0: no known network, ten new-network rows; depth 1: ten known-network rows. The two stand-ins of
    # depth 0 are depth 1's known rows and all of depth 0; the narrower wins
    narrow, wide = [*range(10)], [10.0 * k for k in range(10)]  # quantiles (0.09, 8.91) and (0.9, 89.1)
    for new_networks, depth_one, expected in ((wide, narrow, TEN), (narrow, wide, TEN)):
        rows = held([*new_networks, *depth_one], [0] * 10 + [1] * 10, [False] * 20, [True] * 10 + [False] * 10)
        table = residual_quantiles(rows.residuals, rows.depths, 0.8, known_rows(rows, devices=True, networks=True))
        assert table[0] == pytest.approx(expected)
        assert table[1] == pytest.approx(TEN if depth_one is narrow else (0.9, 89.1))


def test_without_enough_of_either_stand_in_a_depth_takes_every_row_of_that_depth_or_deeper_then_all():
    # known networks 0..9 at depth 0; new networks only at depth 1 (10..14) and depth 2 (15..19): five each
    rows = held([*range(20)], [0] * 10 + [1] * 5 + [2] * 5, [False] * 20, [False] * 10 + [True] * 10)
    table = residual_quantiles(rows.residuals, rows.depths, 0.8, known_rows(rows, devices=True, networks=True))
    assert sorted(table) == [0, 1, 2]
    assert table[0] == pytest.approx(TEN)
    assert table[1] == pytest.approx((10 + TEN[0], 10 + TEN[1]))  # depths 1-2: 10..19
    # depth 2: five rows, so all twenty: levels 0.9 x 21 / 20 = 0.945 and 0.055, at positions 17.955 and 1.045
    assert table[2] == pytest.approx((1.045, 17.955))


# ---------------------------------------------------------------------------------- a calibration end to end

RELEASES = (("1.0", "v1", 1.25), ("2.0", "v2", 1.0), ("2.0", "v3", 1.0))
"""(version, round, slowdown): release 1.0 runs 1.25x slower than 2.0; round v3 runs 2.0 again, so its round split
predicts known networks on known devices with a calibrated release (depth 0)."""


def records(seed: int, repeats: int = 2, releases: tuple[tuple[str, str, float], ...] = RELEASES,
            noise: float = 0.1) -> pd.DataFrame:
    """Six networks on six devices: latency = release slowdown x (2 x conv time + 2 exp(o_k) x time of network k's
    own op class) x exp(eps), eps ~ N(0, noise^2) per record, o_k ~ N(0, 0.7^2) fixed per network (seed 99). A
    known network's class factor is learned; a new network's own class has no record (the median factor), so new
    networks err by about o_k, known ones by about eps."""
    own = np.random.default_rng(99).normal(0, 0.7, 6)
    rng = np.random.default_rng(seed)
    rows = []
    for device in range(6):
        for network in range(6):
            for version, round_, slowdown in releases:
                for _ in range(repeats):
                    conv, mine = rng.uniform(1e-3, 1e-2), rng.uniform(1e-3, 1e-2)
                    rows.append({"hardware": f"D{device}", "catalog_hardware": f"D{device}", "hardware_class": "GPU",
                                 "core_family": "A" if device % 2 else "B", "framework": "S",
                                 "framework_version": version, "round": round_, "network": f"N{network}",
                                 "roofline_s:conv/fp32": conv, f"roofline_s:own{network}/fp32": mine,
                                 "latency_s": slowdown * (2 * conv + 2 * math.exp(own[network]) * mine)
                                 * math.exp(rng.normal(0, noise))})
    return pd.DataFrame(rows).fillna(0.0)


@pytest.fixture(scope="module")
def calibration() -> tuple[pd.DataFrame, CalibratedPredictor, CalibratedPredictor]:
    train = records(seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)  # the inner network folds meet classes never fitted
        return (train, CalibratedPredictor().fit(train),
                CalibratedPredictor(network_offset_prior=None).fit(train))


def test_a_known_network_on_a_known_device_is_covered_at_the_stated_rate(calibration):
    # fresh draws of the same networks, devices and release: the residual is eps ~ N(0, 0.1^2), whose 80 % interval
    # is +-1.28 x 0.1, log width 0.26 (with the new networks' residuals in depth 0, as before, it was 0.96 and held
    # all of them)
    train, fit, _ = calibration
    fresh = records(seed=2, repeats=5, releases=(("2.0", "v3", 1.0),)).reindex(columns=train.columns, fill_value=0.0)
    assert (fit.explain(fresh)["depth"] == 0).all()
    low, high = fit.predict_interval(fresh)
    inside = float(np.mean((fresh.latency_s >= low) & (fresh.latency_s <= high)))
    assert 0.7 <= inside <= 0.9
    assert float(np.median(np.log(high / low))) == pytest.approx(2 * 1.2816 * 0.1, rel=0.3)


def test_naming_the_release_does_not_widen_the_interval(calibration):
    # named, the release is calibrated (depth 0: round v3's residuals, eps alone); unnamed, it falls back to the
    # newest one (depth 1: eps and the error of a release held out, log 1.25 = 0.22 off)
    train, fit, _ = calibration
    known = records(seed=3, repeats=1, releases=(("2.0", "v3", 1.0),)).reindex(columns=train.columns, fill_value=0.0)
    unnamed = known.assign(framework_version=np.nan, round=np.nan)  # falls back to the newest release: depth 1
    assert (fit.explain(unnamed)["depth"] == 1).all()
    low, high = fit.predict_interval(known)
    fallback_low, fallback_high = fit.predict_interval(unnamed)
    assert np.all(np.log(high / low) <= np.log(fallback_high / fallback_low))


def test_without_a_new_network_interval_the_depth_quantiles_keep_the_new_networks(calibration):
    # o_k ~ N(0, 0.7^2) sets the errors of the network folds: kept in (no interval of their own), they widen
    # depth 0 well beyond eps's +-0.13
    _, fit, plain = calibration
    assert plain.novel_network_ == {}
    width, plain_width = (table[0][1] - table[0][0] for table in (fit.residual_quantiles_, plain.residual_quantiles_))
    assert plain_width > 2 * width

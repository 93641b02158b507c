"""Raking weights, Kish's effective size and weighted shares."""

import math

import pandas as pd
import pytest

from analysis.stats import intervals as stats
from analysis.stats.weights import kish_effective_n, rake, weighted_share


def sample():
    return pd.DataFrame({"genre": list("FFFFFFHHHH"), "statut": ["cape", "cesa"] * 5})


def test_rake_reproduces_target_margins():
    s = sample()
    targets = {"genre": {"F": 50, "H": 50}, "statut": {"cape": 70, "cesa": 30}}
    w = rake(s, targets)
    assert w.groupby(s["genre"]).sum().to_dict() == pytest.approx({"F": 50, "H": 50}, rel=1e-6)
    assert w.groupby(s["statut"]).sum().to_dict() == pytest.approx({"cape": 70, "cesa": 30}, rel=1e-6)
    assert (w > 0).all()


def test_rake_one_variable_is_post_stratification_by_hand():
    # 6 F for a target of 50 -> 50/6 each; 4 H for 50 -> 12.5 each
    s = sample()
    w = rake(s, {"genre": {"F": 50, "H": 50}})
    assert w[s["genre"] == "F"].tolist() == pytest.approx([50 / 6] * 6)
    assert w[s["genre"] == "H"].tolist() == pytest.approx([12.5] * 4)


def test_rake_refuses_categories_without_respondents():
    with pytest.raises(ValueError, match="sans répondant"):
        rake(sample(), {"genre": {"F": 40, "H": 40, "autre": 20}})


def test_kish_effective_n_by_hand():
    # (1 + 1 + 2 + 2)^2 / (1 + 1 + 4 + 4) = 36 / 10
    assert kish_effective_n([1, 1, 2, 2]) == pytest.approx(3.6)
    assert kish_effective_n([3] * 7) == pytest.approx(7)


def test_weighted_share_equal_weights_is_wilson():
    y = [1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
    p, low, high, neff = weighted_share(y, [2.0] * 10)
    assert p == pytest.approx(0.3) and neff == pytest.approx(10)
    assert (low, high) == pytest.approx(stats.wilson_interval(3, 10))


def test_weighted_share_by_hand_uses_kish_n():
    # p_w = 3/6 = 0.5; n_eff = 6^2 / (9 + 1 + 1 + 1) = 3; Wilson with n = 3, p = 0.5:
    # centre 0.5, half = z/(1 + z^2/3) * sqrt(0.25/3 + z^2/36)
    y = [1, 0, 0, 0]
    w = [3.0, 1.0, 1.0, 1.0]
    p, low, high, neff = weighted_share(y, w)
    z = 1.959964
    half = z / (1 + z * z / 3) * math.sqrt(0.25 / 3 + z * z / 36)
    assert p == pytest.approx(0.5) and neff == pytest.approx(3)
    assert (low, high) == pytest.approx((0.5 - half, 0.5 + half), abs=1e-6)
    # four unweighted people with the same share give a narrower interval
    _, l4, h4, _ = weighted_share([1, 1, 0, 0], [1.0] * 4)
    assert h4 - l4 < high - low


def test_rake_raises_a_named_error_on_incompatible_margins():
    """Two perfectly associated variables (a == b on every row) cannot meet
    margins a: 50/50 and b: 80/20 at once: IPF oscillates and must say so
    rather than return weights that miss a margin."""
    from analysis.stats.weights import RakingError, rake

    sample = pd.DataFrame({"a": ["x", "x", "y", "y"], "b": ["u", "u", "v", "v"]})
    with pytest.raises(RakingError):
        rake(sample, {"a": {"x": 50, "y": 50}, "b": {"u": 80, "v": 20}}, max_iter=50)

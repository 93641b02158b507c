"""Keyed pseudonyms, key handling, age bands."""

from __future__ import annotations

import hashlib
import os
import stat

import pandas as pd
import pytest

from analysis.intake import pseudonymise as ps


def hmac_sha256_by_hand(key: bytes, msg: bytes) -> str:
    """RFC 2104 written out: H((K ^ opad) || H((K ^ ipad) || m)), block 64 bytes."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(k ^ 0x36 for k in key) + msg).digest()
    return hashlib.sha256(bytes(k ^ 0x5C for k in key) + inner).hexdigest()


def test_rfc4231_vector():
    # RFC 4231 test case 1: key = 0x0b * 20, data = "Hi There"
    assert ps.pseudonym("Hi There", b"\x0b" * 20) == "p_b0344c61d8db3853"


def test_pseudonym_matches_rfc2104_by_hand():
    key = bytes(range(32))
    for value in ["jean.dupont@exemple.fr", "Émilie Noël", "12345"]:
        assert ps.pseudonym(value, key) == "p_" + hmac_sha256_by_hand(key, value.encode("utf-8"))[:16]


def test_pseudonymise_series_stable_and_keyed():
    ids = pd.Series(["a", None, "b", "a "], index=[5, 6, 7, 8], dtype="string")
    k1, k2 = b"k" * 32, b"j" * 32
    out = ps.pseudonymise(ids, k1)
    assert list(out.index) == [5, 6, 7, 8] and pd.isna(out[6])
    assert out[5] == out[8] != out[7]  # trailing space is the same person
    assert out.equals(ps.pseudonymise(ids, k1))
    assert ps.pseudonymise(ids, k2)[5] != out[5]


def test_key_from_env_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("CAE_IMPACT_KEY", "ab" * 32)
    assert ps.load_or_create_key(tmp_path / "k") == bytes.fromhex("ab" * 32)
    assert not (tmp_path / "k").exists()


@pytest.mark.parametrize("value", ["zz" * 32, "ab" * 4])
def test_bad_env_key_raises_french(monkeypatch, value):
    monkeypatch.setenv("CAE_IMPACT_KEY", value)
    with pytest.raises(ps.KeyProblem, match="clé de pseudonymisation"):
        ps.load_or_create_key()


def test_key_file_created_0600_and_reused(monkeypatch, tmp_path):
    monkeypatch.delenv("CAE_IMPACT_KEY", raising=False)
    path = tmp_path / "conf" / "pseudonym.key"
    k = ps.load_or_create_key(path)
    assert len(k) == 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert ps.load_or_create_key(path) == k
    assert path.read_text().strip() == k.hex()


def test_key_file_default_from_config(monkeypatch, tmp_path):
    monkeypatch.delenv("CAE_IMPACT_KEY", raising=False)
    monkeypatch.setattr(ps.config, "KEY_FILE", tmp_path / "x.key")
    k = ps.load_or_create_key()
    assert (tmp_path / "x.key").read_text().strip() == k.hex()


def test_age_band_bounds():
    # age = entry year - birth year: 25 -> moins_26, 26 -> 26_34, 34 -> 26_34, 35 -> 35_49, 49 -> 35_49, 50 -> 50_plus
    births = pd.Series([1994, 1993, 1985, 1984, 1970, 1969, None], dtype="Int64")
    entry = pd.Series(pd.to_datetime(["2019-12-31"] * 6 + ["2019-01-01"]))
    got = ps.age_band(births, entry)
    assert got.tolist()[:6] == ["moins_26", "26_34", "26_34", "35_49", "35_49", "50_plus"]
    assert pd.isna(got.iloc[6])


def test_pseudonymise_table_drops_personal_and_free_text():
    f = pd.DataFrame({"id": pd.array(["Jean"], dtype="string"), "eff_accompagnement": pd.array([4], dtype="Int64")})
    out = ps.pseudonymise_table(f, "questionnaire", b"k" * 32)
    assert list(out.columns) == ["id", "eff_accompagnement"] and out.loc[0, "id"].startswith("p_")
    e = pd.DataFrame({"id": pd.array(["Jean"], dtype="string"), "date_entree": pd.to_datetime(["2019-05-01"]),
                      "annee_naissance": pd.array([1960], dtype="Int64"), "genre": pd.array(["H"], dtype="string")})
    out = ps.pseudonymise_table(e, "entrepreneurs", b"k" * 32)
    assert list(out.columns) == ["id", "date_entree", "tranche_age", "genre"]
    assert out.loc[0, "tranche_age"] == "50_plus"  # 2019 - 1960 = 59

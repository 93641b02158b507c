"""Shared fixtures. The end-to-end fixture runs the real pipeline once per
test session on a small demo (2 CAEs) and is shared by every e2e test."""

from __future__ import annotations

import os

import pytest



@pytest.fixture(scope="session")
def pseudonym_key() -> bytes:
    """A fixed test key, so tests never touch the user's key file."""
    key = "00" * 31 + "01"
    os.environ["CAE_IMPACT_KEY"] = key
    return bytes.fromhex(key)


@pytest.fixture(scope="session")
def e2e_run(tmp_path_factory, pseudonym_key):
    """Generate a 2-CAE demo, run the whole pipeline with 2 jobs; return the
    paths, the run summary and its progress events in the order they were
    shown, as (structure, stage, status, detail)."""
    from analysis.intake import demo
    from analysis.pipeline import runner

    root = tmp_path_factory.mktemp("e2e")
    raw, processed, out = root / "raw", root / "processed", root / "out"
    slugs = demo.generate(raw, n_cae=2, seed=2019, scale=0.5)
    events: list[tuple[str, str, str, str]] = []

    def progress(cae, stage, status, seconds=None, detail=""):
        events.append((cae, stage, status, detail))

    summary = runner.run(raw_dir=raw, processed_dir=processed, out_dir=out, jobs=2, progress=progress)
    return {"root": root, "raw": raw, "processed": processed, "out": out, "slugs": slugs, "summary": summary,
            "events": events}

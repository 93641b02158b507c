"""Publication gate: every published count passes through here.

* :mod:`analysis.publication.suppression` — the one small-cell rule
  (``is_small``/``small``, ``too_few``), primary and within-table secondary
  suppression (``publish``, ``publish_crosstab``), plain-French marks of hidden
  cells (``mark_fr``, ``hidden_fr``) and counts in sentences (``count_fr``);
  thresholds read from ``methodology/publication.yml`` only (``thresholds``).
* :mod:`analysis.publication.linked` — secondary suppression over the linked
  tables of a run (national vs. CAEs, margins vs. headcount, tests on the same
  respondents, total rows); the SROI link (value = count × published
  constants) is closed by :func:`analysis.sroi.valuation.evaluate_published`.
* :mod:`analysis.publication.formatting` — French number formatting.
"""

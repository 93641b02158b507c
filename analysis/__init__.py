"""CAE-IMPACT workbook: the study's logic as an importable package.

Every stage (intake, indicators, SROI, QVT, report) lives in a small module of
pure functions over DataFrames; notebooks only call into it. The method itself
(codebook, indicators, value map, scales, publication rules) is data, read
from the YAML files in ``methodology/``.
"""

__version__ = "0.1.0"

from analysis._imports import defer_rfc3987_syntax as _defer

_defer()
del _defer

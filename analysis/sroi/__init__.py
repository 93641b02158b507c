"""SROI stage: value map quantities, valuation (deadweight, attribution, displacement, drop-off, discounting), sensitivity and Monte Carlo."""

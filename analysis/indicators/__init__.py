"""Indicators stage: the effects referential of ``methodology/indicators.yml`` computed per CAE and nationally (shares with Wilson intervals, medians, survival)."""

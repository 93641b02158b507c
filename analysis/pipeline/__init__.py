"""Pipeline: the stage registry, the runner (papermill per CAE, then the national step) and the result-table store."""

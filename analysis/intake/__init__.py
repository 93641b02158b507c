"""Intake stage: read a CAE's raw files, validate them against the codebook, pseudonymise, write ``data/processed/<cae>/``; templates for data providers; the enDI adapter; the demo generator."""

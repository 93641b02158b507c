"""Reporting: the Quarto book, the method document, HTML export, per-CAE and national summaries, figure defaults."""

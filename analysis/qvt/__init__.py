"""QVT stage: quality-of-work-life scale scores, WHO-5, reliability, group comparisons and pooled models."""

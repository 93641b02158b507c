"""Method settings: the versioned methodology files, loaded once, validated against their declared schemas and fingerprinted."""

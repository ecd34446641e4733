"""Data layer: validated NIfTI loading, the manifest contract, and dataset readers."""

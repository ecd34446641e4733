"""Thin Hydra entry points, one per stage."""

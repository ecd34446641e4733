"""wmhmap: regional white matter hyperintensity mapping."""

"""Data files shipped with wmhmap (label tables); read them with wmhmap.regions.atlas.resource_path."""

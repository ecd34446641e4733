"""Brain-structure (atrophy) volumes: built-in tissue segmentation and importers for FreeSurfer,
SynthSeg and FastSurfer outputs, all mapped to one vocabulary of structure names in mL."""

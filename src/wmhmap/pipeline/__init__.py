"""Running several stages in one process (the demo, experiment presets)."""

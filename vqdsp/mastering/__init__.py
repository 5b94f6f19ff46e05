"""Batch mastering (``vqdsp master``): presets, loudness and the batch runner."""

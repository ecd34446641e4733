"""Segmentation models: the LightningModule, losses and learning-rate schedules."""

"""Segmentation training: subject-level splits, patch sampling, the data module and the train stage."""

"""Fitting a head on pixel features: the trainer, its batches, BatchNorm
calibration, and the stream of every ground-truth pixel."""
from .head_trainer import (HeadTrainer, HeadTrainingConfig,
                           HeadTrainingResult)

__all__ = ['HeadTrainer', 'HeadTrainingConfig', 'HeadTrainingResult']

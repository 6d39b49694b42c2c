from .pixel_mlp_ensemble_head import PixelMLPEnsembleHead
from .pixel_mlp_head import PixelMLPHead, default_hidden_channels

__all__ = ['PixelMLPEnsembleHead', 'PixelMLPHead', 'default_hidden_channels']

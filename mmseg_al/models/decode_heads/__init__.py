from .pixel_mlp_head import PixelMLPHead, default_hidden_channels

__all__ = ['PixelMLPHead', 'default_hidden_channels']

from .diffusion_backbone import DiffusionBackbone, FeatureLayout
from .pixel_sampling import sample_pixels
from .unet_checkpoint import load_unet_checkpoint, read_state_dict

__all__ = [
    'DiffusionBackbone', 'FeatureLayout', 'load_unet_checkpoint',
    'read_state_dict', 'sample_pixels'
]

from .decode_head_pixel_model import DecodeHeadPixelModel
from .sparse_pixel_segmentor import SparsePixelSegmentor

__all__ = ['DecodeHeadPixelModel', 'SparsePixelSegmentor']

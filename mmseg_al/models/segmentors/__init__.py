from .decode_head_point_model import DecodeHeadPointModel
from .sparse_pixel_segmentor import SparsePixelSegmentor

__all__ = ['DecodeHeadPointModel', 'SparsePixelSegmentor']

from .decode_head_point_model import DecodeHeadPointModel
from .point_feature_cache import PointFeatureCache
from .sparse_pixel_segmentor import SparsePixelSegmentor, image_id_of

__all__ = [
    'DecodeHeadPointModel', 'PointFeatureCache', 'SparsePixelSegmentor',
    'image_id_of'
]

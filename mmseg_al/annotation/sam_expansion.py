"""A click's region from Segment Anything (SAM), as in the paper's C.6.

The click is SAM's single positive point prompt; SAM answers three mask
proposals with their predicted IoUs (multimask output), and the best one
is kept when its predicted IoU exceeds ``iou_threshold`` (the paper's τ),
otherwise the label stays the single pixel (:func:`best_mask_region`).
Each image is encoded once per round, however many clicks it has.

The official ``segment-anything`` package is imported only when a
``SAMExpansion`` is built, and its checkpoint is read with
``torch.load(weights_only=True)``.
"""
import os
from typing import List, Optional

import numpy as np
import torch

from mmseg_al.registry import TASK_UTILS
from .region_expansion import RegionExpansion

#: Where the official checkpoint of each model type is downloaded from.
SAM_CHECKPOINT_URLS = {
    'vit_h': 'https://dl.fbaipublicfiles.com/segment_anything/'
             'sam_vit_h_4b8939.pth',
    'vit_l': 'https://dl.fbaipublicfiles.com/segment_anything/'
             'sam_vit_l_0b3195.pth',
    'vit_b': 'https://dl.fbaipublicfiles.com/segment_anything/'
             'sam_vit_b_01ec64.pth',
}
INSTALL_HINT = ('pip install git+https://github.com/facebookresearch/'
                'segment-anything.git (it needs torchvision built for your '
                'torch)')


def best_mask_region(masks: np.ndarray, iou_predictions: np.ndarray,
                     iou_threshold: float) -> np.ndarray:
    """The paper's rule on SAM's multimask output: the flat pixels of the
    mask with the highest predicted IoU when that IoU exceeds
    ``iou_threshold``, else none (the click stays a single pixel).

    Args:
        masks: ``[C, H, W]`` bool mask proposals.
        iou_predictions: ``[C]`` their predicted IoUs.
        iou_threshold: τ.
    """
    best = int(np.argmax(iou_predictions))
    if not iou_predictions[best] > iou_threshold:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(masks[best]).astype(np.int64)


def import_segment_anything():
    """The ``segment_anything`` package, or an ImportError saying how to
    install it."""
    try:
        import segment_anything
    except ImportError as exc:
        raise ImportError(
            "train_cfg.expansion type='SAMExpansion' needs the official "
            f'segment-anything package, which cannot be imported ({exc}). '
            f'Install it with: {INSTALL_HINT}; or expand with '
            "type='SuperpixelExpansion', which needs nothing else."
        ) from None
    return segment_anything


@TASK_UTILS.register_module()
class SAMExpansion(RegionExpansion):
    """The click's region is SAM's best mask for it (see the module).

    Args:
        checkpoint: the SAM checkpoint (a state dict, e.g. the official
            ``sam_vit_h_4b8939.pth``).
        model_type: a key of ``segment_anything.sam_model_registry``
            (``'vit_h'``, ``'vit_l'``, ``'vit_b'``), the architecture the
            checkpoint holds.
        iou_threshold: τ; a mask whose predicted IoU is not above it is
            not used. 0.9 is this package's default, not a value from the
            paper.
        device: where SAM runs; None: CUDA when available, else the CPU.
        weight, max_pixels_per_click: see :class:`RegionExpansion`.

    Raises:
        FileNotFoundError: the checkpoint does not exist (the message gives
            the download URL and the path to put it at).
        ImportError: segment-anything cannot be imported.
    """

    def __init__(self, checkpoint: str, model_type: str = 'vit_h',
                 iou_threshold: float = 0.9, device: Optional[str] = None,
                 weight: float = 1.0,
                 max_pixels_per_click: Optional[int] = 100) -> None:
        super().__init__(weight, max_pixels_per_click)
        if not isinstance(iou_threshold, (int, float)) or \
                isinstance(iou_threshold, bool) or \
                not 0 <= iou_threshold < 1:
            raise ValueError('train_cfg.expansion.iou_threshold must be a '
                             f'number in [0, 1), got {iou_threshold!r}')
        if not os.path.isfile(checkpoint):
            url = SAM_CHECKPOINT_URLS.get(model_type)
            where = (f'Download it from {url} to that path, e.g. wget -O '
                     f'{checkpoint} {url}' if url else
                     f'model_type {model_type!r} has no official download; '
                     'put its weights there')
            raise FileNotFoundError(
                f'SAM checkpoint {checkpoint!r} does not exist. {where}, '
                'or set train_cfg.expansion.checkpoint to the file.')
        self.registry = import_segment_anything().sam_model_registry
        if model_type not in self.registry:
            raise ValueError(f'train_cfg.expansion.model_type must be one '
                             f'of {sorted(self.registry)}, got '
                             f'{model_type!r}')
        self.checkpoint = checkpoint
        self.model_type = model_type
        self.iou_threshold = float(iou_threshold)
        self.device = device or ('cuda' if torch.cuda.is_available()
                                 else 'cpu')
        self._predictor = None

    @property
    def predictor(self):
        """The ``SamPredictor``, built (and its weights read) on first
        use."""
        if self._predictor is None:
            sam = self.registry[self.model_type]()
            state = torch.load(self.checkpoint, map_location='cpu',
                               weights_only=True)
            sam.load_state_dict(state)
            sam.to(self.device).eval()
            self._predictor = import_segment_anything().SamPredictor(sam)
        return self._predictor

    def regions_of(self, rgb: np.ndarray,
                   pixels: np.ndarray) -> List[np.ndarray]:
        predictor = self.predictor
        predictor.set_image(rgb, image_format='RGB')  # one encoding
        width = rgb.shape[1]
        regions = []
        for pixel in np.asarray(pixels).tolist():
            masks, ious, _ = predictor.predict(
                point_coords=np.array([[pixel % width, pixel // width]],
                                      dtype=np.float32),
                point_labels=np.array([1]), multimask_output=True)
            regions.append(best_mask_region(np.asarray(masks),
                                            np.asarray(ious),
                                            self.iou_threshold))
        return regions


__all__ = ['SAMExpansion', 'SAM_CHECKPOINT_URLS', 'best_mask_region',
           'import_segment_anything']

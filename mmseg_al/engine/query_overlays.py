"""Pictures of the queried pixels, for the run log and for annotators."""
import os
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np

#: Overlays are upscaled (nearest) to at least this size so that the
#: markers of small images stay readable.
MIN_OVERLAY_SIZE = 256
MARKER_COLOUR = (0, 255, 255)  # BGR yellow
OUTLINE_COLOUR = (0, 0, 0)


def overlay_file_name(image_id: str) -> str:
    """A flat file name for an image id such as ``'train/0001TP.png'``."""
    stem = os.path.splitext(image_id)[0]
    return stem.replace('/', '__').replace('\\', '__') + '.png'


def draw_queries(image: np.ndarray, points: Sequence[int],
                 radius: Optional[int] = None) -> np.ndarray:
    """Circle and number flat pixel indices on a BGR ``[H, W, 3]`` image.

    Args:
        image: uint8 BGR image.
        points: flat pixel indices ``y * W + x``; the label next to each
            circle is its position in ``points`` (1-based).
        radius: circle radius in output pixels (default: scaled to size).

    Returns:
        A new uint8 BGR image, upscaled to at least ``MIN_OVERLAY_SIZE``.
    """
    height, width = image.shape[:2]
    scale = max(1, -(-MIN_OVERLAY_SIZE // max(height, width)))
    canvas = cv2.resize(np.ascontiguousarray(image), (width * scale,
                                                      height * scale),
                        interpolation=cv2.INTER_NEAREST)
    radius = radius or max(3, canvas.shape[0] // 80)
    for number, pixel in enumerate(points, start=1):
        y, x = divmod(int(pixel), width)
        centre = (x * scale + scale // 2, y * scale + scale // 2)
        cv2.circle(canvas, centre, radius + 1, OUTLINE_COLOUR, 2)
        cv2.circle(canvas, centre, radius, MARKER_COLOUR, 1)
        cv2.putText(canvas, str(number), (centre[0] + radius + 1, centre[1]),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.35, MARKER_COLOUR, 1,
                    cv2.LINE_AA)
    return canvas


def write_query_overlays(dataset, image_ids: Sequence[str],
                         pixels: Sequence[int], out_dir: str,
                         max_images: Optional[int] = 4,
                         radius: Optional[int] = None
                         ) -> Dict[str, np.ndarray]:
    """Write one overlay PNG per queried image into ``out_dir``.

    Args:
        dataset: the pool (``pool_item`` gives the image, ``index_of`` the
            index of an id).
        image_ids: image id of each query (query order).
        pixels: flat pixel index of each query.
        out_dir: directory for the PNGs (created).
        max_images: the first images in query order to draw; None = all.
        radius: marker radius (see :func:`draw_queries`).

    Returns:
        ``{image id: BGR overlay}`` of the images drawn.
    """
    per_image: Dict[str, List[int]] = {}
    for image_id, pixel in zip(image_ids, pixels):
        per_image.setdefault(image_id, []).append(int(pixel))
    chosen = list(per_image)[:max_images]
    os.makedirs(out_dir, exist_ok=True)
    overlays = {}
    for image_id in chosen:
        item = dataset.pool_item(dataset.index_of(image_id))
        image = item['inputs'].permute(1, 2, 0).cpu().numpy().astype(np.uint8)
        overlay = draw_queries(image, per_image[image_id], radius)
        path = os.path.join(out_dir, overlay_file_name(image_id))
        if not cv2.imwrite(path, overlay):
            raise OSError(f'could not write the query overlay {path}')
        overlays[image_id] = overlay
    return overlays

"""Pictures of the queried pixels, for the run log and for annotators.

Drawn with mmengine's :class:`~mmengine.visualization.Visualizer` (the
runner's ``SegLocalVisualizer`` in a run), so the same pictures can go to
every visualisation backend; PNG files are replaced atomically.
"""
import os
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np
from mmengine.visualization import Visualizer

from mmseg_al.state.atomic_io import atomic_write_bytes

#: Overlays are upscaled (nearest) to at least this size so that the
#: markers of small images stay readable.
MIN_OVERLAY_SIZE = 256
MARKER_COLOUR = (255, 255, 0)  # RGB yellow
FRAME_COLOUR = (128, 128, 128)  # RGB grey


def overlay_file_name(image_id: str) -> str:
    """A flat file name for an image id such as ``'train/0001TP.png'``."""
    stem = os.path.splitext(image_id)[0]
    return stem.replace('/', '__').replace('\\', '__') + '.png'


def draw_queries(visualizer: Visualizer, image: np.ndarray,
                 points: Sequence[int],
                 radius: Optional[int] = None) -> np.ndarray:
    """Circle and number flat pixel indices on an RGB ``[H, W, 3]`` image.

    Every marker fits the picture: a frame one radius wide holds the
    circles of edge pixels, and each number stands beside its circle on
    the side towards the middle of the image.

    Args:
        visualizer: draws the markers (its current image is replaced).
        image: uint8 RGB image.
        points: flat pixel indices ``y * W + x``; the label next to each
            circle is its position in ``points`` (1-based).
        radius: circle radius in output pixels (default: scaled to size).

    Returns:
        A new uint8 RGB image: ``image`` upscaled to at least
        ``MIN_OVERLAY_SIZE``, in a frame ``radius + 1`` pixels wide.
    """
    height, width = image.shape[:2]
    scale = max(1, -(-MIN_OVERLAY_SIZE // max(height, width)))
    canvas = cv2.resize(np.ascontiguousarray(image),
                        (width * scale, height * scale),
                        interpolation=cv2.INTER_NEAREST)
    radius = radius or max(3, canvas.shape[0] // 80)
    margin = radius + 1
    visualizer.set_image(cv2.copyMakeBorder(
        canvas, margin, margin, margin, margin, cv2.BORDER_CONSTANT,
        value=FRAME_COLOUR))
    if len(points):
        ys, xs = np.divmod(np.asarray(points, dtype=np.int64), width)
        centres = np.stack([xs * scale + scale // 2, ys * scale + scale // 2],
                           axis=1) + margin
        visualizer.draw_circles(
            centres, np.full(len(centres), radius), edge_colors=MARKER_COLOUR,
            line_widths=1, alpha=1.0)
        on_right = xs < width / 2
        visualizer.draw_texts(
            [str(number) for number in range(1, len(centres) + 1)],
            centres + np.where(on_right, margin, -margin)[:, None] * [1, 0],
            colors=MARKER_COLOUR, font_sizes=7, vertical_alignments='center',
            horizontal_alignments=['left' if right else 'right'
                                   for right in on_right])
    return visualizer.get_image()


def write_query_overlays(images, image_ids: Sequence[str],
                         pixels: Sequence[int], out_dir: str,
                         max_images: Optional[int] = 4,
                         radius: Optional[int] = None,
                         visualizer: Optional[Visualizer] = None
                         ) -> Dict[str, np.ndarray]:
    """Write one overlay PNG per queried image into ``out_dir``.

    Args:
        images: the image provider (``rgb(image_id)``, see
            :class:`~mmseg_al.annotation.query_round.PoolImages`).
        image_ids: image id of each query (query order).
        pixels: flat pixel index of each query.
        out_dir: directory for the PNGs (created).
        max_images: the first images in query order to draw; None = all.
        radius: marker radius (see :func:`draw_queries`).
        visualizer: None takes mmengine's current visualizer.

    Returns:
        ``{image id: RGB overlay}`` of the images drawn.
    """
    visualizer = visualizer or Visualizer.get_current_instance()
    per_image: Dict[str, List[int]] = {}
    for image_id, pixel in zip(image_ids, pixels):
        per_image.setdefault(image_id, []).append(int(pixel))
    chosen = list(per_image)[:max_images]
    os.makedirs(out_dir, exist_ok=True)
    overlays = {}
    for image_id in chosen:
        overlay = draw_queries(visualizer, images.rgb(image_id),
                               per_image[image_id], radius)
        path = os.path.join(out_dir, overlay_file_name(image_id))
        ok, png = cv2.imencode('.png', overlay[..., ::-1])
        if not ok:
            raise OSError(f'could not encode the query overlay {path}')
        atomic_write_bytes(path, png.tobytes())
        overlays[image_id] = overlay
    return overlays

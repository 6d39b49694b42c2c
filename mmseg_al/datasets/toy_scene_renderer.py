"""Procedural street scenes: an RGB image and its label map from one RNG.

The scenes exist so that the whole active-learning pipeline can be run and
tested without downloading anything. They are built to be a *segmentation*
problem, not a colour lookup: every class draws its colours from materials
it shares with other classes (grey sky, grey road, grey concrete, grey
cars; green trees and green cars; brown trunks, brick walls and clothes),
and the classes differ mainly in shape, texture and position (sky above the
horizon, road in perspective below it, windows on buildings, wheels on
vehicles, leafy noise on trees). Global lighting, colour casts, side
shading, sensor noise and occlusion (near objects drawn over far ones)
vary per image.
"""
from typing import Sequence, Tuple

import cv2
import numpy as np

from .metainfo import TOY_SCENES_CLASSES

SKY, ROAD, BUILDING, VEGETATION, VEHICLE, PERSON = range(
    len(TOY_SCENES_CLASSES))

Colour = Tuple[float, float, float]

#: RGB materials in [0, 1]; classes pick from overlapping subsets of these.
GREYS: Sequence[Colour] = ((0.45, 0.46, 0.48), (0.58, 0.58, 0.60),
                           (0.68, 0.68, 0.70), (0.35, 0.35, 0.37))
BLUES: Sequence[Colour] = ((0.42, 0.60, 0.85), (0.30, 0.45, 0.70),
                           (0.55, 0.68, 0.85))
GREENS: Sequence[Colour] = ((0.30, 0.50, 0.22), (0.42, 0.55, 0.30),
                            (0.25, 0.40, 0.28))
BROWNS: Sequence[Colour] = ((0.50, 0.32, 0.22), (0.62, 0.45, 0.30),
                            (0.70, 0.55, 0.38))
WARM: Sequence[Colour] = ((0.80, 0.55, 0.35), (0.75, 0.35, 0.25),
                          (0.85, 0.72, 0.45))
DARK: Sequence[Colour] = ((0.15, 0.15, 0.17), (0.22, 0.20, 0.20))

SKY_MATERIALS = BLUES + GREYS[1:3] + WARM[:1]
ROAD_MATERIALS = GREYS + BROWNS[1:2]
WALL_MATERIALS = GREYS + BROWNS + WARM[1:3] + BLUES[1:2]
FOLIAGE_MATERIALS = GREENS + BROWNS[:2] + WARM[:1]
PAINT_MATERIALS = GREYS + BLUES + GREENS[:2] + WARM[1:2] + DARK
CLOTHES_MATERIALS = BLUES[1:] + GREENS + BROWNS + DARK + GREYS[:2]


class Canvas:
    """An image and label map painted back to front (later paint occludes).

    Args:
        size (int): height and width in pixels.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.image = np.zeros((size, size, 3), np.float32)
        self.label = np.zeros((size, size), np.uint8)
        self.ys, self.xs = np.mgrid[0:size, 0:size].astype(np.float32)

    def paint(self, mask: np.ndarray, colour: np.ndarray,
              class_id: int) -> None:
        """Paint ``colour`` (``[3]`` or ``[H, W, 3]``) where ``mask`` holds."""
        colour = np.broadcast_to(colour, self.image.shape)
        self.image[mask] = colour[mask]
        self.label[mask] = class_id

    def box(self, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
        """Mask of the axis-aligned box ``[x0, x1) x [y0, y1)``."""
        return (self.xs >= x0) & (self.xs < x1) & (self.ys >= y0) & (
            self.ys < y1)

    def ellipse(self, cx: float, cy: float, rx: float,
                ry: float) -> np.ndarray:
        """Mask of the ellipse centred at ``(cx, cy)`` with radii
        ``(rx, ry)``."""
        return ((self.xs - cx) / rx)**2 + ((self.ys - cy) / ry)**2 <= 1.0


def smooth_noise(rng: np.random.Generator, size: int,
                 cells: int) -> np.ndarray:
    """``[size, size]`` noise in about [-1, 1] with ``cells`` blobs a side."""
    coarse = rng.uniform(-1.0, 1.0, (cells + 1, cells + 1)).astype(np.float32)
    return cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)


def pick(rng: np.random.Generator, materials: Sequence[Colour],
         jitter: float = 0.06) -> np.ndarray:
    """One material colour with a small random shift per channel."""
    base = np.asarray(materials[rng.integers(len(materials))], np.float32)
    return np.clip(base + rng.normal(0.0, jitter, 3), 0.0, 1.0)


def textured(colour: np.ndarray, noise: np.ndarray,
             strength: float) -> np.ndarray:
    """``[H, W, 3]`` colour modulated in brightness by ``noise``."""
    return colour[None, None, :] * (1.0 + strength * noise[..., None])


def paint_sky(canvas: Canvas, rng: np.random.Generator,
              horizon: float) -> None:
    """Vertical gradient above the horizon with soft clouds."""
    size = canvas.size
    top, bottom = pick(rng, SKY_MATERIALS), pick(rng, SKY_MATERIALS, 0.03)
    blend = np.clip(canvas.ys / max(horizon, 1.0), 0.0, 1.0)[..., None]
    gradient = top * (1.0 - blend) + bottom * blend
    clouds = np.clip(smooth_noise(rng, size, 4), 0.0, 1.0)[..., None]
    colour = gradient * (1.0 - 0.6 * clouds) + 0.85 * 0.6 * clouds
    canvas.paint(canvas.ys < horizon, colour, SKY)


def paint_ground(canvas: Canvas, rng: np.random.Generator,
                 horizon: float) -> None:
    """Grass verges (vegetation) and a road narrowing to a vanishing point."""
    size = canvas.size
    below = canvas.ys >= horizon
    grass = textured(pick(rng, GREENS + BROWNS[1:2]),
                     smooth_noise(rng, size, size // 4), 0.25)
    canvas.paint(below, grass, VEGETATION)

    vanish_x = rng.uniform(0.35, 0.65) * size
    depth = np.clip((canvas.ys - horizon) / max(size - horizon, 1.0), 0, 1)
    half_width = (0.04 + rng.uniform(0.45, 0.75) * depth) * size
    road = below & (np.abs(canvas.xs - vanish_x) <= half_width)
    asphalt = textured(pick(rng, ROAD_MATERIALS),
                       smooth_noise(rng, size, size // 3), 0.12)
    canvas.paint(road, asphalt, ROAD)

    dash = np.sin(depth * rng.uniform(10, 18) * np.pi) > 0.2
    lane = road & dash & (np.abs(canvas.xs - vanish_x) <=
                          0.02 * size + 0.025 * size * depth)
    canvas.paint(lane, pick(rng, ((0.9, 0.9, 0.88), (0.9, 0.8, 0.3))), ROAD)


def paint_building(canvas: Canvas, rng: np.random.Generator,
                   horizon: float) -> None:
    """A wall standing on the horizon with a grid of windows."""
    size = canvas.size
    x0 = rng.uniform(-0.2, 0.9) * size
    x1 = x0 + rng.uniform(0.15, 0.45) * size
    top = rng.uniform(0.05, 0.8) * horizon
    base = horizon + rng.uniform(0.0, 0.06) * size
    wall = canvas.box(x0, top, x1, base)
    colour = pick(rng, WALL_MATERIALS)
    canvas.paint(wall, textured(colour, smooth_noise(rng, size, 8), 0.08),
                 BUILDING)

    period = rng.uniform(0.07, 0.12) * size
    fill = rng.uniform(0.4, 0.65)
    in_x = np.mod(canvas.xs - x0, period) < fill * period
    in_y = np.mod(canvas.ys - top, period) < fill * period
    glass = pick(rng, DARK + BLUES[:1] + GREYS[2:3])
    canvas.paint(wall & in_x & in_y & (canvas.ys < base - 0.4 * period),
                 glass, BUILDING)


def paint_tree(canvas: Canvas, rng: np.random.Generator,
               horizon: float) -> None:
    """A trunk and a ragged, leafy crown (both vegetation)."""
    size = canvas.size
    cx = rng.uniform(0.0, 1.0) * size
    base = horizon + rng.uniform(0.0, 0.15) * size
    scale = rng.uniform(0.5, 1.0) * (0.6 + (base - horizon) / size)
    trunk_w, trunk_h = 0.03 * size * scale, 0.25 * size * scale
    canvas.paint(canvas.box(cx - trunk_w, base - trunk_h, cx + trunk_w, base),
                 pick(rng, BROWNS), VEGETATION)
    rx, ry = 0.14 * size * scale, 0.18 * size * scale
    ragged = smooth_noise(rng, size, max(size // 6, 4))
    crown = (((canvas.xs - cx) / rx)**2 +
             ((canvas.ys - (base - trunk_h - 0.7 * ry)) / ry)**2
             <= 1.0 + 0.5 * ragged)
    leaves = textured(pick(rng, FOLIAGE_MATERIALS),
                      smooth_noise(rng, size, size // 2), 0.45)
    canvas.paint(crown, leaves, VEGETATION)


def paint_vehicle(canvas: Canvas, rng: np.random.Generator, base: float,
                  horizon: float) -> None:
    """Body, cabin, window and wheels, larger the nearer ``base`` is."""
    size = canvas.size
    scale = 0.3 + 1.2 * (base - horizon) / size
    width = rng.uniform(0.22, 0.32) * size * scale
    height = width * rng.uniform(0.35, 0.5)
    x0 = rng.uniform(-0.1, 0.9) * size
    body_colour = pick(rng, PAINT_MATERIALS)
    body = canvas.box(x0, base - height, x0 + width, base - 0.15 * height)
    cabin = canvas.box(x0 + 0.2 * width, base - 1.6 * height,
                       x0 + 0.8 * width, base - height)
    canvas.paint(body | cabin, textured(body_colour,
                                        smooth_noise(rng, size, 6), 0.1),
                 VEHICLE)
    window = canvas.box(x0 + 0.27 * width, base - 1.5 * height,
                        x0 + 0.73 * width, base - 1.1 * height)
    canvas.paint(window, pick(rng, DARK + BLUES[2:]), VEHICLE)
    radius = 0.14 * width
    for wheel_x in (x0 + 0.22 * width, x0 + 0.78 * width):
        canvas.paint(canvas.ellipse(wheel_x, base - radius, radius, radius),
                     pick(rng, DARK, 0.02), VEHICLE)


def paint_person(canvas: Canvas, rng: np.random.Generator, base: float,
                 horizon: float) -> None:
    """Legs, torso and head, larger the nearer ``base`` is."""
    size = canvas.size
    scale = 0.3 + 1.2 * (base - horizon) / size
    height = rng.uniform(0.22, 0.3) * size * scale
    width = height * 0.28
    cx = rng.uniform(0.02, 0.98) * size
    legs = canvas.box(cx - 0.4 * width, base - 0.45 * height,
                      cx + 0.4 * width, base)
    canvas.paint(legs & (np.abs(canvas.xs - cx) > 0.08 * width),
                 pick(rng, CLOTHES_MATERIALS), PERSON)
    torso = canvas.box(cx - 0.5 * width, base - 0.85 * height,
                       cx + 0.5 * width, base - 0.45 * height)
    canvas.paint(torso, pick(rng, CLOTHES_MATERIALS), PERSON)
    head_r = 0.16 * height
    canvas.paint(canvas.ellipse(cx, base - 0.85 * height - 0.8 * head_r,
                                0.8 * head_r, head_r),
                 pick(rng, WARM[:1] + BROWNS[:2]), PERSON)


def apply_lighting(canvas: Canvas, rng: np.random.Generator) -> np.ndarray:
    """Exposure, colour cast, side shading and sensor noise -> uint8 RGB."""
    size = canvas.size
    exposure = rng.uniform(0.65, 1.25)
    cast = 1.0 + rng.normal(0.0, 0.06, 3).astype(np.float32)
    side = rng.uniform(-0.25, 0.25) * (canvas.xs / size - 0.5)
    image = canvas.image * exposure * cast * (1.0 + side[..., None])
    image = image + rng.normal(0.0, rng.uniform(0.02, 0.05), image.shape)
    return np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)


def render_toy_scene(rng: np.random.Generator,
                     size: int = 64) -> Tuple[np.ndarray, np.ndarray]:
    """Render one street scene.

    Args:
        rng (np.random.Generator): the only source of randomness, so a
            seeded generator gives identical bytes on every platform.
        size (int): height and width; at least 32.

    Returns:
        tuple: ``[size, size, 3]`` uint8 RGB image and ``[size, size]``
        uint8 label map with ids into ``TOY_SCENES_CLASSES``.
    """
    if size < 32:
        raise ValueError(f'toy scenes need size >= 32, got {size}')
    canvas = Canvas(size)
    horizon = rng.uniform(0.35, 0.55) * size
    paint_sky(canvas, rng, horizon)
    paint_ground(canvas, rng, horizon)
    for _ in range(rng.integers(1, 5)):
        paint_building(canvas, rng, horizon)
    for _ in range(rng.integers(0, 4)):
        paint_tree(canvas, rng, horizon)

    # Road users stand on the ground; drawing them far-to-near makes the
    # nearer ones occlude the farther ones.
    road_users = [(rng.uniform(horizon + 0.08 * size, size), kind)
                  for kind in ['vehicle'] * rng.integers(0, 4) +
                  ['person'] * rng.integers(0, 4)]
    for base, kind in sorted(road_users):
        paint = paint_vehicle if kind == 'vehicle' else paint_person
        paint(canvas, rng, base, horizon)
    return apply_lighting(canvas, rng), canvas.label

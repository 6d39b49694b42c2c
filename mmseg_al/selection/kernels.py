"""Pairwise functions of feature vectors, computed in reproducible tiles.

Greedy selectors compare values that were computed at different times, in
different blocks, sometimes in different parts of a split pool. BLAS
returns slightly different bits for the same dot product depending on the
shapes of the matrices it is given, so a plain blocked ``x @ y.T`` would
make the picks depend on the blocking. Here every value is computed in a
matrix product of one fixed shape (``tile x d`` times ``d x tile``, zero
padded), which makes the value of a pair a function of the two vectors
only (on a given device and thread setting): the self matrix of a subset
of points, taken in their original order, equals the corresponding
sub-block of the full matrix bit for bit.

Gaussian kernel values are additionally rounded to multiples of
:data:`KERNEL_RESOLUTION` (2^-24, float32's resolution at 1; values below
3e-8 become 0). Sums and differences of such values are exact in float64
for up to 2^29 terms, so herding gains do not depend on summation order
either.
"""
import math
import re
from typing import List, Optional, Tuple, Union

import torch
from torch import Tensor

from mmseg_al.utils import track

#: Every Gaussian kernel value is a multiple of this.
KERNEL_RESOLUTION = 2.0**-24
#: Side of the fixed-shape matrix products (a multiple of the SIMD width).
TILE = 512

_MEMORY_UNITS = {'': 1, 'B': 1, 'KB': 2**10, 'MB': 2**20, 'GB': 2**30,
                 'TB': 2**40}


def parse_memory(value: Union[int, str], name: str = 'max_memory') -> int:
    """Bytes in ``value``: an int, or a string such as ``'4GB'``/``'512MB'``
    (binary units: 1GB = 2^30 bytes); ``name`` is the setting named in
    errors."""
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    elif isinstance(value, str):
        match = re.fullmatch(r'\s*([0-9]*\.?[0-9]+)\s*([KMGT]?B?)\s*',
                             value.upper())
        if match is None:
            raise ValueError(
                f'{name}={value!r} is not a size; use bytes (int) or a '
                "string such as '4GB' or '512MB'")
        size = int(float(match.group(1)) * _MEMORY_UNITS[match.group(2)])
    else:
        raise TypeError(f'{name} must be int or str, got {value!r}')
    if size <= 0:
        raise ValueError(f'{name} must be positive, got {value!r}')
    return size


def median_distance_sigma(points: Tensor,
                          fraction: float = 0.01,
                          min_points: int = 10,
                          generator: Optional[torch.Generator] = None
                          ) -> float:
    """Kernel bandwidth: 2 x the median pairwise distance of a subsample.

    The subsample holds ``ceil(fraction * n)`` points, at least
    ``min_points`` (all points if there are fewer), drawn with
    ``generator``; the median is the lower median of the distances of all
    distinct pairs, computed in float64. If over half of those pairs
    coincide, the median of the positive distances is used instead (and
    1.0 if all points coincide, where every bandwidth gives the same picks).

    Args:
        points: ``[n, d]`` features, ``n >= 1``.
        fraction: share of the points in the subsample.
        min_points: smallest subsample size.
        generator: CPU generator drawing the subsample.
    """
    num_points = points.shape[0]
    size = min(num_points, max(min_points, math.ceil(fraction * num_points)))
    subset = torch.randperm(num_points, generator=generator)[:size]
    sample = points[subset.to(points.device)].double()
    distances = torch.pdist(sample)
    if distances.numel() and distances.median() > 0:
        return 2.0 * float(distances.median())
    positive = distances[distances > 0]
    return 2.0 * float(positive.median()) if positive.numel() else 1.0


class PairwiseFunction:
    """``f(a, b)`` of two feature vectors through ``||a - b||^2``.

    Subclasses say how the squared distance is transformed
    (:meth:`transform`) and which values are "nearest"
    (:attr:`nearest_is_max`).

    Args:
        tile (int): side of the fixed-shape products; values computed with
            different tiles may differ in the last bit.
    """

    #: True when a larger value means closer (a similarity).
    nearest_is_max = False

    def __init__(self, tile: int = TILE) -> None:
        self.tile = tile

    def transform(self, sq_distances: Tensor) -> Tensor:
        """Map float32 squared distances to values (in place allowed)."""
        return sq_distances

    def _tiles(self, points: Tensor) -> List[Tuple[Tensor, Tensor]]:
        """``points`` as contiguous float32 ``[tile, d]`` tiles, the last
        one zero padded (full tiles are views when possible), each with its
        squared row norms."""
        starts = range(0, max(1, points.shape[0]), self.tile)
        # allocated before the loop's temporaries, so that freeing those
        # leaves no holes behind long-lived small tensors (on a large pool
        # such holes add up to the size of the points)
        norms = points.new_empty((len(starts), self.tile),
                                 dtype=torch.float32)
        tiles = []
        for start, tile_norms in zip(starts, norms):
            rows = points[start:start + self.tile]
            if not (rows.shape[0] == self.tile and rows.is_contiguous()
                    and rows.dtype == torch.float32):
                padded = rows.new_zeros((self.tile, rows.shape[1]),
                                        dtype=torch.float32)
                padded[:rows.shape[0]] = rows
                rows = padded
            torch.sum(rows.mul(rows), 1, out=tile_norms)
            tiles.append((rows, tile_norms))
        return tiles

    def _block(self, rows: Tuple[Tensor, Tensor],
               cols: Tuple[Tensor, Tensor],
               out: Optional[Tensor] = None) -> Tensor:
        """Values of one ``tile x tile`` block of two padded tiles (written
        to ``out`` if given)."""
        (row_points, row_norms), (col_points, col_norms) = rows, cols
        sq = torch.add(row_norms[:, None], col_norms, out=out)
        sq = torch.addmm(sq, row_points, col_points.T, alpha=-2, out=sq)
        return self.transform(sq.clamp_(min=0))

    def __call__(self, x: Tensor, y: Tensor) -> Tensor:
        """Dense float32 ``[len(x), len(y)]`` values (for small inputs)."""
        x_tiles, y_tiles = self._tiles(x), self._tiles(y)
        rows = [torch.cat([self._block(xt, yt) for yt in y_tiles], 1)
                for xt in x_tiles]
        return torch.cat(rows)[:x.shape[0], :y.shape[0]]

    def matrix(self, points: Tensor, dtype: torch.dtype = torch.float32,
               desc: str = 'pairwise matrix') -> Tensor:
        """Exactly symmetric ``[n, n]`` self matrix stored as ``dtype``.

        Only the upper tiles are computed (the lower ones are their
        transposes, the lower half of a diagonal tile mirrors its upper
        half), one ``tile x tile`` block of temporaries at a time.
        """
        num_points = points.shape[0]
        tiles = self._tiles(points)
        bounds = [(start, min(start + self.tile, num_points))
                  for start in range(0, num_points, self.tile)]
        out = points.new_empty((num_points, num_points), dtype=dtype)
        upper = torch.ones(self.tile, self.tile, dtype=torch.bool,
                           device=points.device).triu_()
        # reused for every block: fresh temporaries would page-fault
        values = points.new_empty((self.tile, self.tile),
                                  dtype=torch.float32)
        # the half-precision copy of a block, when the matrix is stored so
        stored = (None if dtype == torch.float32 else out.new_empty(
            (self.tile, self.tile)))
        mirrored = out.new_empty((self.tile, self.tile))
        pairs = [(i, j) for i in range(len(bounds))
                 for j in range(i, len(bounds))]
        for i, j in track(pairs, desc=desc, total=len(pairs)):
            (r0, r1), (c0, c1) = bounds[i], bounds[j]
            block = self._block(tiles[i], tiles[j], out=values)
            if stored is not None:
                block = stored.copy_(block)
            if i == j:
                block = torch.where(upper, block, block.T, out=mirrored)
            block = block[:r1 - r0, :c1 - c0]
            out[r0:r1, c0:c1] = block
            if i != j:
                # a contiguous transpose, then a plain copy: far faster
                # than writing through transposed strides
                transposed = mirrored[:c1 - c0, :r1 - r0].copy_(block.T)
                out[c0:c1, r0:r1] = transposed
        return out

    def nearest(self, points: Tensor, others: Tensor) -> Tensor:
        """float32 ``[n]``: each point's value with its nearest other point
        (max for similarities, min for distances), one block at a time."""
        reduce, combine = ((torch.amax, torch.maximum) if self.nearest_is_max
                           else (torch.amin, torch.minimum))
        num_others = others.shape[0]
        other_tiles = self._tiles(others)
        best = []
        for rows in self._tiles(points):
            row_best = None
            for start, cols in zip(range(0, num_others, self.tile),
                                   other_tiles):
                values = self._block(rows, cols)[:, :num_others - start]
                block_best = reduce(values, 1)
                row_best = (block_best if row_best is None else combine(
                    row_best, block_best))
            best.append(row_best)
        return torch.cat(best)[:points.shape[0]]


class SquaredEuclidean(PairwiseFunction):
    """``f(a, b) = ||a - b||^2`` in float32."""


class GaussianKernel(PairwiseFunction):
    """``k(a, b) = exp(-||a - b||^2 / sigma^2)``, rounded to multiples of
    :data:`KERNEL_RESOLUTION` so sums of values are exact in float64.

    Args:
        sigma (float): bandwidth, > 0.
        tile (int): see :class:`PairwiseFunction`.
    """

    nearest_is_max = True

    def __init__(self, sigma: float, tile: int = TILE) -> None:
        if not (math.isfinite(sigma) and sigma > 0):
            raise ValueError(f'sigma must be a positive number, got {sigma}')
        super().__init__(tile)
        self.sigma = float(sigma)

    def transform(self, sq_distances: Tensor) -> Tensor:
        values = sq_distances.div_(-self.sigma**2).exp_()
        return values.div_(KERNEL_RESOLUTION).round_().mul_(KERNEL_RESOLUTION)

"""The model's likeliest classes at queried pixels, shown to annotators.

The predictions exist only in memory while the loop runs, so they are
taken right after a round's selection and written into the query file
(``guesses``): the prediction the acquisition score computed for each
pick when it computed one (``Selection.log_probs``: no backbone pass),
else the current head's clean prediction. A person may then answer later,
from another process, and still see them.
"""
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch

from mmseg_al.selection.context import SelectionContext

#: Guesses shown per queried pixel.
NUM_GUESSES = 3


def guesses_of(log_probs: torch.Tensor, k: int = NUM_GUESSES
               ) -> List[List[Tuple[int, float]]]:
    """The ``k`` likeliest ``(class, probability)`` of each row of
    ``log_probs`` ``[n, C]``, by decreasing probability."""
    probs, classes = log_probs.exp().topk(min(k, log_probs.shape[1]), dim=1)
    return [[(int(c), float(p)) for c, p in zip(cs, ps)]
            for cs, ps in zip(classes.tolist(), probs.tolist())]


def top_guesses(context: SelectionContext, image_ids: Sequence[str],
                pixels: np.ndarray, k: int = NUM_GUESSES
                ) -> List[List[Tuple[int, float]]]:
    """The ``k`` likeliest ``(class, probability)`` of each query, from
    the model's clean prediction.

    Args:
        context: the round's selection context (with a trained head).
        image_ids: image id of each query.
        pixels: ``[n]`` flat pixel index of each query.
        k: guesses per query (at most the number of classes).

    Returns:
        Per query, ``k`` pairs by decreasing probability.
    """
    index = {image_id: i for i, image_id in enumerate(context.image_ids)}
    rows: Dict[int, List[int]] = {}
    for query, image_id in enumerate(image_ids):
        rows.setdefault(index[image_id], []).append(query)
    pixels = torch.as_tensor(np.asarray(pixels), dtype=torch.long)
    log_probs = context.log_probs(
        {image: pixels[queries] for image, queries in rows.items()})
    guesses: List[List[Tuple[int, float]]] = [[] for _ in image_ids]
    for image, queries in rows.items():
        for query, found in zip(queries, guesses_of(log_probs[image], k)):
            guesses[query] = found
    return guesses

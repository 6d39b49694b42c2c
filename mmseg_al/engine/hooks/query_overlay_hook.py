"""Query overlays of every round, as files and for the visualiser's
backends."""
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmseg.registry import HOOKS

from mmseg_al.annotation import QueryRound
from mmseg_al.annotation.query_overlays import (overlay_file_name,
                                                write_query_overlays)


@HOOKS.register_module()
class QueryOverlayHook(Hook):
    """Draw the first ``max_images`` queried images of each round, queries
    circled and numbered, into ``queries/round_XX/`` and to the runner's
    visualiser (TensorBoard, W&B, ... where configured).

    Listens to ``after_queries``, which ``ActiveLearningLoop`` fires once a
    round's queries are known, also for a selection restored on resume, so
    an interrupted run's overlays are (re)drawn.

    Args:
        max_images: images drawn per round (0 disables the hook).
    """

    priority = 'LOW'

    def __init__(self, max_images: int = 4) -> None:
        self.max_images = max_images

    def after_queries(self, runner, queries: QueryRound) -> None:
        if self.max_images <= 0 or not is_main_process():
            return
        overlays = write_query_overlays(
            queries.images, queries.image_ids, queries.pixels,
            queries.overlay_dir, max_images=self.max_images,
            visualizer=runner.visualizer)
        for image_id, overlay in overlays.items():
            runner.visualizer.add_image(
                'queries_' + overlay_file_name(image_id)[:-len('.png')],
                overlay, step=queries.round_idx)
        runner.logger.info(f'Query overlays in {queries.overlay_dir}')

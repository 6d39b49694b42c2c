# Runtime shared by every mmseg-al experiment: mmseg scope, the plugin
# import, logging and visualisation backends. tools/al_train.py adds the
# TensorBoard backend when tensorboard is installed.
default_scope = 'mmseg'
custom_imports = dict(imports=['mmseg_al'], allow_failed_imports=False)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # timeout (s): a rank waits this long for a dead peer, then fails
    dist_cfg=dict(backend='nccl', timeout=1800))
# Heads are trained identically on every rank (same features, same seed),
# so the wrapper never syncs gradients; device_ids=None keeps the model on
# whichever device it is (a CUDA device per rank, or the CPU with gloo).
model_wrapper_cfg = dict(type='MMDistributedDataParallel', device_ids=None)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='SegLocalVisualizer', vis_backends=vis_backends)
# One "epoch" of the active-learning loop is one round.
log_processor = dict(by_epoch=True)
log_level = 'INFO'
# The labelled pixels (al_state/) and metrics.json are the run's state,
# written by the loop; model checkpoints are optional (enable
# CheckpointHook's interval to keep the head of every round). LoggerHook
# prints the head's loss and lr every `interval` head iterations and the
# round's metrics after each evaluation. The last two hooks draw curve.png
# and the query overlays.
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=True),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=True, interval=-1, save_last=False),
    visualization=dict(type='SegVisualizationHook'),
    learning_curve=dict(type='LearningCurveHook'),
    query_overlays=dict(type='QueryOverlayHook', max_images=4))
randomness = dict(seed=0)
load_from = None
resume = False

"""Denoising (DDPM) pretraining of a guided-diffusion UNet on an image folder.

Writes a plain state dict that ``DiffusionBackbone`` loads with
``checkpoint=OUT``. UNet flags are guided-diffusion's own
(``script_util.model_and_diffusion_defaults``), so a checkpoint made here
matches a backbone config with the same ``unet=dict(...)``::

    python tools/pretrain_ddpm.py data/my_images checkpoints/my_ddpm.pt \\
        --image_size 64 --num_channels 32 --num_res_blocks 1 \\
        --attention_resolutions 16,8 --learn_sigma False \\
        --iterations 2000 --batch-size 16
"""
import argparse
import json

from mmseg_al.models.guided_diffusion_api import (
    add_dict_to_argparser, args_to_dict, model_and_diffusion_defaults)
from mmseg_al.models.pretraining import (
    list_images, pretrain_denoiser)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('image_dir', help='folder of training images '
                        '(searched recursively)')
    parser.add_argument('out', help='output state dict (.pt)')
    parser.add_argument('--iterations', type=int, default=1000)
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--lr', type=float, default=2e-4)
    parser.add_argument('--max-timestep', type=int, default=None,
                        help='train on timesteps [0, N) only (default: all)')
    parser.add_argument('--timestep', type=int, default=None,
                        help='train at this one timestep (DDeP)')
    parser.add_argument('--freeze-encoder', action='store_true',
                        help="train the UNet's decoder only (DDeP)")
    parser.add_argument('--seed', type=int, default=0)
    add_dict_to_argparser(parser, model_and_diffusion_defaults())
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    unet = args_to_dict(args, model_and_diffusion_defaults().keys())
    result = pretrain_denoiser(
        list_images(args.image_dir), args.out, unet=unet,
        iterations=args.iterations, batch_size=args.batch_size, lr=args.lr,
        max_timestep=args.max_timestep, timestep=args.timestep,
        freeze_encoder=args.freeze_encoder, seed=args.seed)
    print(json.dumps(dict(
        out=result.out_file, iterations=len(result.losses),
        eval_mse_before=round(result.eval_loss_before, 5),
        eval_mse_after=round(result.eval_loss_after, 5))))


if __name__ == '__main__':
    main()

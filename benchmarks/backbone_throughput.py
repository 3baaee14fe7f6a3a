"""Training throughput (forward + backward + SGD step, images/s) of every backbone.

Usage, from the repository root:
    python benchmarks/backbone_throughput.py                    # 28x28x1, batch 64, current device
    python benchmarks/backbone_throughput.py --image-size 32 --channels 3 --threads 2 --abn
    python benchmarks/backbone_throughput.py --backbones classifier32 resnet34 --image-size 32 --channels 3 \
        --threads 1 --widths 64 16                               # a quick run's narrower networks
Uses CUDA when available (or --device). Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from arpl.models import BACKBONES, build_backbone  # noqa: E402


def parse_args() -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbones", nargs="+", default=list(BACKBONES), choices=BACKBONES)
    parser.add_argument("--image-size", type=int, default=28)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU)")
    parser.add_argument("--seconds", type=float, default=3.0, help="minimum timed duration per backbone")
    parser.add_argument("--abn", action="store_true", help="build the ABN variants")
    parser.add_argument("--widths", type=int, nargs="+", default=[None],
                        help="model.width of the backbones that take one (default: each backbone's own)")
    parser.add_argument("--channels-last", action="store_true", help="use channels_last memory format")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return parser.parse_args()


def synchronize(device: torch.device) -> None:
    """Wait for queued CUDA work so that timings are real (no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def training_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, images: torch.Tensor) -> None:
    """One forward + backward + SGD step on a dummy loss."""
    optimizer.zero_grad(set_to_none=True)
    features = model(images)
    F.mse_loss(features, torch.zeros_like(features)).backward()
    optimizer.step()


def images_per_second(name: str, width: int | None, args: argparse.Namespace, device: torch.device) -> float:
    """Training throughput of backbone `name` at `width`: 3 warm-up steps, then at least `args.seconds` timed."""
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    model = build_backbone(name, args.channels, args.image_size, abn=args.abn, width=width)
    model = model.to(device, memory_format=memory_format)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    images = torch.rand(args.batch_size, args.channels, args.image_size, args.image_size, device=device)
    images = images.contiguous(memory_format=memory_format)
    for _ in range(3):
        training_step(model, optimizer, images)
    synchronize(device)
    steps, start = 0, time.perf_counter()
    while steps < 3 or time.perf_counter() - start < args.seconds:
        training_step(model, optimizer, images)
        steps += 1
        if steps % 10 == 0:
            synchronize(device)
    synchronize(device)
    return steps * args.batch_size / (time.perf_counter() - start)


def main() -> None:
    """Print images/s for each requested backbone."""
    args = parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"device={device} threads={torch.get_num_threads()} batch={args.batch_size} "
          f"input={args.channels}x{args.image_size}x{args.image_size} abn={args.abn}")
    for name in args.backbones:
        for width in args.widths if BACKBONES.get(name).width else [None]:
            label = name if width is None else f"{name} width {width}"
            print(f"{label:>22s}: {images_per_second(name, width, args, device):9.0f} images/s", flush=True)


if __name__ == "__main__":
    main()

"""How fast the file path (ImageNet, Sec. 5.5.3) feeds training: images/s of StreamBatches per worker count.

ImageNet-1K does not fit in memory, so its images are decoded from JPEG files by DataLoader workers while
training (arpl.data.files). If decoding is slower than the GPU trains, the GPU waits; this script measures
the decoding side alone: one pass of ``StreamBatches`` (training decode: RandomResizedCrop + flip, or
evaluation decode: centre crop) over ``--images`` files, for each worker count in ``--workers``.

Without ``--folder`` it writes synthetic JPEGs of ImageNet's typical size (500x375, quality 90) to a
temporary folder; with ``--folder PATH`` it reads the first ``--images`` files of a real ImageFolder tree
(e.g. data/external/imagenet/train). Rows are appended to benchmarks/decode_results.csv unless --no-save.

Usage, from the repository root:
    python benchmarks/decode_throughput.py                              # synthetic JPEGs, 0/1/2 workers
    python benchmarks/decode_throughput.py --folder data/external/imagenet/train --workers 4 8 16
Not a test: numbers depend on the machine's CPUs and disk.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from arpl.data.files import ImageFiles, StreamBatches

RESULTS = Path(__file__).with_name("decode_results.csv")
COLUMNS = ("date", "cpu", "cpus", "source", "decode", "size", "batch_size", "workers", "images", "images_per_s")


def synthetic_folder(folder: Path, count: int, seed: int = 0) -> list[str]:
    """Write ``count`` random-texture JPEGs of 500x375 px (ImageNet's most common size); return their names."""
    rng = np.random.default_rng(seed)
    names = []
    for i in range(count):
        coarse = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)  # smooth content compresses like a photo
        image = Image.fromarray(coarse).resize((500, 375), Image.BICUBIC)
        names.append(f"image_{i:05d}.jpg")
        image.save(folder / names[-1], quality=90)
    return names


def folder_files(folder: Path, count: int) -> list[str]:
    """The first ``count`` image files under ``folder`` (sorted), relative to it."""
    found = sorted(str(path.relative_to(folder)) for path in folder.rglob("*")
                   if path.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not found:
        raise SystemExit(f"no .jpg/.jpeg/.png files under {folder}")
    return found[:count]


def measure(files: ImageFiles, batch_size: int, workers: int, train: bool) -> float:
    """Images/s of one pass of StreamBatches over ``files`` (CPU tensors, as fed to the device)."""
    batches = StreamBatches(files, torch.zeros(len(files), dtype=torch.int64), batch_size, workers=workers,
                            augment=train)
    tic = time.perf_counter()
    seen = sum(len(y) for _, y in batches.epoch(0))
    return seen / (time.perf_counter() - tic)


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo, else the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    """Measure and print one row per (decode, workers); append them to decode_results.csv."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, help="a real ImageFolder tree (default: synthetic JPEGs)")
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        if args.folder is None:
            root, source = Path(temporary), "synthetic 500x375 JPEG"
            names = synthetic_folder(root, args.images)
        else:
            root, source = args.folder, str(args.folder)
            names = folder_files(root, args.images)
        files = ImageFiles(root, names, args.size, crop_fraction=0.875)
        date = datetime.now(timezone.utc).isoformat(timespec="seconds")
        rows = []
        print(f"{len(names)} images from {source}, {args.size} px, batch {args.batch_size}, "
              f"{os.cpu_count()} CPUs ({cpu_name()})")
        for train in (True, False):
            for workers in args.workers:
                rate = measure(files, args.batch_size, workers, train)
                decode = "train" if train else "eval"
                print(f"  {decode:5s} decode, {workers:2d} workers: {rate:8.0f} images/s")
                rows.append(dict(zip(COLUMNS, (date, cpu_name(), os.cpu_count(), source, decode, args.size,
                                               args.batch_size, workers, len(names), round(rate, 1)))))
    if not args.no_save:
        new = not RESULTS.exists()
        with RESULTS.open("a", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=COLUMNS)
            if new:
                writer.writeheader()
            writer.writerows(rows)
        print(f"appended {len(rows)} rows to {RESULTS}")


if __name__ == "__main__":
    main()

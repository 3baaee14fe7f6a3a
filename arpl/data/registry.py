"""Dataset sources: every fact about an image source in one record, found by name (Sec. 5.1-5.5).

A :class:`DatasetSource` holds a source's class count, native image size and channels, how to load it, and
its role in the protocol (open-set dataset, out-of-distribution set, augmented or not). The built-in
sources register themselves in the module that loads them (:mod:`arpl.data.sources`,
:mod:`arpl.data.generated`, :mod:`arpl.data.folders`, :mod:`arpl.data.domainnet`, :mod:`arpl.data.imagenet`),
all imported by ``arpl/data/__init__.py``. A user's source lives in their own module and is named in
``params.yaml`` by import path (``data.dataset: "my_pkg.data:MyData"``, see :mod:`arpl.registry`).

:func:`load_image_set` is the one entry point that turns a name into images.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from arpl.data.imageset import ImageSet
from arpl.registry import Registry

NOISE_SEED = 0
NOISE_COUNT = 1000

LoadFn = Callable[[Path, bool, bool], ImageSet]          # (root, train, download) -> images at native size
GenerateFn = Callable[[int, int, int, int], ImageSet]    # (count, size, channels, seed) -> synthetic images
CheckFn = Callable[[Path, bool], None]                   # (root, download) -> None, or DataNotFoundError


@dataclass(frozen=True)
class DatasetSource:
    """One image source and its role in the open-set protocol.

    Exactly one of ``load`` (images read from ``run.data_root``, or packaged) and ``generate`` (synthetic
    images of any shape, e.g. the noise sets of Sec. 5.3) is given. ``check`` verifies cheaply, without
    loading, that a source's files are there (``python -m arpl check`` and the download stage); None when the
    source reads no files under ``run.data_root``. ``train_images_per_class`` is the published average number
    of training images per class, used only for estimates (:mod:`arpl.stages.plan`: how long a profile trains); None
    when unknown (the estimate then assumes the profile's ``*_per_class`` limits are what the data has).
    """

    name: str
    num_classes: int
    size: int                           # native image side in pixels
    channels: int                       # native channels (1 or 3)
    load: LoadFn | None = None
    generate: GenerateFn | None = None
    augment: bool = False               # random crop + flip while training (the authors' protocol, Sec. 5.1)
    open_set: bool = True               # may be ``data.dataset``
    ood: bool = False                   # may be one of ``ood.sets``
    images_of: str | None = None        # trained on another source's images (CIFAR+N: cifar10)
    unknowns_from: str | None = None    # unknown test images from another source (CIFAR+N: cifar100)
    check: CheckFn | None = None
    prepared_by_hand: bool = False      # not fetched by ``python -m arpl download`` (DomainNet, ImageNet)
    train_images_per_class: int | None = None  # published average, for estimates only (arpl.stages.plan)

    def __post_init__(self) -> None:
        if (self.load is None) == (self.generate is None):
            raise ValueError(f"dataset source {self.name!r} needs exactly one of load (read images) and generate "
                             f"(synthetic images)")
        for key in ("num_classes", "size", "channels"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"dataset source {self.name!r}: {key} must be a positive int, got {value!r}")

    @property
    def synthetic(self) -> bool:
        """Whether the images are generated (any count and shape) rather than read."""
        return self.generate is not None


DATASETS: Registry[DatasetSource] = Registry("dataset", DatasetSource)


def register_dataset(source: DatasetSource) -> DatasetSource:
    """Make ``source`` available by its name (for the built-in sources; a user's is named by import path)."""
    return DATASETS.register(source)


def dataset_source(name: str) -> DatasetSource:
    """The source named ``name``: a registered name or ``"module:attribute"``; the error lists what is
    registered."""
    return DATASETS.get(name)


def load_image_set(name: str, root: str | Path, train: bool = True, download: bool = False, *,
                   size: int | None = None, channels: int | None = None,
                   count: int | None = None, seed: int = NOISE_SEED) -> ImageSet:
    """Load dataset ``name`` (see :func:`dataset_source`) from ``root`` as an :class:`ImageSet`.

    ``train`` picks the training or the test part (SVHN: "train"/"test"; TinyImageNet, ImageNet: train/val;
    DomainNet: the domain's train/test list).
    OOD-only sets (digits, noise) return all their images for both parts. ``size``/``channels``
    resize the result (bilinear, antialiased; 1 -> 3 channels by repetition); for the synthetic sets they
    give the generated shape, with ``count`` images drawn with ``seed``.
    Raises :class:`~arpl.data.checksums.DataNotFoundError` (places tried and fixes) or
    :class:`~arpl.data.checksums.CorruptDataError`.
    """
    source = dataset_source(name)
    if source.synthetic:
        return source.generate(count or NOISE_COUNT, size or source.size, channels or source.channels, seed)
    if count is not None:
        raise ValueError(f"count only applies to synthetic sets (noise), not to {name!r}; drop it")
    image_set = source.load(Path(root), train, download)
    if (size is None or size == image_set.images.shape[-1]) and channels in (None, image_set.images.shape[1]):
        return image_set
    return image_set.resized(size or image_set.images.shape[-1], channels)

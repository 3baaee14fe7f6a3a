"""DomainNet (Table 5) and ImageNet-1K / ImageNet-O (Table 6) loaders on small files written in the real
layouts: class halves, label checks, 80 px centre crops and their cache, lazy ImageNet sets that train and
predict through worker processes, and the errors that name what is missing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from arpl.data import dataset_source, domainnet, folders, load_image_set
from arpl.data.checksums import DataNotFoundError
from arpl.data.files import ImageFiles
from arpl.evaluate import predict
from arpl.training import fit
from arpl.training.network import build_model
from arpl.training.specs import ModelSpec, TrainSpec


def class_colour(index: int) -> tuple[int, int, int]:
    return (index * 37 % 256, index * 91 % 256, index * 53 % 256)


def write_domainnet(root: Path, domains=("real", "clipart"), per_class: int = 1) -> Path:
    """Every domain with 345 class folders; images only for a few classes per half (the lists name them)."""
    base = root / "domainnet"
    classes = [f"class_{i:03d}" for i in range(domainnet.NUM_CLASSES)]
    used = [0, 1, 172, 173, 174, 334, 340]
    for domain in domains:
        for name in classes:
            (base / domain / name).mkdir(parents=True)
        for part in ("train", "test"):
            lines = []
            for label in used:
                for k in range(per_class):
                    relative = f"{domain}/{classes[label]}/{domain}_{part}_{label}_{k}.png"
                    # wide images: the centre square must hold the class colour, the sides another colour
                    image = Image.new("RGB", (120, 80), (255, 255, 255))
                    image.paste(Image.new("RGB", (80, 80), class_colour(label)), (20, 0))
                    image.save(base / relative)
                    lines.append(f"{relative} {label}")
            (base / f"{domain}_{part}.txt").write_text("\n".join(lines) + "\n")
    return base


def test_domainnet_halves_labels_and_centre_crop(tmp_path, monkeypatch):
    base = write_domainnet(tmp_path)
    real_a = load_image_set("domainnet-real-A", tmp_path, train=True)
    assert real_a.images.shape == (3, 3, 80, 80) and len(real_a.classes) == 173
    assert real_a.labels.tolist() == [0, 1, 172] and real_a.classes[172] == "class_172"
    for image, label in zip(real_a.images, real_a.labels):
        assert torch.equal(image[:, 40, 40], torch.tensor(class_colour(int(label))))
        assert torch.equal(image[:, :, 0], image[:, :, 40:41].expand(-1, -1, 1).squeeze(-1))  # no white border
    clipart_b = load_image_set("domainnet-clipart-B", tmp_path, train=False)
    assert clipart_b.labels.tolist() == [0, 1, 161] and len(clipart_b.classes) == 162  # 340 is in no half
    assert (base / "real_train_A_80px.npz").is_file()

    def no_decoding(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(domainnet, "decode_all", no_decoding)
    again = load_image_set("domainnet-real-A", tmp_path, train=True)
    assert torch.equal(again.images, real_a.images)
    assert load_image_set("domainnet-real-A", tmp_path, train=True, size=32).images.shape == (3, 3, 32, 32)


def test_domainnet_errors_name_the_missing_piece(tmp_path):
    with pytest.raises(DataNotFoundError, match="quickdraw.*does not exist.*quickdraw.zip"):
        load_image_set("domainnet-quickdraw-A", tmp_path)
    base = write_domainnet(tmp_path, domains=("real",))
    (base / "real_test.txt").unlink()
    with pytest.raises(DataNotFoundError, match="real_test.txt not found"):
        dataset_source("domainnet-real-B").check(tmp_path, False)
    (base / "real_train.txt").write_text("real/class_001/real_train_0_0.png 0\n")
    with pytest.raises(ValueError, match="not their class folder's index"):
        load_image_set("domainnet-real-A", tmp_path)
    with pytest.raises(ValueError, match="unknown DomainNet set"):
        domainnet.parse_name("domainnet-sketch-A")


def write_imagenet(root: Path, classes: int = 1000, used: int = 3) -> Path:
    """ImageNet's train/val ImageFolder trees (images in the first ``used`` classes) and ImageNet-O."""
    base = root / "imagenet"
    wnids = [f"n{i:08d}" for i in range(classes)]
    for part in ("train", "val"):
        for i, wnid in enumerate(wnids):
            (base / part / wnid).mkdir(parents=True)
            if i < used:
                for k in range(4 if part == "train" else 2):
                    Image.new("RGB", (48 + 8 * k, 40), class_colour(i)).save(base / part / wnid / f"{k}.JPEG")
    for k, wnid in enumerate(["n99000001", "n99000002"]):
        (root / "imagenet-o" / wnid).mkdir(parents=True)
        Image.new("RGB", (50, 60), (9, 9, 9)).save(root / "imagenet-o" / wnid / f"o{k}.jpg")
    return base


def test_imagenet_sets_are_lazy_and_follow_imagefolder_order(tmp_path):
    write_imagenet(tmp_path)
    train = load_image_set("imagenet-1k", tmp_path, train=True, size=32)
    val = load_image_set("imagenet-1k", tmp_path, train=False, size=32)
    out = load_image_set("imagenet-o", tmp_path, train=False, size=32)
    assert isinstance(train.images, ImageFiles) and train.images.shape == (12, 3, 32, 32)
    assert len(train.classes) == 1000 and train.labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert val.images.crop_fraction == pytest.approx(0.875) and len(val) == 6 and len(out) == 2
    subset = train.subset([4, 0])
    assert subset.labels.tolist() == [1, 0] and isinstance(subset.images, ImageFiles)
    pixel = subset.images[0][:, 16, 16].float()  # JPEG: within a few levels of the class colour
    assert torch.allclose(pixel, torch.tensor(class_colour(1), dtype=torch.float), atol=4)


def test_imagenet_errors_say_how_to_prepare(tmp_path):
    with pytest.raises(DataNotFoundError, match="prepare-imagenet"):
        load_image_set("imagenet-1k", tmp_path)
    with pytest.raises(DataNotFoundError, match="ILSVRC2012_img_train.tar"):
        dataset_source("imagenet-1k").check(tmp_path, False)
    with pytest.raises(DataNotFoundError, match="imagenet-o.tar"):
        load_image_set("imagenet-o", tmp_path)
    write_imagenet(tmp_path, classes=10)
    with pytest.raises(DataNotFoundError, match="10 class folders"):
        load_image_set("imagenet-1k", tmp_path)


def test_training_and_prediction_stream_image_files(tmp_path):
    """fit() and predict() take lazy ImageFiles like tensors; a rerun gives the same weights (CPU)."""
    write_imagenet(tmp_path, classes=1000, used=3)
    train = load_image_set("imagenet-1k", tmp_path, train=True, size=16)
    train = train.subset(np.arange(len(train)))
    spec = ModelSpec(method="ARPL", backbone="small", num_classes=1000, in_channels=3, image_size=16)
    tspec = TrainSpec(epochs=1, batch_size=4, optimizer="sgd", lr=0.01, augment=True, data_tag="files")
    first = fit(spec, tspec, train.images, train.labels, tmp_path / "a")
    second = fit(spec, tspec, train.images, train.labels, tmp_path / "b")
    for a, b in zip(first.net.state_dict().values(), second.net.state_dict().values()):
        assert torch.equal(a, b)
    predictions = predict(first.net, train.images, batch_size=5)
    decoded = torch.stack([train.images[i] for i in range(len(train))])
    assert np.allclose(predictions.logits, predict(first.net, decoded, batch_size=5).logits, atol=1e-5)


def test_image_folder_loader_uses_the_parallel_decoder(tmp_path):
    for i in range(2):
        (tmp_path / "set" / f"c{i}").mkdir(parents=True)
        Image.new("RGB", (30, 20), class_colour(i)).save(tmp_path / "set" / f"c{i}" / "x.png")
    image_set = folders.load_image_folder(tmp_path / "set", 8)
    assert image_set.images.shape == (2, 3, 8, 8) and image_set.labels.tolist() == [0, 1]
    assert build_model(ModelSpec(method="Softmax", backbone="small", num_classes=2, in_channels=3, image_size=8))


def test_download_stage_stops_with_the_fix_when_hand_prepared_data_is_missing(tmp_path):
    """`dvc repro` of the domainnet profile without the data fails in its first stage, naming what to get."""
    from arpl.pipeline.params.profiles import profile_params
    from arpl.stages.download import download

    params = profile_params("domainnet").replace("run", data_root=str(tmp_path / "external"))
    with pytest.raises(DataNotFoundError, match="real.zip"):
        download(params, tmp_path / "downloads")
    write_domainnet(tmp_path / "external", domains=("real", "clipart", "quickdraw"))
    assert set(download(params, tmp_path / "downloads")) == {"domainnet-real-A", *params.ood.sets}

"""Tests for arpl.models: backbones, auxiliary batch norm (Sec. 4.2) and the DCGAN pair (Sec. 4.1)."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from arpl.models import BACKBONES, Classifier32, LeNetPP, SmallNet, bn_domain, build_backbone, build_gan
from arpl.models.abn import AuxBatchNorm1d, AuxBatchNorm2d, aux_batch_norms, count_bn_domains
from arpl.models.dcgan import (Discriminator28, Discriminator32, Discriminator64, Generator, Generator28, Generator32,
                               Generator64)
from arpl.models.resnet import resnet18


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# ---------------------------------------------------------------- backbones


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("image_size", [28, 32, 64])
@pytest.mark.parametrize("name", BACKBONES)
def test_backbone_gives_features_of_feat_dim(name, image_size, channels):
    torch.manual_seed(0)
    model = build_backbone(name, channels, image_size, abn=True)
    features = model(torch.rand(2, channels, image_size, image_size))
    assert isinstance(model.feat_dim, int)
    assert features.shape == (2, model.feat_dim)
    assert torch.isfinite(features).all()


@pytest.mark.parametrize("name, expected", [("classifier32", 128), ("lenetpp", 2), ("small", 128),
                                            ("resnet18", 512), ("resnet34", 512)])
def test_default_feature_sizes(name, expected):
    assert build_backbone(name, 1, 28).feat_dim == expected


@pytest.mark.parametrize("name", ["lenetpp", "small"])
def test_feat_dim_is_configurable_where_supported(name):
    model = build_backbone(name, 1, 28, feat_dim=7)
    assert model.feat_dim == 7
    assert model(torch.rand(3, 1, 28, 28)).shape == (3, 7)


@pytest.mark.parametrize("name", ["classifier32", "resnet18", "resnet34"])
def test_fixed_feature_size_rejects_other_feat_dim(name):
    with pytest.raises(ValueError, match="fixed feature size"):
        build_backbone(name, 3, 32, feat_dim=64)
    assert build_backbone(name, 3, 32, feat_dim=build_backbone(name, 3, 32).feat_dim).feat_dim > 0


@pytest.mark.parametrize("name, multiple", [("classifier32", 2), ("resnet18", 8), ("resnet34", 8)])
def test_width_narrows_every_convolution_and_keeps_every_layer(name, multiple):
    full, narrow = build_backbone(name, 3, 32), build_backbone(name, 3, 32, width=16)
    convs = lambda net: [m for m in net.modules() if isinstance(m, nn.Conv2d)]  # noqa: E731
    assert [type(m) for m in narrow.modules()] == [type(m) for m in full.modules()]
    assert [c.out_channels * 4 for c in convs(narrow)] == [c.out_channels for c in convs(full)]
    assert narrow.feat_dim == multiple * 16 and full.feat_dim == multiple * 64
    assert narrow(torch.rand(2, 3, 32, 32)).shape == (2, multiple * 16)
    with pytest.raises(ValueError, match="width must be a positive int"):
        build_backbone(name, 3, 32, width=0)


def test_unknown_backbone_lists_choices_and_suggests_closest():
    with pytest.raises(ValueError) as error:
        build_backbone("resnet19", 3, 32)
    message = str(error.value)
    for name in BACKBONES:
        assert name in message
    assert "Did you mean 'resnet18'" in message


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_bad_in_channels_rejected(bad):
    with pytest.raises(ValueError, match="in_channels"):
        build_backbone("small", bad, 28)


def test_bad_image_size_rejected():
    with pytest.raises(ValueError, match="image_size"):
        build_backbone("classifier32", 3, 4)


def test_classifier32_parameter_count_matches_authors_architecture():
    # Authors' classifier32 without its fc layer and without the unused bn10:
    #   conv1  3*64*9      =   1,728
    #   conv2  64*64*9     =  36,864
    #   conv3  64*128*9    =  73,728
    #   conv4..conv9  6 * 128*128*9 = 884,736
    #   bn1, bn2  2 * 2*64  =     256   (weight + bias)
    #   bn3..bn9  7 * 2*128 =   1,792
    #   total                  999,104
    assert count_parameters(Classifier32(in_channels=3)) == 999_104
    # ABN duplicates every batch norm: + 2,048.
    assert count_parameters(Classifier32(in_channels=3, abn=True)) == 999_104 + 2_048
    # One input channel: conv1 has 1*64*9 = 576 weights instead of 1,728.
    assert count_parameters(Classifier32(in_channels=1)) == 999_104 - 1_152


def test_classifier32_layers_follow_the_authors_list():
    model = Classifier32()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.stride[0]) for c in convs] == [
        (3, 64, 1), (64, 64, 1), (64, 128, 2), (128, 128, 1), (128, 128, 1), (128, 128, 2),
        (128, 128, 1), (128, 128, 1), (128, 128, 2),
    ]
    assert all(c.kernel_size == (3, 3) and c.padding == (1, 1) and c.bias is None for c in convs)
    dropouts = [m for m in model.modules() if isinstance(m, nn.Dropout2d)]
    assert len(dropouts) == 3 and all(d.p == 0.2 for d in dropouts)


def test_classifier32_uses_authors_initialisation():
    torch.manual_seed(0)
    model = Classifier32()
    conv_weights = torch.cat([m.weight.flatten() for m in model.modules() if isinstance(m, nn.Conv2d)])
    bn_layers = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    bn_weights = torch.cat([m.weight for m in bn_layers])
    assert conv_weights.std().item() == pytest.approx(0.05, rel=0.02)
    assert bn_weights.mean().item() == pytest.approx(1.0, abs=0.01)
    assert bn_weights.std().item() == pytest.approx(0.02, rel=0.2)
    assert all(torch.all(m.bias == 0) for m in bn_layers)


def test_classifier32_dropout_active_only_in_training():
    torch.manual_seed(0)
    model = Classifier32(in_channels=1)
    x = torch.rand(4, 1, 28, 28)
    assert not torch.allclose(model(x), model(x))
    model.eval()
    assert torch.equal(model(x), model(x))


def test_lenetpp_rejects_input_of_other_size():
    model = LeNetPP(in_channels=1, image_size=28)
    with pytest.raises(ValueError, match="28 px"):
        model(torch.rand(2, 1, 32, 32))


def test_resnet_stem_strides_only_for_64px():
    assert resnet18(image_size=32).conv1.stride == (1, 1)
    assert resnet18(image_size=64).conv1.stride == (2, 2)


def test_resnet_takes_imagenets_stem_from_128px():
    """He et al.'s 7x7 convolution and 3x3 max pooling (Table 6, 224 px); below 128 px the 3x3 stem."""
    for size in (128, 224):
        net = resnet18(image_size=size)
        assert net.conv1.kernel_size == (7, 7) and isinstance(net.pool, nn.MaxPool2d)
        assert net(torch.zeros(2, 3, size, size)).shape == (2, 512)
    assert resnet18(image_size=64).conv1.kernel_size == (3, 3) and isinstance(resnet18(image_size=64).pool, nn.Identity)


def test_resnet_abn_covers_shortcut_batch_norms():
    model = resnet18(abn=True)
    plain_bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    # 1 stem + 8 blocks * 2 + 3 projection shortcuts = 20 layers, two domains each.
    assert len(aux_batch_norms(model)) == 20
    assert len(plain_bns) == 40


@pytest.mark.parametrize("name", BACKBONES)
def test_same_seed_gives_same_initial_weights(name):
    torch.manual_seed(123)
    first = build_backbone(name, 1, 28, abn=True).state_dict()
    torch.manual_seed(123)
    second = build_backbone(name, 1, 28, abn=True).state_dict()
    torch.manual_seed(124)
    third = build_backbone(name, 1, 28, abn=True).state_dict()
    assert first.keys() == second.keys()
    assert all(torch.equal(first[key], second[key]) for key in first)
    assert any(not torch.equal(first[key], third[key]) for key in first)


def test_small_net_learns_a_simple_task():
    torch.manual_seed(0)
    labels = torch.randint(0, 2, (256,))
    images = torch.rand(256, 1, 28, 28) * 0.5
    images[labels == 1, :, :14] += 0.5
    model = SmallNet(in_channels=1, feat_dim=2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for step in range(40):
        batch = slice((step % 4) * 64, (step % 4 + 1) * 64)
        loss = nn.functional.cross_entropy(model(images[batch]), labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(images).argmax(1) == labels).float().mean().item()
    assert accuracy > 0.95


# ---------------------------------------------------------------- auxiliary batch norm


def test_abn_keeps_separate_running_statistics():
    layer = AuxBatchNorm2d(3, num_domains=2)
    with bn_domain(layer, 1):
        layer(torch.randn(16, 3, 4, 4) + 5.0)
    known, generated = layer.bns
    assert torch.equal(known.running_mean, torch.zeros(3))
    assert torch.equal(known.running_var, torch.ones(3))
    assert known.num_batches_tracked.item() == 0
    assert torch.all(generated.running_mean > 0.4)
    assert generated.num_batches_tracked.item() == 1

    generated_mean = generated.running_mean.clone()
    layer(torch.randn(16, 3, 4, 4) - 3.0)
    assert torch.all(known.running_mean < -0.2)
    assert torch.equal(generated.running_mean, generated_mean)


def test_abn_backbone_domain_one_leaves_known_statistics_untouched():
    torch.manual_seed(0)
    model = build_backbone("classifier32", 1, 28, abn=True)
    with bn_domain(model, 1):
        model(torch.rand(8, 1, 28, 28) + 3.0)
    layers = aux_batch_norms(model)
    assert len(layers) == 9
    for layer in layers:
        assert layer.bns[0].num_batches_tracked.item() == 0
        assert torch.equal(layer.bns[0].running_mean, torch.zeros_like(layer.bns[0].running_mean))
        assert layer.bns[1].num_batches_tracked.item() == 1
    assert torch.all(layers[0].bns[1].running_mean.abs() > 0)


def test_eval_mode_uses_known_domain_by_default():
    torch.manual_seed(0)
    layer = AuxBatchNorm2d(2, num_domains=2)
    layer(torch.randn(32, 2, 3, 3) * 2 + 1.0)
    with bn_domain(layer, 1):
        layer(torch.randn(32, 2, 3, 3) - 4.0)
    layer.eval()
    x = torch.randn(4, 2, 3, 3)
    assert layer.domain == 0
    assert torch.allclose(layer(x), layer.bns[0](x))
    assert not torch.allclose(layer(x), layer.bns[1](x))
    with bn_domain(layer, 1):
        assert torch.allclose(layer(x), layer.bns[1](x))


def test_abn_domains_get_separate_gradients():
    torch.manual_seed(0)
    model = build_backbone("small", 1, 28, abn=True)
    with bn_domain(model, 1):
        model(torch.rand(4, 1, 28, 28)).sum().backward()
    for layer in aux_batch_norms(model):
        assert layer.bns[0].weight.grad is None
        assert layer.bns[1].weight.grad is not None


def test_aux_batch_norm_1d():
    layer = AuxBatchNorm1d(5, num_domains=2)
    with bn_domain(layer, 1):
        out = layer(torch.randn(8, 5) + 10.0)
    assert out.shape == (8, 5)
    assert torch.equal(layer.bns[0].running_mean, torch.zeros(5))
    assert torch.all(layer.bns[1].running_mean > 0.5)


def test_abn_state_dict_uses_authors_key_layout():
    keys = AuxBatchNorm2d(4, num_domains=2).state_dict().keys()
    assert {"bns.0.weight", "bns.1.weight", "bns.0.running_mean", "bns.1.running_var"} <= set(keys)


@pytest.mark.parametrize("bad", [0, -1, 1.5])
def test_aux_batch_norm_needs_a_positive_number_of_domains(bad):
    with pytest.raises(ValueError, match="num_domains"):
        AuxBatchNorm2d(4, num_domains=bad)


def test_bn_domain_restores_previous_domains_and_nests():
    model = build_backbone("small", 1, 28, abn=True)
    layers = aux_batch_norms(model)
    with bn_domain(model, 1):
        assert all(layer.domain == 1 for layer in layers)
        with bn_domain(model, 0):
            assert all(layer.domain == 0 for layer in layers)
        assert all(layer.domain == 1 for layer in layers)
    assert all(layer.domain == 0 for layer in layers)


def test_bn_domain_restores_after_an_exception():
    model = build_backbone("small", 1, 28, abn=True)
    with pytest.raises(RuntimeError):
        with bn_domain(model, 1):
            raise RuntimeError("boom")
    assert all(layer.domain == 0 for layer in aux_batch_norms(model))


@pytest.mark.parametrize("name", BACKBONES)
def test_bn_domain_errors_on_backbone_without_abn(name):
    model = build_backbone(name, 1, 28, abn=False)
    assert count_bn_domains(model) == 1
    with pytest.raises(ValueError, match="without ABN"):
        with bn_domain(model, 1):
            pass
    with bn_domain(model, 0):
        pass
    assert all(layer.domain == 0 for layer in aux_batch_norms(model))


def test_bn_domain_errors_on_module_without_any_aux_batch_norm():
    plain = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    assert count_bn_domains(plain) == 0
    with pytest.raises(ValueError, match="without ABN"):
        with bn_domain(plain, 1):
            pass


@pytest.mark.parametrize("bad", [-1, True, 1.0, "1"])
def test_bn_domain_rejects_non_integer_domains(bad):
    with pytest.raises(ValueError, match="domain"):
        with bn_domain(build_backbone("small", 1, 28, abn=True), bad):
            pass


def test_bn_domain_reaches_layers_inside_wrappers():
    model = build_backbone("small", 1, 28, abn=True)
    wrapper = nn.ModuleDict({"backbone": model})
    with bn_domain(wrapper, 1):
        assert all(layer.domain == 1 for layer in aux_batch_norms(model))


def test_sync_batch_norm_conversion_keeps_domains():
    model = nn.SyncBatchNorm.convert_sync_batchnorm(build_backbone("small", 1, 28, abn=True))
    layers = aux_batch_norms(model)
    assert layers and all(isinstance(bn, nn.SyncBatchNorm) for layer in layers for bn in layer.bns)
    with bn_domain(model, 1):
        assert all(layer.domain == 1 for layer in layers)


def test_abn_compiles_to_a_full_graph_and_switches_domain():
    torch.manual_seed(0)
    model = build_backbone("small", 1, 28, abn=True)
    compiled = torch.compile(model, backend="eager", fullgraph=True)
    x = torch.rand(4, 1, 28, 28)
    compiled(x)
    with bn_domain(compiled, 1):
        compiled(x)
    first = model.blocks[0].bn
    assert first.bns[0].num_batches_tracked.item() == 1
    assert first.bns[1].num_batches_tracked.item() == 1
    model.eval()
    reference = copy.deepcopy(model)
    assert torch.allclose(compiled(x), reference(x))


# ---------------------------------------------------------------- DCGAN


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("image_size", [28, 32, 64])
def test_gan_shapes_and_ranges(image_size, channels):
    torch.manual_seed(0)
    generator, discriminator = build_gan(image_size, channels, nz=16, ngf=8, ndf=8)
    fake = generator(generator.sample_noise(5))
    assert fake.shape == (5, channels, image_size, image_size)
    assert fake.min().item() >= 0.0 and fake.max().item() <= 1.0
    logit = discriminator(fake)
    assert logit.shape == (5,)
    assert torch.all(torch.isfinite(logit))


@pytest.mark.parametrize("classes, image_size, channels", [
    ((Generator28, Discriminator28), 28, 1),
    ((Generator32, Discriminator32), 32, 3),
    ((Generator64, Discriminator64), 64, 3),
])
def test_named_gan_classes(classes, image_size, channels):
    generator_class, discriminator_class = classes
    generator, discriminator = generator_class(nz=10, ngf=4), discriminator_class(ndf=4)
    fake = generator(generator.sample_noise(2))
    assert fake.shape == (2, channels, image_size, image_size)
    assert discriminator(fake).shape == (2,)


def test_gan_parameter_counts_match_authors_architecture():
    generator, discriminator = build_gan(32, 3)
    # Generator32(nz=100, ngf=64, nc=3): transposed convs 100*512*16 + 512*256*16 + 256*128*16
    # + 128*3*16 = 3,446,784; batch norms 2*(512+256+128) = 1,792.
    assert count_parameters(generator) == 3_446_784 + 1_792
    # Discriminator32(nc=3, ndf=64): convs 3*128*16 + 128*256*16 + 256*512*16 + 512*1024*16
    # = 11,016,192; batch norms 2*(256+512) = 1,536; linear 1024 + 1 = 1,025.
    assert count_parameters(discriminator) == 11_016_192 + 1_536 + 1_025


def test_gan_uses_dcgan_initialisation():
    torch.manual_seed(0)
    generator, _ = build_gan(32, 3)
    weights = torch.cat([m.weight.flatten() for m in generator.modules() if isinstance(m, nn.ConvTranspose2d)])
    assert weights.std().item() == pytest.approx(0.02, rel=0.02)


@pytest.mark.parametrize("image_size", [16, 48, 128])
def test_build_gan_rejects_unsupported_sizes(image_size):
    with pytest.raises(ValueError, match="28, 32, 64"):
        build_gan(image_size, 3)


def test_sample_noise_is_reproducible_with_a_generator():
    generator = Generator(28, nz=12, ngf=4, nc=1)
    first = generator.sample_noise(3, generator=torch.Generator().manual_seed(7))
    second = generator.sample_noise(3, generator=torch.Generator().manual_seed(7))
    assert first.shape == (3, 12, 1, 1)
    assert first.device == next(generator.parameters()).device
    assert torch.equal(first, second)


def test_generator_rejects_noise_of_wrong_shape():
    generator = Generator(32, nz=12, ngf=4, nc=3)
    assert generator(torch.randn(2, 12)).shape == (2, 3, 32, 32)
    with pytest.raises(ValueError, match=r"\[B, 12, 1, 1\]"):
        generator(torch.randn(2, 10, 1, 1))


def test_same_seed_gives_same_gan_weights():
    torch.manual_seed(5)
    first = [m.state_dict() for m in build_gan(28, 1, ngf=8, ndf=8)]
    torch.manual_seed(5)
    second = [m.state_dict() for m in build_gan(28, 1, ngf=8, ndf=8)]
    for a, b in zip(first, second):
        assert all(torch.equal(a[key], b[key]) for key in a)

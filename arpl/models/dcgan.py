"""The confusing-sample generator G and discriminator D (paper Sec. 4.1, Algorithm 2).

Layer for layer the DCGAN pair of the authors' models/gan.py (after pytorch/examples dcgan):
- Generator: z [B, nz, 1, 1] -> ConvTranspose to ngf*8 x 4x4, then to ngf*4, ngf*2 (and ngf for
  64 px) doubling the size each time, each with batch norm + ReLU, and a last ConvTranspose to
  `nc` channels followed by Sigmoid: images in [0, 1], the range of our unnormalised data.
- Discriminator: conv to ndf*2 (LeakyReLU 0.2), ndf*4 and ndf*8 (batch norm + LeakyReLU), each
  4x4 stride 2, then a 4x4 stride-1 conv to ndf*16 with Sigmoid, global average pooling, a linear
  layer and Sigmoid: a probability of "real" per image, shape [B]. The authors use this same
  discriminator at 32 and 64 px (at 64 px the last conv map is 5x5 before pooling).
- 28 px (Fashion-MNIST / MNIST without resizing, our addition): the second generator layer uses
  a 3x3 kernel (4 -> 7 px) and the third discriminator conv a 3x3 kernel (7 -> 4 px); all else
  as at 32 px.
- 80 px (DomainNet, Table 5, our addition): the first generator layer uses a 5x5 kernel (1 -> 5 px),
  then four doublings to 80 px; the discriminator is the 64 px one (7x7 map before pooling).
Initialisation: the authors' DCGAN `weights_init`, conv N(0, 0.02), batch norm weight N(1, 0.02)
and bias 0; the linear layer keeps PyTorch's default, as in their code.
"""

from __future__ import annotations

import torch
from torch import nn

GAN_IMAGE_SIZES = (28, 32, 64, 80)
DCGAN_INIT_STD = 0.02
LEAKY_SLOPE = 0.2

# Per image size: (channel multiple of ngf, kernel, stride, padding) of each transposed conv;
# multiple 0 marks the output layer (nc channels).
GENERATOR_LAYERS = {
    28: ((8, 4, 1, 0), (4, 3, 2, 1), (2, 4, 2, 1), (0, 4, 2, 1)),
    32: ((8, 4, 1, 0), (4, 4, 2, 1), (2, 4, 2, 1), (0, 4, 2, 1)),
    64: ((8, 4, 1, 0), (4, 4, 2, 1), (2, 4, 2, 1), (1, 4, 2, 1), (0, 4, 2, 1)),
    80: ((8, 5, 1, 0), (4, 4, 2, 1), (2, 4, 2, 1), (1, 4, 2, 1), (0, 4, 2, 1)),
}
# Per image size: (channel multiple of ndf, kernel, stride, padding, batch norm) of each conv
# before the final 4x4 stride-1 conv to ndf*16.
DISCRIMINATOR_LAYERS = {
    28: ((2, 4, 2, 1, False), (4, 4, 2, 1, True), (8, 3, 2, 1, True)),
    32: ((2, 4, 2, 1, False), (4, 4, 2, 1, True), (8, 4, 2, 1, True)),
    64: ((2, 4, 2, 1, False), (4, 4, 2, 1, True), (8, 4, 2, 1, True)),
    80: ((2, 4, 2, 1, False), (4, 4, 2, 1, True), (8, 4, 2, 1, True)),
}
FINAL_DISCRIMINATOR_MULTIPLE = 16


def init_dcgan_weights(module: nn.Module) -> None:
    """The authors' GAN `weights_init`: conv N(0, 0.02); batch norm weight N(1, 0.02), bias 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, DCGAN_INIT_STD)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, DCGAN_INIT_STD)
        nn.init.zeros_(module.bias)


def _check_gan_options(image_size: int, channels: int, width: int, width_name: str) -> None:
    if image_size not in GAN_IMAGE_SIZES:
        raise ValueError(f"no DCGAN for {image_size!r} px images; supported sizes are {GAN_IMAGE_SIZES}")
    for name, value in (("channels", channels), (width_name, width)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")


class Generator(nn.Module):
    """Confusing-sample generator G (Sec. 4.1): z [B, nz, 1, 1] -> images [B, nc, S, S] in [0, 1]."""

    def __init__(self, image_size: int = 32, nz: int = 100, ngf: int = 64, nc: int = 3) -> None:
        super().__init__()
        _check_gan_options(image_size, nc, ngf, "ngf")
        if isinstance(nz, bool) or not isinstance(nz, int) or nz < 1:
            raise ValueError(f"nz must be a positive int, got {nz!r}")
        self.image_size = image_size
        self.nz = nz
        self.nc = nc
        layers: list[nn.Module] = []
        channels = nz
        for multiple, kernel, stride, padding in GENERATOR_LAYERS[image_size]:
            out_channels = multiple * ngf if multiple else nc
            layers.append(nn.ConvTranspose2d(channels, out_channels, kernel, stride, padding, bias=False))
            layers += [nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)] if multiple else [nn.Sigmoid()]
            channels = out_channels
        self.main = nn.Sequential(*layers)
        self.apply(init_dcgan_weights)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() == 2:
            z = z[:, :, None, None]
        if z.dim() != 4 or z.shape[1] != self.nz or z.shape[2:] != (1, 1):
            raise ValueError(f"generator expects noise of shape [B, {self.nz}, 1, 1], got {tuple(z.shape)}")
        return self.main(z)

    def sample_noise(self, batch: int, generator: torch.Generator | None = None,
                     device: torch.device | str | None = None) -> torch.Tensor:
        """Standard normal noise [batch, nz, 1, 1] on `device` (default: the generator's own device).

        With a `torch.Generator` the noise is drawn on that generator's device and then moved, so
        a CPU generator gives the same noise whatever device the model is on.
        """
        if device is None:
            device = next(self.parameters()).device
        draw_device = generator.device if generator is not None else device
        noise = torch.randn(batch, self.nz, 1, 1, generator=generator, device=draw_device)
        return noise.to(device)


class Discriminator(nn.Module):
    """Discriminator D (Sec. 4.1, Eq. 15-16): images [B, nc, S, S] -> logit of "real", [B].

    The authors' D ends in a sigmoid and is trained with ``nn.BCELoss``. Here D returns the logit (its
    probability is ``sigmoid(logit)``) and training uses ``binary_cross_entropy_with_logits``: the same loss,
    but its gradient never vanishes, whereas clamping a saturated probability would cut the generator's
    GAN signal to zero exactly when D is confident.
    """

    def __init__(self, image_size: int = 32, nc: int = 3, ndf: int = 64) -> None:
        super().__init__()
        _check_gan_options(image_size, nc, ndf, "ndf")
        self.image_size = image_size
        layers: list[nn.Module] = []
        channels = nc
        for multiple, kernel, stride, padding, batch_norm in DISCRIMINATOR_LAYERS[image_size]:
            layers.append(nn.Conv2d(channels, multiple * ndf, kernel, stride, padding, bias=False))
            if batch_norm:
                layers.append(nn.BatchNorm2d(multiple * ndf))
            layers.append(nn.LeakyReLU(LEAKY_SLOPE, inplace=True))
            channels = multiple * ndf
        final_channels = FINAL_DISCRIMINATOR_MULTIPLE * ndf
        layers += [nn.Conv2d(channels, final_channels, 4, 1, 0, bias=False), nn.Sigmoid()]
        self.main = nn.Sequential(*layers)
        self.classifier = nn.Linear(final_channels, 1)
        self.apply(init_dcgan_weights)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.main(images).mean(dim=(2, 3))
        return self.classifier(x).flatten()


class Generator28(Generator):
    """DCGAN generator for 28 px images (Fashion-MNIST default; 1 channel by default)."""

    def __init__(self, nz: int = 100, ngf: int = 64, nc: int = 1) -> None:
        super().__init__(28, nz, ngf, nc)


class Generator32(Generator):
    """The authors' Generator32 (MNIST, SVHN, CIFAR at 32 px)."""

    def __init__(self, nz: int = 100, ngf: int = 64, nc: int = 3) -> None:
        super().__init__(32, nz, ngf, nc)


class Generator64(Generator):
    """The authors' 64 px Generator (TinyImageNet)."""

    def __init__(self, nz: int = 100, ngf: int = 64, nc: int = 3) -> None:
        super().__init__(64, nz, ngf, nc)


class Discriminator28(Discriminator):
    """DCGAN discriminator for 28 px images (1 channel by default)."""

    def __init__(self, nc: int = 1, ndf: int = 64) -> None:
        super().__init__(28, nc, ndf)


class Discriminator32(Discriminator):
    """The authors' Discriminator32."""

    def __init__(self, nc: int = 3, ndf: int = 64) -> None:
        super().__init__(32, nc, ndf)


class Discriminator64(Discriminator):
    """The authors' 64 px Discriminator (same layers as at 32 px, pooled over a 5x5 map)."""

    def __init__(self, nc: int = 3, ndf: int = 64) -> None:
        super().__init__(64, nc, ndf)


def build_gan(image_size: int, channels: int, nz: int = 100, ngf: int = 64, ndf: int = 64,
              ) -> tuple[Generator, Discriminator]:
    """Generator and discriminator for `image_size` px images with `channels` channels (Sec. 4.1).

    Raises ValueError for sizes other than 28, 32, 64 and 80 px.
    """
    _check_gan_options(image_size, channels, ngf, "ngf")
    return Generator(image_size, nz, ngf, channels), Discriminator(image_size, channels, ndf)

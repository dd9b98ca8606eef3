"""The frozen, validated description of one OOGAN architecture (G + D + Q head).

Everything that changes the variables of the networks lives here; a run directory refuses to resume
with a different `ModelConfig`.
"""

from __future__ import annotations

import dataclasses

IMAGE_SIZES = (32, 64, 128, 256)  # the sizes with a width table below (and data can serve)
CHANNELS = (1, 3)
G_TYPES = ("oogan", "infogan", "mlp", "broadcast", "oogan_broadcast", "stylegan")
Q_TYPES = ("oogan", "infogan", "paper", "stylegan")
STYLEGAN_SIZES = (32, 64, 128)
G_OUTPUTS = ("tanh", "sigmoid")
SPECTRAL_NORM = ("reference", "all", "discriminator")
UPSAMPLE = ("nearest", "bilinear")

# Per image size: G width multipliers m (F4 = ngf*m0 at 4x4, F8 = ngf*m1 at 8x8, then one UpBlock
# per further entry) and D multipliers n (trunk ends at 16x16), from reference-notes 2.1 / 3.1.
G_MULTIPLIERS = {32: (4, 4, 2, 1), 64: (8, 4, 4, 2, 1), 128: (8, 8, 8, 4, 4, 2),
                 256: (16, 8, 8, 8, 4, 4, 2)}
D_MULTIPLIERS = {32: (1, 2, 4, 4), 64: (1, 2, 4, 4, 8), 128: (1, 2, 4, 8, 8, 16),
                 256: (1, 2, 4, 8, 8, 16, 16)}


# StyleGAN widths per resolution, times ngf (G) or ndf (D): 512 up to 32x32, 256 at 64, 128 at
# 128 for a base width of 64 (reference-notes section 12).
STYLEGAN_MULTIPLIERS = {4: 8, 8: 8, 16: 8, 32: 8, 64: 4, 128: 2}


def stylegan_width(base: int, resolution: int) -> int:
  """Channels of the StyleGAN networks at `resolution` (4..128) for base width ngf or ndf."""
  return base * STYLEGAN_MULTIPLIERS[resolution]


def _choice(field: str, value, allowed) -> None:
  if value not in allowed:
    raise ValueError(f"{field}={value!r} is not allowed; choose one of {', '.join(map(str, allowed))}")


# The generators that need noise: g_type -> (smallest z_dim, why).
_MIN_Z_DIM = {"oogan": (2, "the compete-free G gives z floor(z_dim/2) channels"),
              "oogan_broadcast": (1, "the compete-free broadcast G has a z path"),
              "stylegan": (1, "z drives the styles")}


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """Architecture of G, D and Q.

  Attributes:
    image_size: S, square images [S, S, channels]; one of 32, 64, 128, 256.
    channels: 1 (greyscale) or 3 (RGB).
    c_dim: C, number of continuous control codes (>= 1).
    cat_dim: K, categories of an optional categorical code (0 = none, else >= 2; the paper's
      Figure 15, MNIST with K = 10). G takes [c | one_hot(k)] (width C + K) where it takes c,
      and Q gains K logits after its continuous outputs.
    z_dim: Z, noise size (>= 2 for the compete-free G, which uses floor(Z/2) channels; >= 1 for
      oogan_broadcast and stylegan; >= 0 else).
    g_type: "oogan" (compete-free input block), "infogan" (concatenate [c, z]; ablation),
      "mlp" (InfoGAN-CR's input: an MLP with one 128-wide hidden layer on [c, z]; not OOGAN),
      "broadcast" (a spatial broadcast decoder, Watters et al. 2019: [c, z] tiled over the image
      with two coordinate channels, four 3x3 conv layers of width 2 ngf at full resolution; not
      OOGAN; ignores learned_constant and upsample),
      "oogan_broadcast" (the broadcast decoder with OOGAN's compete-free input: the first layer
      split into a c path and a z path whose output c gates per channel; ignores
      learned_constant and upsample) or
      "stylegan" (the StyleGAN-based OOGAN of appendix C.1, progressive to image_size; it needs
      q_type "stylegan", and its networks ignore learned_constant, spectral_norm, upsample,
      g_output and d_batch_norm; oogan_tf.models.stylegan).
    q_type: "oogan" (released code: DownBlock, conv, orthogonal depthwise conv + spatial
      read-out), "infogan" (ablation) or "paper" (Table 3: orthogonal 3x3 conv + pool,
      orthogonal 4x4 depthwise conv + pool, grouped linear read-out).
    probabilistic_q: Q outputs [mu | log_sigma] (2C values) instead of C point estimates.
    learned_constant: add the learned 4x4 constant after the c path's first BN+LReLU (paper);
      False reproduces the released code, which creates it but never uses it.
    spectral_norm: "reference" (D's first 1x1, the real/fake and InfoGAN-Q final 4x4, G's last
      1x1), "all" (the paper: every conv and transposed conv, except the orthogonal layers) or
      "discriminator" (every conv of D as "all", G as "reference": InfoGAN-CR's placement).
    upsample: "nearest" (released code) or "bilinear" (paper text).
    d_batch_norm: BatchNorm in D's DownBlocks (trunk, real/fake head, the OOGAN and InfoGAN Q
      heads), as the released code; False leaves it out, as InfoGAN-CR's D (spectral norm
      instead: pair it with spectral_norm "discriminator" or "all"). G keeps its BatchNorm either way.
    g_output: "tanh" (released code) or "sigmoid" (Table 3). Data stay in [-1, 1], so the
      sigmoid output is 2 sigmoid(x) - 1, the paper's sigmoid on [0, 1] data after the same
      affine map (it equals tanh(x / 2)).
    ngf, ndf: base widths of G and D (64 in every paper preset; smaller for CPU presets).
    style_dim, mapping_layers: StyleGAN's mapping network (width of w, number of layers; 512
      and 8 in the paper). z_dim is the size of its input z (512 in the paper).
    stylegan_block0_collapse: reproduce the released code's bug of a 4x4 valid second conv at
      the 4x4 level, which collapses it to 1x1 (False: 3x3 same).
    stylegan_start_size: the resolution of the first phase (8 as the reference, whose
      --init-size flag is ignored; 8 <= start <= image_size, a power of two).
  """

  image_size: int = 64
  channels: int = 1
  c_dim: int = 6
  cat_dim: int = 0
  z_dim: int = 10
  g_type: str = "oogan"
  q_type: str = "oogan"
  probabilistic_q: bool = True
  learned_constant: bool = True
  spectral_norm: str = "reference"
  upsample: str = "nearest"
  d_batch_norm: bool = True
  g_output: str = "tanh"
  ngf: int = 64
  ndf: int = 64
  style_dim: int = 512
  mapping_layers: int = 8
  stylegan_block0_collapse: bool = False
  stylegan_start_size: int = 8

  def __post_init__(self):
    _choice("image_size", self.image_size, IMAGE_SIZES)
    _choice("channels", self.channels, CHANNELS)
    _choice("g_type", self.g_type, G_TYPES)
    _choice("q_type", self.q_type, Q_TYPES)
    _choice("spectral_norm", self.spectral_norm, SPECTRAL_NORM)
    _choice("upsample", self.upsample, UPSAMPLE)
    _choice("g_output", self.g_output, G_OUTPUTS)
    if self.c_dim < 1:
      raise ValueError(f"c_dim={self.c_dim} is not allowed; it must be >= 1")
    if self.cat_dim < 0 or self.cat_dim == 1:
      raise ValueError(f"cat_dim={self.cat_dim} is not allowed; it must be 0 (no categorical "
                       "code) or >= 2")
    min_z, why = _MIN_Z_DIM.get(self.g_type, (0, ""))
    if self.z_dim < min_z:
      raise ValueError(f"z_dim={self.z_dim} is not allowed with g_type={self.g_type!r}; it must be "
                       f">= {min_z} ({why})")
    for name in ("ngf", "ndf", "style_dim", "mapping_layers"):
      if getattr(self, name) < 1:
        raise ValueError(f"{name}={getattr(self, name)} is not allowed; it must be >= 1")
    if (self.g_type == "stylegan") != (self.q_type == "stylegan"):
      raise ValueError(f"g_type={self.g_type!r} with q_type={self.q_type!r} is not allowed; the "
                       "StyleGAN generator and its Q come together (g_type=stylegan "
                       "q_type=stylegan)")
    if self.g_type == "stylegan":
      _choice("image_size", self.image_size, STYLEGAN_SIZES)
      starts = tuple(r for r in (8, 16, 32, 64, 128) if r <= self.image_size)
      _choice("stylegan_start_size", self.stylegan_start_size, starts)
      width4 = stylegan_width(self.ndf, 4)
      if width4 % self.q_outputs:
        raise ValueError(f"ndf={self.ndf} is not allowed with {self.q_outputs} Q outputs: the "
                         f"StyleGAN Q's grouped conv needs its {width4} input channels (8 ndf) "
                         f"to be a multiple of the Q outputs ({self.q_outputs})")

  @property
  def code_dim(self) -> int:
    """C + K: the width of G's code input [c | one_hot(k)]."""
    return self.c_dim + self.cat_dim

  @property
  def q_outputs(self) -> int:
    """C' = 2C + K for a probabilistic Q ([mu | log_sigma | category logits]), else C + K."""
    return (2 * self.c_dim if self.probabilistic_q else self.c_dim) + self.cat_dim

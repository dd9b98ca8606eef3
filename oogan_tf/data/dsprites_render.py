"""Procedural dSprites: the factor grid and a vectorised renderer of its 737,280 images.

This module owns the dSprites factor grid (names, sizes, values, index ordering) and the shape
geometry of `evaluation-reference.md` section 1.4: a 64x64 binary canvas, pixel (row i, col j) is on
iff its centre (j + 0.5, i + 0.5) lies inside the shape; centre cx = 16 + 32 posX (column),
cy = 16 + 32 posY (row); rotation counter-clockwise as displayed; square side 19.2 s; ellipse
semi-axes 12.8 s x 7.2 s (major axis horizontal); heart = two discs (r 5.2 s at (+-4.6 s, -4.0 s))
each joined by its convex hull to a tip at (0, 8.5 s), y pointing down.

The renders reproduce the factor structure and statistics of the official dataset but are not
bit-identical to it, so scores on them are "dSprites (rendered)".
"""
import numpy as np

CANVAS = 64
FACTOR_NAMES = ("shape", "scale", "orientation", "posX", "posY")
FACTOR_SIZES = (3, 6, 40, 32, 32)
NUM_IMAGES = int(np.prod(FACTOR_SIZES))  # 737,280
# index = 245760 shape + 40960 scale + 1024 orientation + 32 posX + posY (posY varies fastest).
FACTOR_BASES = tuple(int(np.prod(FACTOR_SIZES[i + 1:])) for i in range(len(FACTOR_SIZES)))
SHAPE_NAMES = ("square", "ellipse", "heart")

SCALE_VALUES = np.linspace(0.5, 1.0, 6)
ORIENTATION_VALUES = np.linspace(0.0, 2.0 * np.pi, 40)
POSITION_VALUES = np.linspace(0.0, 1.0, 32)

_SQUARE_HALF_SIDE = 9.6
_ELLIPSE_SEMI_AXES = (12.8, 7.2)
_HEART_LOBE_RADIUS = 5.2
_HEART_LOBE_CENTRES = ((-4.6, -4.0), (4.6, -4.0))
_HEART_TIP = (0.0, 8.5)

# Pixel-centre coordinates of the canvas, shared by every render.
_CENTRES = np.arange(CANVAS, dtype=np.float64) + 0.5


def factors_to_indices(factor_classes):
  """Maps factor class indices int [N, 5] to flat dataset indices int64 [N] (official ordering)."""
  factor_classes = np.asarray(factor_classes, dtype=np.int64)
  return factor_classes @ np.asarray(FACTOR_BASES, dtype=np.int64)


def indices_to_factors(indices):
  """Maps flat dataset indices int [N] in [0, 737280) to factor class indices int64 [N, 5]."""
  indices = np.asarray(indices, dtype=np.int64)
  return np.stack([(indices // base) % size for base, size in zip(FACTOR_BASES, FACTOR_SIZES)],
                  axis=-1)


def _inside_hull_of_disc_and_point(u, v, centre, radius, tip):
  """Whether points (u, v) lie in the convex hull of a disc and a point outside it.

  The hull is the disc plus the cone from the tip tangent to the disc, cut at the chord through the
  tangent points (beyond that chord the hull is the disc itself).
  """
  cu, cv = centre
  tu, tv = tip
  in_disc = (u - cu) ** 2 + (v - cv) ** 2 <= radius ** 2
  axis_u, axis_v = cu - tu, cv - tv
  length = np.hypot(axis_u, axis_v)
  axis_u, axis_v = axis_u / length, axis_v / length
  wu, wv = u - tu, v - tv
  along = wu * axis_u + wv * axis_v
  across = np.abs(wu * axis_v - wv * axis_u)
  tan_half_angle = radius / np.sqrt(length ** 2 - radius ** 2)
  chord = (length ** 2 - radius ** 2) / length
  in_cone = (along >= 0) & (along <= chord) & (across <= along * tan_half_angle)
  return in_disc | in_cone


def _pixel_centres(image_size):
  """Canvas coordinates of the pixels kept at `image_size` (every (64 // S)-th row / column)."""
  if image_size not in (CANVAS, CANVAS // 2):
    raise ValueError(f"dSprites supports image_size 32 or 64, got {image_size}.")
  return _CENTRES[::CANVAS // image_size]


def render_shapes(shapes, scales, angles, cx, cy, image_size=CANVAS):
  """Renders sprites from continuous parameters on the 64x64 canvas.

  Args:
    shapes: int [N], 0 square, 1 ellipse, 2 heart.
    scales: float [N], the scale s (1 = full size).
    angles: float [N], rotation in radians, counter-clockwise as displayed.
    cx, cy: float [N], the centre in pixels (column, row); pixel (i, j) covers [j, j+1) x [i, i+1).
    image_size: 64, or 32 for only the pixels that `resize_binary(., 32)` keeps (bit-identical
      to rendering at 64 and resizing, at a quarter of the cost).

  Returns:
    uint8 [N, S, S] in {0, 1}.
  """
  centres = _pixel_centres(image_size)
  shapes = np.asarray(shapes, dtype=np.int64).reshape(-1)
  n = shapes.shape[0]
  scales = np.broadcast_to(np.asarray(scales, np.float64), (n,))
  # Reducing the angle modulo 2 pi makes orientation 0 and 2 pi produce bit-identical images.
  angles = np.mod(np.broadcast_to(np.asarray(angles, np.float64), (n,)), 2.0 * np.pi)
  cx = np.broadcast_to(np.asarray(cx, np.float64), (n,))
  cy = np.broadcast_to(np.asarray(cy, np.float64), (n,))
  out = np.zeros((n, image_size, image_size), dtype=np.uint8)
  for shape in range(len(SHAPE_NAMES)):
    sel = np.flatnonzero(shapes == shape)
    if sel.size == 0:
      continue
    cos, sin = np.cos(angles[sel])[:, None, None], np.sin(angles[sel])[:, None, None]
    dx = centres[None, None, :] - cx[sel][:, None, None]
    dy = centres[None, :, None] - cy[sel][:, None, None]
    # Shape coordinates, divided by the scale so that each shape is tested at unit size.
    inv_s = (1.0 / scales[sel])[:, None, None]
    u = (cos * dx - sin * dy) * inv_s
    v = (sin * dx + cos * dy) * inv_s
    if shape == 0:
      inside = (np.abs(u) <= _SQUARE_HALF_SIDE) & (np.abs(v) <= _SQUARE_HALF_SIDE)
    elif shape == 1:
      a, b = _ELLIPSE_SEMI_AXES
      inside = (u / a) ** 2 + (v / b) ** 2 <= 1.0
    else:
      inside = np.zeros(u.shape, dtype=bool)
      for lobe in _HEART_LOBE_CENTRES:
        inside |= _inside_hull_of_disc_and_point(u, v, lobe, _HEART_LOBE_RADIUS, _HEART_TIP)
    out[sel] = inside
  return out


def render_dsprites(factor_classes, image_size=CANVAS):
  """Renders dSprites images from factor class indices.

  Args:
    factor_classes: int [N, 5] (shape, scale, orientation, posX, posY) class indices in
      [0, FACTOR_SIZES).
    image_size: 64, or 32 (equal to `resize_binary(render_dsprites(f), 32)`, 4x cheaper).

  Returns:
    uint8 [N, S, S] in {0, 1}; the same indices always give the same pixels.
  """
  f = np.asarray(factor_classes, dtype=np.int64).reshape(-1, len(FACTOR_SIZES))
  if f.size and (np.any(f < 0) or np.any(f >= np.asarray(FACTOR_SIZES))):
    raise ValueError(f"dSprites factor classes must lie in [0, {FACTOR_SIZES}) per column.")
  return render_shapes(
      shapes=f[:, 0],
      scales=SCALE_VALUES[f[:, 1]],
      angles=ORIENTATION_VALUES[f[:, 2]],
      cx=16.0 + 32.0 * POSITION_VALUES[f[:, 3]],
      cy=16.0 + 32.0 * POSITION_VALUES[f[:, 4]],
      image_size=image_size)


def resize_binary(images, image_size):
  """Takes uint8 [N, 64, 64] and returns [N, S, S] for S in {32, 64}.

  S = 32 keeps every second row and column (x[:, ::2, ::2]), which is what the reference's
  nearest-neighbour downsampling by 0.5 does.
  """
  _pixel_centres(image_size)
  return images[:, ::CANVAS // image_size, ::CANVAS // image_size]

"""Image grids and latent traversals (numpy / PIL), shared by training summaries and tools."""

from __future__ import annotations

import numpy as np
from PIL import Image


def to_uint8(images: np.ndarray, value_range: tuple[float, float] = (-1.0, 1.0)) -> np.ndarray:
  """float [..., H, W, C] in value_range -> uint8 in [0, 255]."""
  lo, hi = value_range
  x = (np.asarray(images, np.float32) - lo) / (hi - lo)
  return np.clip(np.round(x * 255.0), 0, 255).astype(np.uint8)


def make_grid(images: np.ndarray, ncols: int, pad: int = 1) -> np.ndarray:
  """Tiles uint8 [N, H, W, C] row-major into uint8 [rows*(H+pad)+pad, ncols*(W+pad)+pad, C]."""
  images = np.asarray(images)
  n, h, w, c = images.shape
  ncols = max(1, min(ncols, n))
  rows = -(-n // ncols)
  grid = np.full((rows * (h + pad) + pad, ncols * (w + pad) + pad, c), 128, images.dtype)
  for i in range(n):
    r, col = divmod(i, ncols)
    top, left = pad + r * (h + pad), pad + col * (w + pad)
    grid[top:top + h, left:left + w] = images[i]
  return grid


def upscale(images: np.ndarray, factor: int) -> np.ndarray:
  """Nearest-neighbour upscaling of [..., H, W, C] images (any dtype) to [..., H*f, W*f, C]."""
  if factor == 1:
    return np.asarray(images)
  return np.repeat(np.repeat(images, factor, axis=-3), factor, axis=-2)


def save_png(grid: np.ndarray, path: str) -> None:
  """Writes a uint8 [H, W, 1 or 3] image as PNG."""
  grid = np.asarray(grid)
  Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid).save(path)


def save_grid_png(images: np.ndarray, ncols: int, path: str,
                  value_range: tuple[float, float] = (0.0, 1.0)) -> None:
  """Tiles float [N, H, W, C] in value_range, ncols per row, into one PNG file."""
  save_png(make_grid(to_uint8(images, value_range), ncols), path)


def labelled_sheet(images: np.ndarray, row_labels: list[str], column_labels: list[str],
                   min_cell: int = 48) -> np.ndarray:
  """One labelled grid: row r, column k shows images[r, k]; labels on the left and on top.

  Args:
    images: uint8 [R, K, H, W, C] (C = 1 or 3).
    row_labels: R strings (e.g. 'c03'); column_labels: K strings (e.g. the swept values).
    min_cell: images are upscaled (nearest) by an integer factor to at least this many pixels.
  Returns: uint8 [H', W', 3] on a white background.
  """
  from PIL import ImageDraw, ImageFont  # pylint: disable=g-import-not-at-top
  images = np.asarray(images)
  r, k, h, w, _ = images.shape
  if len(row_labels) != r or len(column_labels) != k:
    raise ValueError(f"{r} rows x {k} columns need as many labels; got {len(row_labels)} and "
                     f"{len(column_labels)}")
  scale = max(1, -(-min_cell // h))
  cell_h, cell_w, pad = h * scale, w * scale, 2
  font = ImageFont.load_default()
  left = 8 + max(int(font.getlength(s)) for s in row_labels)
  top = 16
  sheet = Image.new("RGB", (left + k * (cell_w + pad) + pad, top + r * (cell_h + pad) + pad),
                    "white")
  draw = ImageDraw.Draw(sheet)
  for j, label in enumerate(column_labels):
    x = left + pad + j * (cell_w + pad) + (cell_w - int(font.getlength(label))) // 2
    draw.text((x, 2), label, fill="black", font=font)
  for i, label in enumerate(row_labels):
    y = top + pad + i * (cell_h + pad)
    draw.text((2, y + cell_h // 2 - 5), label, fill="black", font=font)
    for j in range(k):
      tile = images[i, j]
      tile = np.repeat(tile, 3, axis=-1) if tile.shape[-1] == 1 else tile
      tile = upscale(tile, scale)
      sheet.paste(Image.fromarray(tile), (left + pad + j * (cell_w + pad), y))
  return np.asarray(sheet)

"""Packages whose TensorFlow-dependent names load on first use (PEP 562), so that configs,
flags and --help work without TensorFlow's import (5-7 s on 2 cores)."""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable, Mapping


def module_getattr(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
  """A module-level `__getattr__` for `package`: the first use of `name` imports the submodule
  `package.<names[name]>`, takes `name` from it and keeps it on the package."""

  def __getattr__(name: str) -> Any:  # pylint: disable=invalid-name
    if name not in names:
      raise AttributeError(f"module {package!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{package}.{names[name]}"), name)
    setattr(sys.modules[package], name, value)
    return value

  return __getattr__

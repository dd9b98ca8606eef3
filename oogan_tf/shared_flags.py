"""Flags that several programs define, so that all of them can be imported into one process.

The entry points and tools share names (--seed, --model_dir, --export_dir, --output, ...); absl
refuses a second definition of a name, so each program defines its shared flags through these
helpers, which skip a name that exists already. The tests run every entry point and tool in the
test process (tests/in_process.py) because of that.
"""

from __future__ import annotations

import sys
from typing import Any

from absl import flags

# program module -> {flag name: the default that program asked for}
_DEFAULTS: dict[str, dict[str, Any]] = {}


def calling_module(depth: int) -> str:
  """absl's name of the module `depth` frames above the caller (the main module: sys.argv[0])."""
  name = sys._getframe(depth + 1).f_globals["__name__"]  # pylint: disable=protected-access
  return sys.argv[0] if name == "__main__" else name


def define_if_absent(definer, name: str, *args, flag_values: flags.FlagValues = flags.FLAGS,
                     module: str | None = None) -> None:
  """definer(name, *args) unless flag_values has `name` already: the entry points share names
  (--seed, --model_dir, --export_dir, ...), so they can be imported into one process (the first
  definition's help text is the one shown). The flag is registered under the calling module (not
  this one), so that --help lists it as that program's own flag; `use_defaults_of` gives it the
  default that module asked for."""
  owner = module or calling_module(1)
  if flag_values is flags.FLAGS and args:
    _DEFAULTS.setdefault(owner, {})[name] = args[0]
  if name not in flag_values:
    definer(name, *args, flag_values=flag_values, module_name=owner)


def shared_flag(definer, name: str, *args, module: str | None = None) -> flags.FlagHolder:
  """definer(name, *args) as define_if_absent, returning a FlagHolder of --name either way.

  The tools define their flags with it, or with `string`, `integer`, `floating`, `boolean` and
  `enum` below (absl's DEFINE_* with the same arguments), so that every tool and entry point can
  run in one process (the tests do). A program's own process holds only its definitions; in a
  shared process the first definition is the registered one (see `use_defaults_of`).
  module: the program the flag belongs to (default: the calling module)."""
  define_if_absent(definer, name, *args, module=module or calling_module(1))
  return flags.FlagHolder(flags.FLAGS, flags.FLAGS[name])


def define_locations(helps: dict[str, str], flag_values: flags.FlagValues = flags.FLAGS) -> None:
  """The path flags the entry points share (--model_dir, --checkpoint, --export_dir), each a string
  defaulting to None with the calling program's help text; see define_if_absent."""
  caller = calling_module(1)
  for name, help_text in helps.items():
    define_if_absent(flags.DEFINE_string, name, None, help_text, flag_values=flag_values,
                     module=caller)



def _shared(definer):
  def define(name: str, *args, module: str | None = None) -> flags.FlagHolder:
    return shared_flag(definer, name, *args, module=module or calling_module(1))
  define.__doc__ = f"shared_flag(flags.{definer.__name__}, name, *args)."
  return define


string = _shared(flags.DEFINE_string)
integer = _shared(flags.DEFINE_integer)
floating = _shared(flags.DEFINE_float)
boolean = _shared(flags.DEFINE_bool)
enum = _shared(flags.DEFINE_enum)


def use_defaults_of(module: str) -> None:
  """Gives every flag that `module` defined through these helpers the default `module` asked for.

  In a program's own process that is what each flag has already. In a process holding several
  programs (the tests run them in one) the first definition's default is the one registered, so
  the caller that runs `module`'s main calls this first (and restores the flags after).
  """
  for name, default in _DEFAULTS.get(module, {}).items():
    flags.FLAGS.set_default(name, default)

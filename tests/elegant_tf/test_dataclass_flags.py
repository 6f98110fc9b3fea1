import dataclasses
from typing import Optional

import pytest
from absl import flags

from elegant_tf import dataclass_flags
from pipelines import usage

setting = dataclass_flags.setting


@dataclasses.dataclass(frozen=True)
class Toy(dataclass_flags.FlagSettings):
  name: str = setting("toy", "A plain string.")
  mode: str = setting("a", "A choice.", choices=("a", "b"))
  count: int = setting(3, "At least one.", at_least=1, resumable=True)
  weight: float = setting(0.5, "Not negative.", at_least=0, uses_this="weight_term")
  rate: float = setting(1e-4, "Positive.", positive=True, resumable=True)
  fast: bool = setting(True, "A switch.")
  names: tuple[str, ...] = setting(("x", "y"), "A comma list.")
  folder: Optional[str] = setting("out", "Empty: none.")
  picked: Optional[tuple[str, ...]] = setting(None, "Empty: all.")


def _defined(settings_class=Toy):
  flag_values = flags.FlagValues()
  settings_class.define_flags(flag_values)
  return flag_values


def test_each_field_becomes_the_flag_of_its_type():
  flag_values = _defined()
  assert sorted(flag_values) == sorted(f.name for f in dataclasses.fields(Toy))
  assert isinstance(flag_values["fast"], flags.BooleanFlag)
  assert flag_values["mode"].parser.enum_values == ["a", "b"]
  assert flag_values["names"].default == ["x", "y"] and flag_values["picked"].default is None
  assert flag_values["count"].help == "At least one."
  # The flags belong to the module that asked for them (absl's --help lists that
  # module's flags), not to dataclass_flags.
  assert flag_values.find_module_defining_flag("count") == __name__


def test_parsed_flags_become_the_dataclass_empty_optionals_none():
  flag_values = _defined()
  flag_values(["toy", "--mode=b", "--count=7", "--nofast", "--names=p,q,r", "--folder=",
               "--picked="])
  assert Toy.from_flag_values(flag_values) == Toy(
      mode="b", count=7, fast=False, names=("p", "q", "r"), folder=None, picked=None)


def test_flagfile_round_trip_in_declaration_order(tmp_path):
  toy = Toy(name="two words", count=9, weight=0.0, rate=2e-05, fast=False, names=("z",),
            folder=None, picked=("x",))
  text = toy.to_flagfile(header="# toy")
  assert text == ("# toy\n--name=two words\n--mode=a\n--count=9\n--weight=0.0\n"
                  "--rate=2e-05\n--nofast\n--names=z\n--folder=\n--picked=x\n")
  path = tmp_path / "toy.flags"
  path.write_text(text)
  assert Toy.from_flagfile(str(path)) == toy
  path.write_text(Toy(picked=None).to_flagfile())
  assert Toy.from_flagfile(str(path)).picked is None


def test_a_bad_value_in_a_flagfile_is_a_one_line_usage_error_naming_it(tmp_path):
  path = tmp_path / "toy.flags"
  path.write_text("--mode=c\n")
  with pytest.raises(dataclass_flags.ConfigError) as raised:
    Toy.from_flagfile(str(path))
  assert isinstance(raised.value, usage.UsageError)  # Commands: one line, exit 2.
  assert str(raised.value) == f"{path}: flag --mode=c: value should be one of <a|b>"


def test_value_problems_from_the_declared_choices_and_bounds():
  assert Toy().value_problems() == []
  assert Toy(mode="c", count=0, weight=-1.0, rate=0.0).value_problems() == [
      "--mode='c'; valid: a, b", "--count=0 must be at least 1", "--weight=-1.0 must be >= 0",
      "--rate=0.0 must be positive"]


def test_resumable_fields_and_further_metadata():
  assert Toy.resumable_fields() == {"count", "rate"}
  weight = {f.name: f for f in dataclasses.fields(Toy)}["weight"]
  assert weight.metadata["uses_this"] == "weight_term"


def test_a_field_type_without_a_flag_is_refused():
  @dataclasses.dataclass(frozen=True)
  class Odd(dataclass_flags.FlagSettings):
    table: dict = setting(None, "No flag type for a dict.")

  with pytest.raises(TypeError, match="Odd.table"):
    _defined(Odd)

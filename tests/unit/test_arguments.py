"""The argument rules without a server: definitions (normalized, every
problem named by its place), each type's value checks at their boundaries,
and how values are packed into argv, env and the history record. The
pattern checker and `choices_from` run real processes: see
tests/integration/test_action_arguments.py."""

import pytest

from toru.config import Timings
from toru.errors import Invalid
from toru.tasks.arguments import INT_LIMIT, MASK, Arguments, Problem, definitions, static_value


def one(**d):
    return definitions([dict({"name": "a"}, **d)], scripts=None)[0]


def test_a_definition_is_normalized_with_its_types_keys():
    assert one(type="text") == {"name": "a", "label": "a", "type": "text", "required": False, "default": None,
                                "description": None, "max_length": None, "pattern": None}
    assert one(type="int", min=-1, max=1, default=0, label=" Count ")["label"] == "Count"
    assert one(type="bool", default=True)["default"] is True
    assert one(type="text", default="")["default"] is None        # "" is no default
    assert one(type="choice", choices=[" x ", "y"])["choices"] == ["x", "y"]
    assert one(type="multiline", max_length=None, pattern=None)["max_length"] is None  # null keys of other types are fine


def test_problems_are_keyed_by_index_and_key_all_at_once():
    with pytest.raises(Invalid) as e:
        definitions([{"name": "ok", "type": "bool"}, {"name": "x", "type": "int", "min": 3, "max": 2},
                     {"name": "ok", "type": "password", "default": "p"}, 7, {"name": "t", "type": ["text"]}],
                    scripts=None)
    assert e.value.extra["fields"] == {"arguments.1.max": "must be at least min",
                                       "arguments.2.name": "another argument has this name",
                                       "arguments.2.default": "a password takes no default (it would be stored)",
                                       "arguments.3": "must be an object {name, type, …}",
                                       "arguments.4.type": "must be one of text, int, choice, bool, password, multiline"}


@pytest.mark.parametrize("d, good, bad", [
    ({"type": "text", "max_length": 3}, ["", "abc", "a\tb", "ünï"], [("abcd", "at most 3"), ("a\nb", "single line"),
                                                                       ("a\rb", "single line"), ("a\0", "NUL"),
                                                                       ("\udc80", "valid Unicode"), (3, "a string")]),
    ({"type": "multiline", "max_length": 5}, ["a\nb\r\n", "12345"], [("123456", "at most 5"), ("a\0b", "NUL")]),
    ({"type": "password"}, ["p" * 1024], [("p" * 1025, "at most 1024"), ("a\nb", "single line")]),
    ({"type": "int", "min": -2, "max": 2}, [-2, 0, 2], [(-3, "at least -2"), (3, "at most 2"), (True, "whole"),
                                                         (1.0, "whole"), ("1", "whole"), (None, "whole")]),
    ({"type": "int"}, [INT_LIMIT - 1, -INT_LIMIT + 1], [(INT_LIMIT, "at most"), (-INT_LIMIT, "at least"),
                                                         (10 ** 5000, "at most")]),
    ({"type": "bool"}, [True, False], [("true", "true or false"), (1, "true or false"), (0, "true or false")]),
    ({"type": "choice", "choices": ["a", "b c"]}, ["a", "b c"], [("b", "one of: a, b c"), ("A", "one of"),
                                                                  (["a"], "a string")]),
])
def test_each_type_takes_good_values_and_refuses_bad_ones(d, good, bad):
    checked = one(**d)
    for value in good:
        assert static_value(checked, value) == value
    for value, message in bad:
        with pytest.raises(Problem, match=message):
            static_value(checked, value)


def test_values_are_packed_in_declared_order_and_passwords_kept_out_of_argv_and_record():
    defs = definitions([{"name": "b", "type": "bool"}, {"name": "n", "type": "int"},
                        {"name": "secret_key", "type": "password"}, {"name": "t", "type": "text"},
                        {"name": "p", "type": "password"}], scripts=None)
    packed = Arguments(None, Timings()).pack(defs, {"b": False, "n": -7, "secret_key": "s", "t": None, "p": None})
    assert packed.argv == ["false", "-7", "", "", ""]
    assert packed.env == {"TORU_ARG_B": "false", "TORU_ARG_N": "-7", "TORU_ARG_SECRET_KEY": "s", "TORU_ARG_T": "",
                          "TORU_ARG_P": ""}
    assert packed.record == {"b": False, "n": -7, "secret_key": MASK, "t": None, "p": None}


def test_missing_values_take_defaults_or_are_required():
    args = Arguments(None, Timings())
    defs = definitions([{"name": "r", "type": "text", "required": True}, {"name": "d", "type": "int", "default": 4},
                        {"name": "f", "type": "bool"}, {"name": "o", "type": "text"}], scripts=None)
    with pytest.raises(Invalid) as e:
        args.values(defs, {"d": None, "o": ""})
    assert e.value.extra["fields"] == {"r": "Required"}
    assert args.values(defs, {"r": "x", "d": ""}).argv == ["x", "4", "false", ""]
    with pytest.raises(Invalid, match="must be an object"):
        args.values(defs, ["x"])

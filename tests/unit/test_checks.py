"""The shared first checks of a request body (toru/checks.py)."""

import pytest

from toru.checks import create_or_update, known_fields
from toru.errors import Invalid

FIELDS = ("name", "cron", "enabled")


def test_known_fields_names_the_unknown_and_the_allowed():
    known_fields({"name": "x", "cron": "@daily"}, FIELDS)
    with pytest.raises(Invalid) as e:
        known_fields({"name": "x", "colour": "red"}, FIELDS)
    assert str(e.value) == "Unknown field(s): colour (fields: name, cron, enabled)"


def test_known_fields_echoes_a_bounded_message_for_a_hostile_body():
    body = {f"{i:04d}" + "k" * 10_000: 1 for i in range(1000)}
    with pytest.raises(Invalid) as e:
        known_fields(body, FIELDS)
    message = str(e.value)
    assert message.startswith("Unknown field(s): 0000kkk") and message.count(", ") < 10
    assert ", …" in message and len(message) < 500


def test_create_needs_every_required_field_and_names_them():
    with pytest.raises(Invalid) as e:
        create_or_update({"name": "x"}, FIELDS, ("name", "cron"), creating=True)
    assert str(e.value) == "name and cron are required" and e.value.extra == {"fields": {"cron": "Required"}}
    with pytest.raises(Invalid) as e:
        create_or_update({}, FIELDS, ("name",), creating=True)
    assert str(e.value) == "name is required"
    create_or_update({"name": "x", "cron": "@daily"}, FIELDS, ("name", "cron"), creating=True)


def test_update_needs_something_to_change_but_nothing_required():
    create_or_update({"enabled": False}, FIELDS, ("name", "cron"), creating=False)
    with pytest.raises(Invalid) as e:
        create_or_update({}, FIELDS, ("name", "cron"), creating=False)
    assert str(e.value) == "Nothing to change: send any of name, cron, enabled"
    with pytest.raises(Invalid, match="Unknown field"):
        create_or_update({"colour": 1}, FIELDS, ("name", "cron"), creating=False)

"""Small value checks the services share. Each returns the cleaned value or
raises Invalid with a message that fits under a form field."""

import unicodedata

from toru.errors import Invalid


def label(value, limit):
    """A required one-line name: trimmed, at most `limit` characters, no control characters."""
    if not isinstance(value, str) or not value.strip():
        raise Invalid("Required")
    value = value.strip()
    if len(value) > limit:
        raise Invalid(f"At most {limit} characters")
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise Invalid("No control characters")
    return value


def choice(options):
    """A check that the value is one of `options`."""
    def check(value):
        if value not in options:
            raise Invalid(f"One of {', '.join(options)}")
        return value
    return check


def boolean(value):
    if not isinstance(value, bool):
        raise Invalid("true or false")
    return value


def whole_number(value, low, high):
    """An int from `low` to `high` (not a bool, not a float)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise Invalid(f"A whole number from {low:,} to {high:,}")
    return value


def known_fields(data, fields):
    """Refuse a body with fields the endpoint does not take. The names echoed
    back are bounded: a body can hold any number of any-length keys."""
    unknown = sorted(set(data) - set(fields))
    if unknown:
        shown = ", ".join(name[:64] for name in unknown[:5]) + (", …" if len(unknown) > 5 else "")
        raise Invalid(f"Unknown field(s): {shown} (fields: {', '.join(fields)})")


def create_or_update(data, fields, required, creating):
    """The first checks of a body that creates a record (every `required`
    field present) or updates one (at least one field to change)."""
    known_fields(data, fields)
    if creating:
        missing = {name: "Required" for name in required if name not in data}
        if missing:
            names = ", ".join(required[:-1]) + " and " + required[-1] if len(required) > 1 else required[0]
            raise Invalid(f"{names} {'are' if len(required) > 1 else 'is'} required", fields=missing)
    elif not data:
        raise Invalid(f"Nothing to change: send any of {', '.join(fields)}")

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

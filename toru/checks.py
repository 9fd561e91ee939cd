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

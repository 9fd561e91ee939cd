"""The `.env` file, as the original Toru read with dotenv: `<data-dir>/.env`,
else `./.env`. The real environment always wins over the file.

The format is the common subset, parsed here rather than with a sixth
runtime dependency for twenty lines (docs/configuration.md#env-file):

    # a comment
    KEY=value                    spaces around = and the value are trimmed
    export KEY=value             `export ` is ignored
    KEY="two words\\n"           double quotes: \\n \\t \\" \\\\ escapes
    KEY='literal $text'          single quotes: taken as written
    KEY=value # note             ` #` starts a comment after an unquoted value

Anything else (a line without `=`, a bad name, an unclosed quote) stops the
start with the file name and line number: a typo must not silently drop a
setting such as ADMIN_PASSWORD.
"""

import os
import re
import stat
from pathlib import Path

from toru.errors import ConfigError

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
SECRETS = ("ADMIN_PASSWORD", "TORU_LICENSE_SECRET")


def parse(text, where=".env"):
    """{name: value} from the text of a .env file; ConfigError names a bad line."""
    values = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        name, sep, value = line.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not NAME.fullmatch(name):
            raise ConfigError(f"{where} line {number}: expected NAME=value")
        values[name] = _value(value, f"{where} line {number}")
    return values


def _value(text, where):
    if text[:1] == "'":
        end = text.find("'", 1)
        if end < 0:
            raise ConfigError(f"{where}: the single quote is not closed")
        rest, value = text[end + 1:], text[1:end]
    elif text[:1] == '"':
        out, i = [], 1
        while i < len(text) and text[i] != '"':
            if text[i] == "\\" and i + 1 < len(text):
                i += 1
                out.append(ESCAPES.get(text[i], "\\" + text[i]))
            else:
                out.append(text[i])
            i += 1
        if i >= len(text):
            raise ConfigError(f"{where}: the double quote is not closed")
        rest, value = text[i + 1:], "".join(out)
    else:
        return re.split(r"\s+#", text, maxsplit=1)[0].strip()
    if rest.strip() and not rest.strip().startswith("#"):
        raise ConfigError(f"{where}: text after the closing quote")
    return value


def find(options, environ, cwd):
    """The .env file to read: `<data-dir>/.env` (the data dir from the command
    line or TORU_DATA_DIR), else `./.env`; None when neither exists."""
    data_dir = options.get("data_dir") or environ.get("TORU_DATA_DIR") or cwd
    for candidate in (Path(data_dir).expanduser() / ".env", Path(cwd) / ".env"):
        try:
            if candidate.is_file():
                return candidate
        except OSError as e:  # a directory this user may not look into
            raise ConfigError(f"cannot read {candidate}: {e.strerror}") from None
    return None


def load(options, environ, cwd=None, warn=None):
    """`environ` with the .env file's values under it (the real environment
    wins). When `environ` is `os.environ` the values are added to it, so
    plugins and scripts inherit them as they did with dotenv. `warn(text)`
    hears about a .env that others can read while it holds a secret."""
    path = find(options, environ, cwd or os.getcwd())
    if path is None:
        return environ
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read {path}: {getattr(e, 'strerror', None) or e}") from None
    values = parse(text, str(path))
    held = [name for name in SECRETS if name in values]
    if held and warn and path.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH):
        warn(f"{path} holds {' and '.join(held)} and other users can read it: chmod 600 {path}")
    if environ is os.environ:
        for name, value in values.items():
            os.environ.setdefault(name, value)
        return environ
    return dict(values, **environ)

"""Quick action arguments: what an admin may declare (`definitions`), what a
user may send (`values`), and how the values reach the script — positional
argv in declared order and env `TORU_ARG_<NAME>`, never a shell string.

Two checks cannot run on the hub. A `pattern`: Python's `re` holds the GIL
and cannot be interrupted, so one catastrophic pattern would freeze every
greenlet; patterns are matched in a child process (`PATTERN_CHECKER`), all of
a run's at once, killed after `timings.pattern_timeout`. And `choices_from`:
a script in the scripts directory whose stdout lines are the options, run
with `timings.choices_timeout` and its list reused for
`timings.choices_cache` (see `Choices`).

Errors name their place so a form can show them beside the input: a bad
definition raises Invalid with `fields` keyed `arguments` (the list itself)
or `arguments.<index>.<key>`; bad values raise Invalid with `fields` keyed by
argument name, every bad one at once.
"""

import json
import logging
import re
import sys
import time
import unicodedata
from collections import namedtuple

import gevent.event

from toru.errors import Invalid, NotFound, ToruError, invalid_fields
from toru.processes import exit_text, run_briefly

log = logging.getLogger("toru.tasks")

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
COMMON = ("name", "label", "type", "required", "default", "description")
TYPES = {"text": ("max_length", "pattern"), "int": ("min", "max"), "choice": ("choices", "choices_from"),
         "bool": (), "password": (), "multiline": ("max_length",)}
TYPE_KEYS = {key for keys in TYPES.values() for key in keys}
MAX_ARGUMENTS = 32
MAX_LENGTH = {"text": 4096, "multiline": 65536, "password": 1024}  # caps when max_length is not set
INT_LIMIT = 10 ** 18          # |int| below this: a value fits every script's arithmetic
MAX_PATTERN = 500
MAX_CHOICES, MAX_CHOICE = 1000, 200
CHOICES_CAP = 256 * 1024      # bytes of a choices_from script's stdout
LIMITS = {"label": 100, "description": 500}
INVALID = "Invalid arguments"
MASK = "••••"                 # a password's value wherever a run is shown or recorded
# Runs in a child with -I -S (no site, no PYTHON* env): only `re`, values
# through the environment (argv would show them in `ps`).
PATTERN_CHECKER = ("import json, os, re\n"
                   "n = int(os.environ['TORU_CHECKS'])\n"
                   "print(json.dumps([re.fullmatch(os.environ[f'TORU_PATTERN_{i}'], os.environ[f'TORU_VALUE_{i}'])"
                   " is not None for i in range(n)]))\n")

# What a run gets: `argv` after the script's own, `env` added to its
# environment, `record` for history and the audit log (passwords masked).
Values = namedtuple("Values", "argv env record")
NO_VALUES = Values([], {}, {})


class Problem(Exception):
    """One bad value or key; collected, then raised together as Invalid."""


def env_name(name):
    return f"TORU_ARG_{name.upper()}"


def problem(what, text):
    """A Problem about `what` ("pattern", "each choice"), or about the value
    itself when `what` is empty: "Must be a whole number"."""
    return Problem(f"{what} {text}" if what else text[0].upper() + text[1:])


def plain_text(value, what, limit, multiline=False):
    """A string that can go into argv and env: no NUL, no lone surrogate
    (it cannot be encoded), no newline unless `multiline`."""
    if not isinstance(value, str):
        raise problem(what, "must be a string")
    if "\0" in value:
        raise problem(what, "must not contain NUL characters")
    if any("\ud800" <= c <= "\udfff" for c in value):
        raise problem(what, "must be valid Unicode text")
    if not multiline and ("\n" in value or "\r" in value):
        raise problem(what, "must be a single line")
    if len(value) > limit:
        raise problem(what, f"must be at most {limit} characters")
    return value


def label_text(value, what, limit):
    value = plain_text(value, what, limit).strip()
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise problem(what, "must not contain control characters")
    return value or None


def integer(value, what, low=-INT_LIMIT + 1, high=INT_LIMIT - 1):
    if isinstance(value, bool) or not isinstance(value, int):
        raise problem(what, "must be a whole number")
    if value < low:
        raise problem(what, f"must be at least {low}")
    if value > high:
        raise problem(what, f"must be at most {high}")
    return value


# --- definitions -------------------------------------------------------------------------

def definition(raw, scripts):
    """One argument's definition, normalized: the common keys and its type's
    keys (None when unset). Problems come back as {key: message}."""
    if not isinstance(raw, dict):
        return None, {"": "must be an object {name, type, …}"}
    problems, d = {}, {}

    def take(key, check):
        try:
            d[key] = check(raw.get(key))
        except Problem as e:
            problems[key] = str(e)

    take("name", lambda v: v if isinstance(v, str) and NAME_RE.match(v) else bad(
        "must be 1-32 characters: a lowercase letter, then lowercase letters, digits or _"))
    take("type", lambda v: v if isinstance(v, str) and v in TYPES else bad(f"must be one of {', '.join(TYPES)}"))
    take("label", lambda v: None if v is None else label_text(v, "label", LIMITS["label"]))
    take("required", lambda v: False if v is None else v if isinstance(v, bool) else bad("must be true or false"))
    take("description", lambda v: None if v is None else label_text(v, "description", LIMITS["description"]))
    kind = d.get("type")
    for key in sorted(set(raw) - set(COMMON)):
        if key not in TYPE_KEYS:
            problems[key] = "unknown key"
        elif raw[key] is not None and key not in TYPES.get(kind, TYPE_KEYS):
            problems[key] = f"does not apply to {kind} arguments"
    if kind is None:
        return None, problems
    for key in TYPES[kind]:
        take(key, lambda v, key=key: type_key(kind, key, v, scripts))
    if kind == "int" and None not in (d.get("min"), d.get("max")) and d["min"] > d["max"]:
        problems["max"] = "must be at least min"
    if kind == "choice" and "choices" in d and "choices_from" in d and \
            (d["choices"] is None) == (d["choices_from"] is None):
        problems["choices"] = "give either choices (a list) or choices_from (a script), not both"
    d["label"] = d.get("label") or d.get("name")
    default = raw.get("default")
    if default == "":
        default = None
    if default is not None and not problems:
        if kind == "password":
            problems["default"] = "a password takes no default (it would be stored)"
        else:
            try:
                default = static_value(d, default)
            except Problem as e:
                problems["default"] = str(e)
    d["default"] = default
    return {key: d.get(key) for key in COMMON + TYPES[kind]}, problems


def bad(message):
    raise Problem(message)


def type_key(kind, key, value, scripts):
    if value is None:
        return None
    if key == "max_length":
        return integer(value, "max_length", 1, MAX_LENGTH[kind])
    if key in ("min", "max"):
        return integer(value, key)
    if key == "pattern":
        plain_text(value, "pattern", MAX_PATTERN)
        try:
            re.compile(value)
        except re.error as e:
            raise Problem(f"is not a valid regular expression: {e}") from None
        return value
    if key == "choices":
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_CHOICES:
            raise Problem(f"must be a list of 1 to {MAX_CHOICES} strings")
        choices = [label_text(c, "each choice", MAX_CHOICE) for c in value]
        if None in choices:
            raise Problem("choices must not be empty")
        if len(set(choices)) != len(choices):
            raise Problem("choices must not repeat")
        return choices
    try:  # choices_from: a script that exists now; it runs when the list is asked for
        scripts.resolve(value)
    except (Invalid, NotFound) as e:
        raise Problem(e.message) from None
    return value


def definitions(raw, scripts):
    """The `arguments` of a quick action, checked: Invalid with `fields`
    naming every problem (`arguments.<index>.<key>`), else the list."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise invalid_fields({"arguments": "must be a list of argument definitions"}, INVALID)
    if len(raw) > MAX_ARGUMENTS:
        raise invalid_fields({"arguments": f"at most {MAX_ARGUMENTS} arguments"}, INVALID)
    checked, fields, names = [], {}, set()
    for index, item in enumerate(raw):
        d, problems = definition(item, scripts)
        if d and d["name"] in names:
            problems["name"] = "another argument has this name"
        if d:
            names.add(d["name"])
            checked.append(d)
        fields.update({f"arguments.{index}.{key}" if key else f"arguments.{index}": message
                       for key, message in problems.items()})
    if fields:
        raise invalid_fields(fields, INVALID)
    return checked


# --- values ------------------------------------------------------------------------------

def static_value(d, value, what=""):
    """`value` checked against everything of `d` that needs no child process
    (a pattern and a choices_from list are checked later, for all at once)."""
    kind = d["type"]
    if kind == "bool":
        if not isinstance(value, bool):
            raise problem(what, "must be true or false")
        return value
    if kind == "int":
        low = d["min"] if d["min"] is not None else -INT_LIMIT + 1
        high = d["max"] if d["max"] is not None else INT_LIMIT - 1
        return integer(value, what, low, high)
    limit = d.get("max_length") or MAX_LENGTH.get(kind, MAX_CHOICE)
    value = plain_text(value, what, limit, multiline=kind == "multiline")
    if kind == "choice" and d["choices"] is not None and value not in d["choices"]:
        raise problem(what, f"must be one of: {', '.join(d['choices'][:20])}")
    return value


def as_text(d, value):
    """How a value is written into argv and env."""
    if value is None:
        return ""
    if d["type"] == "bool":
        return "true" if value else "false"
    return str(value)


class Arguments:
    """Checks values against definitions; owns the pattern checker and the
    `choices_from` lists."""

    def __init__(self, scripts, timings):
        self.scripts = scripts
        self.pattern_timeout = timings.pattern_timeout
        self.choices = Choices(scripts, timings)

    def definitions(self, raw):
        checked = definitions(raw, self.scripts)
        defaults = [(f"arguments.{i}.default", d["pattern"], d["default"]) for i, d in enumerate(checked)
                    if d["type"] == "text" and d["pattern"] and d["default"] is not None]
        fields = self.match_patterns(defaults)
        if fields:
            raise invalid_fields(fields, INVALID)
        return checked

    def values(self, definitions, raw):
        """Values for a run: Invalid with `fields` {name: message} listing
        every bad one, else Values(argv, env, record). An absent, null or ""
        value takes the default; with none it is refused when required, else
        passed as "" (a bool as "false")."""
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise Invalid("arguments must be an object {name: value}")
        known = {d["name"]: d for d in definitions}
        fields = {str(k)[:64]: "Unknown argument" for k in raw if k not in known}
        values = {}
        for d in definitions:
            value = raw.get(d["name"])
            if value is None or (value == "" and d["type"] != "bool"):
                value = d["default"]
            if value is None:
                if d["required"]:
                    fields[d["name"]] = "Required"
                values[d["name"]] = False if d["type"] == "bool" else None
                continue
            try:
                values[d["name"]] = static_value(d, value)
            except Problem as e:
                fields[d["name"]] = str(e)
        for d in definitions:  # dynamic lists: only for values that passed so far
            value = values.get(d["name"])
            if d["type"] == "choice" and d["choices_from"] and value is not None and d["name"] not in fields:
                options = self.choices.get(d["choices_from"])
                if value not in options:
                    fields[d["name"]] = "Must be one of the current choices (the list may have changed: reload it)"
        fields.update(self.match_patterns([
            (d["name"], d["pattern"], values[d["name"]]) for d in definitions
            if d["type"] == "text" and d["pattern"] and values.get(d["name"]) is not None
            and d["name"] not in fields]))
        if fields:
            raise invalid_fields(fields, INVALID)
        return self.pack(definitions, values)

    def pack(self, definitions, values):
        argv, env, record = [], {}, {}
        for d in definitions:
            value = values[d["name"]]
            text = as_text(d, value)
            env[env_name(d["name"])] = text
            if d["type"] == "password":
                # Never in argv: any local user reads a command line in `ps`
                # (/proc/PID/cmdline); the environment only the same user.
                argv.append("")
                record[d["name"]] = MASK if value else None
            else:
                argv.append(text)
                record[d["name"]] = value
        return Values(argv, env, record)

    def match_patterns(self, checks):
        """{key: message} for the (key, pattern, value) that do not fully
        match; all in one child process, bounded by pattern_timeout."""
        if not checks:
            return {}
        env = {"TORU_CHECKS": str(len(checks))}
        for i, (_, pattern, value) in enumerate(checks):
            env[f"TORU_PATTERN_{i}"], env[f"TORU_VALUE_{i}"] = pattern, value
        try:
            code, out, err = run_briefly([sys.executable, "-I", "-S", "-X", "utf8", "-c", PATTERN_CHECKER], cwd="/", env=env,
                                         timeout=self.pattern_timeout, cap=64 * 1024)
        except TimeoutError:
            log.warning("a pattern check took too long", extra={"patterns": [p for _, p, _ in checks]})
            slow = (f"Could not be checked within {self.pattern_timeout:g} s: the pattern is too slow "
                    "for this value; ask an admin to simplify it")
            return {key: slow for key, _, _ in checks}
        except (OSError, OverflowError) as e:
            raise ToruError(f"Cannot check patterns: {e}") from None
        if code != 0:
            log.error("the pattern checker failed", extra={"exit": exit_text(code), "stderr": err[-500:].decode(
                "utf-8", "replace")})
            raise ToruError(f"Cannot check patterns: the checker ended with {exit_text(code)}")
        matched = json.loads(out)
        return {key: f"Must match the pattern {pattern}" for (key, pattern, _), ok in zip(checks, matched)
                if not ok}


class Choices:
    """The options a `choices_from` script prints, one per line. Cached per
    script for `timings.choices_cache` (every user gets the same list: the
    script runs without TORU_USER); one run at a time per script, others
    wait for its answer. Failures raise 502 (it failed) or 504 (too slow)."""

    def __init__(self, scripts, timings, clock=time.monotonic):
        self.scripts = scripts
        self.timeout = timings.choices_timeout
        self.ttl = timings.choices_cache
        self.clock = clock
        self.cache = {}    # script name → (expires at, [options])
        self.pending = {}  # script name → AsyncResult of the run under way

    def get(self, script, refresh=False):
        hit = self.cache.get(script)
        if hit and not refresh and hit[0] > self.clock():
            return hit[1]
        pending = self.pending.get(script)
        if pending is not None:
            return pending.get()
        pending = self.pending[script] = gevent.event.AsyncResult()
        try:
            options = self.run(script)
        except ToruError as e:
            pending.set_exception(e)
            raise
        else:
            self.cache[script] = (self.clock() + self.ttl, options)
            pending.set(options)
            return options
        finally:
            if not pending.ready():  # killed while running: waiters must not hang
                pending.set_exception(ToruError(f"Listing the choices of {script} was interrupted"))
            del self.pending[script]

    def run(self, script):
        fix = "fix the script, or change the action's choices_from"
        try:
            argv, path = self.scripts.command(script)
        except (Invalid, NotFound) as e:
            raise ToruError(f"The choices script cannot run: {e.message}; {fix}", status=502) from None
        try:
            code, out, err = run_briefly(argv, cwd=path.parent, timeout=self.timeout, cap=CHOICES_CAP)
        except TimeoutError:
            raise ToruError(f"The choices script {script} did not finish within {self.timeout:g} s; "
                            f"make it faster, or {fix}", status=504) from None
        except (OSError, OverflowError) as e:
            raise ToruError(f"The choices script {script} cannot run: {getattr(e, 'strerror', None) or e}; "
                            f"{fix}", status=502) from None
        if code != 0:
            first = next((line for line in err.decode("utf-8", "replace").splitlines() if line.strip()), "")
            log.warning("a choices script failed", extra={"script": script, "exit": exit_text(code),
                                                           "stderr": first[:200]})
            raise ToruError(f"The choices script {script} failed ({exit_text(code)}); {fix}", status=502)
        options = list(dict.fromkeys(line.strip() for line in out.decode("utf-8", "replace").splitlines()
                                     if line.strip() and len(line.strip()) <= MAX_CHOICE
                                     and "\0" not in line))
        if len(options) > MAX_CHOICES:
            raise ToruError(f"The choices script {script} printed more than {MAX_CHOICES} options; {fix}",
                            status=502)
        return options

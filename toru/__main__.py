"""Entry point of `toru.pyz`, `python3 toru.py` and `python -m toru`.

Checks the interpreter first (a pyz carries compiled wheels for the Pythons
it was built for), keeps a pyz to its own libraries, then patches the
standard library for gevent before anything else is imported.
"""

import sys


def main():
    from toru import platform_check
    problem = platform_check.problem()
    if problem:
        print(f"toru: {problem}", file=sys.stderr)
        return 2
    platform_check.hide_host_packages()
    missing = missing_dependencies()
    if missing:
        # Only a checkout's toru.py can get here: a pyz carries its libraries.
        print(f"toru: {', '.join(missing)} not installed for {sys.executable}: run ./build.sh run "
              "(builds and starts dist/toru.pyz), or run toru.py with a venv's python that has "
              "requirements.txt installed", file=sys.stderr)
        return 2
    patch_for_gevent()
    from toru import cli
    return cli.main()


def patch_for_gevent():
    """`monkey.patch_all()`, with gevent's plugins looked up once.

    patch_all announces 25 events, and for each one gevent asks
    `importlib.metadata.entry_points(group=...)` for that event's plugins:
    every call reads every installed distribution's entry_points.txt again
    (~10-15 ms of a 0.25 s start with the pyz's 15 distributions). Nothing
    is installed while patch_all runs, so one reading of all groups answers
    the 25 questions the same way.
    """
    from importlib import metadata
    from gevent import monkey
    every_group = metadata.entry_points()
    lookup = metadata.entry_points
    metadata.entry_points = lambda **params: every_group.select(**params)
    try:
        monkey.patch_all()
    finally:
        metadata.entry_points = lookup


def missing_dependencies():
    from importlib.util import find_spec
    return [name for name in RUNTIME if find_spec(name) is None]


# The runtime dependencies by import name (requirements.txt pins them).
RUNTIME = ("bottle", "gevent", "geventwebsocket", "argon2", "psutil")


if __name__ == "__main__":
    sys.exit(main())

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
    from gevent import monkey
    monkey.patch_all()
    from toru import cli
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())

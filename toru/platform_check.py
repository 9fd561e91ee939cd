"""Refuse, with a clear message, an interpreter this copy cannot run on.

A pyz carries compiled wheels (gevent, greenlet, psutil, argon2) for the
Pythons and CPU architectures it was built for; `build.sh` records them in
`toru/_build.json`. A checkout has no such file and needs only Python 3.10+.
Kept free of newer syntax and of compiled imports so that it can speak on
any interpreter.
"""

import json
import os
import platform
import sys

MIN_PYTHON = (3, 10)
BUILD_INFO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_build.json")


def build_info():
    try:
        with open(BUILD_INFO, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def hide_host_packages():
    """In a pyz, drop the interpreter's own site-packages from sys.path.

    Everything Toru imports is inside the pyz. The host's packages would only
    slow start-up (gevent's patch_all scans every installed distribution for
    plugins, 25 times: ~0.2 s with a hundred packages) and let a package
    installed on the server plug its code into Toru's gevent.
    """
    if build_info() is None:
        return
    import site
    host = set(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        host.add(site.getusersitepackages())
    host = {os.path.realpath(p) for p in host}
    sys.path[:] = [p for p in sys.path if os.path.realpath(p or ".") not in host]


def problem():
    """None when this interpreter is fine, else a one-line explanation."""
    running = "%d.%d" % sys.version_info[:2]
    machine = platform.machine()
    if sys.version_info[:2] < MIN_PYTHON:
        return "Python %s is too old: Toru needs CPython %d.%d or newer" % ((running,) + MIN_PYTHON)
    if platform.python_implementation() != "CPython":
        return "Toru needs CPython, not %s" % platform.python_implementation()
    info = build_info()
    if info is None:
        return None
    if running not in info["pythons"] or machine not in info["machines"]:
        return ("this toru.pyz was built for CPython %s on %s, but this is Python %s on %s; "
                "build one with ./build.sh --universal (3.10-3.13, x86_64 and aarch64) or on this machine"
                % ("/".join(info["pythons"]), "/".join(info["machines"]), running, machine))
    return None

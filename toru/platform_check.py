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


# What `./build.sh --universal` targets (its UNIVERSAL_PYTHONS and
# UNIVERSAL_MACHINES; a unit test keeps the two in step).
UNIVERSAL_PYTHONS = ("3.10", "3.11", "3.12", "3.13", "3.14")
UNIVERSAL_MACHINES = ("x86_64", "aarch64")


def problem():
    """None when this interpreter is fine, else a one-line explanation."""
    import importlib.machinery
    return problem_for(sys.version_info[:2], platform.machine(), platform.python_implementation(),
                       getattr(sys, "abiflags", ""), importlib.machinery.EXTENSION_SUFFIXES, build_info())


def problem_for(version, machine, implementation, abiflags, extension_suffixes, info):
    """problem() with every fact passed in (so that tests can vary them)."""
    running = "%d.%d" % tuple(version)
    if tuple(version) < MIN_PYTHON:
        return "Python %s is too old: Toru needs CPython %d.%d or newer" % ((running,) + MIN_PYTHON)
    if implementation != "CPython":
        return "Toru needs CPython, not %s" % implementation
    if info is None:
        return None
    pythons = "%s-%s" % (UNIVERSAL_PYTHONS[0], UNIVERSAL_PYTHONS[-1])
    machines = " and ".join(UNIVERSAL_MACHINES)
    if running not in info["pythons"] or machine not in info["machines"]:
        if running in UNIVERSAL_PYTHONS and machine in UNIVERSAL_MACHINES:
            hint = "build one with ./build.sh --universal (%s, %s) or on this machine" % (pythons, machines)
        else:
            hint = ("./build.sh --universal covers CPython %s on %s only; build one on this machine"
                    % (pythons, machines))
        return ("this toru.pyz was built for CPython %s on %s, but this is Python %s on %s; %s"
                % ("/".join(info["pythons"]), "/".join(info["machines"]), running, machine, hint))
    # Same version and CPU, but an interpreter whose compiled modules have
    # another ABI: the pyz's would not load (an ImportError deep in gevent).
    if "t" in abiflags:
        return ("this is the free-threaded build of Python %s (python%st); the libraries in toru.pyz "
                "need the standard build: run it with python%s" % (running, running, running))
    if any("linux-musl" in suffix for suffix in extension_suffixes):
        return ("this Python %s uses musl libc (Alpine?); toru.pyz carries glibc (manylinux) libraries: "
                "run it on a glibc distribution" % running)
    return None

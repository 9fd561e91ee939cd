# -*- coding: utf-8 -*-
"""The pyz's first code (build.sh puts it in place of shiv's __main__.py).

shiv unpacks the libraries into ~/.shiv on the first start. A service user
whose HOME is missing or not writable would die there with a raw
PermissionError, so such a start unpacks into /tmp/toru-<uid>/shiv instead
(a private directory, refused if someone else owns it). SHIV_ROOT, when
set, always wins.

It also does the unpacking itself, before shiv's bootstrap would, and
unpacks only what this interpreter can load: a universal pyz carries
compiled modules and bytecode for ten (Python, CPU) targets, and writing
all of them out took most of a first start. The copy records each target
it holds (a `.unpacked-<tag>` file beside site-packages), so another Python
started later on the same SHIV_ROOT adds its own files to it.
"""

import importlib.machinery
import os
import sys
import tempfile


def writable(path):
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return False
    return os.access(path, os.W_OK | os.X_OK)


def private_dir(path):
    """`path` (and its parent) made 0700 and ours, or None."""
    try:
        for directory in (os.path.dirname(path), path):
            os.makedirs(directory, mode=0o700, exist_ok=True)
            st = os.lstat(directory)
            if st.st_uid != os.getuid() or os.path.islink(directory):
                return None
            os.chmod(directory, 0o700)
    except OSError:
        return None
    return path


def unpack_root():
    if os.environ.get("SHIV_ROOT") or writable(os.path.expanduser("~/.shiv")):
        return None
    fallback = os.path.join(tempfile.gettempdir(), f"toru-{os.getuid()}", "shiv")
    if private_dir(fallback) is None:
        sys.exit(f"toru: cannot unpack its libraries: {os.path.expanduser('~/.shiv')} is not writable and "
                 f"{fallback} is not a private directory of this user; set SHIV_ROOT to a writable directory")
    return fallback


# This interpreter's compiled modules (foo.cpython-311-x86_64-linux-gnu.so)
# and bytecode (__pycache__/foo.cpython-311.pyc).
EXTENSION_TAG = importlib.machinery.EXTENSION_SUFFIXES[0]
BYTECODE_TAG = ".%s." % sys.implementation.cache_tag


def for_this_python(name):
    """Whether the pyz entry `name` is any use to this interpreter: not
    another target's compiled module or bytecode (untagged and abi3 files are
    everyone's)."""
    base = name.rpartition("/")[2]
    if is_tagged(base):
        return base.endswith(EXTENSION_TAG) or BYTECODE_TAG in base
    return True


def is_tagged(base):
    """A file made for one target: a version-tagged compiled module or bytecode."""
    return base.endswith(".pyc") or (base.endswith(".so") and ".cpython-" in base)


def extract(archive, names, directory, in_place=False):
    """Write the entries `names` under `directory`. `in_place` (a copy that
    other processes may be running from) writes each file aside first and
    renames it over the old one, so nobody reads half a file."""
    made = set()
    for info in archive.infolist():
        if info.filename in names:
            path = os.path.join(directory, info.filename)
            parent = os.path.dirname(path)
            if parent not in made:
                os.makedirs(parent, exist_ok=True)
                made.add(parent)
            written = path + ".partial" if in_place else path
            with open(written, "wb") as out:
                out.write(archive.read(info))
            os.chmod(written, (info.external_attr >> 16) & 0o777 or 0o644)
            if in_place:
                os.replace(written, path)


def unpack(bootstrap):
    """Unpack this interpreter's share of site-packages where shiv's
    bootstrap looks for it (shiv then only puts it on sys.path)."""
    from _bootstrap.environment import Environment
    from _bootstrap.filelock import FileLock
    with bootstrap.current_zipfile() as archive:
        env = Environment.from_json(archive.read("environment.json").decode())
        if env.force_extract:
            return  # SHIV_FORCE_EXTRACT: shiv unpacks everything again, as asked
        target = bootstrap.cache_path(archive, env.root, env.build_id)
        done = os.path.join(str(target), ".unpacked-" + EXTENSION_TAG.strip(".").rpartition(".")[0])
        if os.path.exists(done):
            return
        if target.exists() and not os.access(str(target), os.W_OK):
            return  # someone else's copy (unpacked by shiv itself, say): run from it as it is
        os.makedirs(str(target.parent), exist_ok=True)
        with FileLock(str(target.parent / (".%s_lock" % target.name))):
            if os.path.exists(done):
                return  # another start unpacked it while this one waited
            names = {n for n in archive.namelist() if n.startswith("site-packages/") and for_this_python(n)}
            if target.exists():
                # Another target's copy: the shared files are there, add this one's own.
                extract(archive, {n for n in names if is_tagged(n.rpartition("/")[2])}, str(target), in_place=True)
            else:
                # Unpacked aside and renamed into place, as shiv does: a copy is whole or absent.
                partial = "%s.partial-%d" % (target, os.getpid())
                extract(archive, names, partial)
                os.rename(partial, str(target))
            open(done, "w").close()


root = unpack_root()
if root:
    os.environ["SHIV_ROOT"] = root

import _bootstrap  # noqa: E402  (shiv's, beside this file in the pyz)

unpack(_bootstrap)
_bootstrap.bootstrap()

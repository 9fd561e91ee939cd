# -*- coding: utf-8 -*-
"""The pyz's first code (build.sh puts it in place of shiv's __main__.py).

shiv unpacks the libraries into ~/.shiv on the first start. A service user
whose HOME is missing or not writable would die there with a raw
PermissionError, so such a start unpacks into /tmp/toru-<uid>/shiv instead
(a private directory, refused if someone else owns it). SHIV_ROOT, when
set, always wins.
"""

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


root = unpack_root()
if root:
    os.environ["SHIV_ROOT"] = root

import _bootstrap  # noqa: E402  (shiv's, beside this file in the pyz)

_bootstrap.bootstrap()

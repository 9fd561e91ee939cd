#!/usr/bin/env python3
"""Run Toru from a checkout: `python3 toru.py ...` is `python3 toru.pyz ...`."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# The pyz carries the plugin SDK (toru_plugin) beside toru; a checkout keeps it in sdk_py/.
sys.path[0:0] = [HERE, os.path.join(HERE, "sdk_py")]

from toru.__main__ import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Run Toru from a checkout: `python3 toru.py ...` is `python3 toru.pyz ...`."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from toru.__main__ import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())

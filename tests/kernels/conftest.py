"""Make the shared case generators in ``_cases.py`` importable from the kernel tests."""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

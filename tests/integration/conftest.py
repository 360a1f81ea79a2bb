"""Integration tests: real `filegate serve` processes driven over HTTP.

The shared fixtures (`server`, `server_factory`, `http`) live in tests/conftest.py;
helpers shared by these modules live in `support.py` next to this file.
"""

from __future__ import annotations

import sys
from pathlib import Path

# --import-mode=importlib keeps test directories off sys.path; the helper module
# is imported by name, so put its folder there once.
_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

"""Contract suites: one abstract suite per Protocol, one tiny subclass per backend.

The emulator fixtures come from tests/emulators.py (shared with the gateway tests).
"""

from __future__ import annotations

import sys
from pathlib import Path

# --import-mode=importlib keeps test folders off sys.path; the suites next to
# this file are imported by name.
_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from tests.emulators import azure_emulator, gcs_emulator, s3_emulator  # noqa: E402

__all__ = ["azure_emulator", "gcs_emulator", "s3_emulator"]

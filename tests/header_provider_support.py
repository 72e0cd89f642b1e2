"""The example third-party provider (examples/keystead-header-provider) installed with pip
the way an operator installs one, for tests/test_example_provider.py and
tests/test_trust_header_provider.py.

pip installs it into a folder of its own that the `installed` fixture puts on sys.path (and
takes off again at the end of the module): the test process sees it exactly as it would
in site-packages (importlib.metadata finds its entry point there), while the shared .venv,
and any other test run using it at the same time, never does.

    from header_provider_support import installed  # noqa: F401  (the pytest fixture)
"""
from __future__ import annotations

import importlib
import os
import secrets
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "keystead-header-provider")
SECRET_HEADER = "X-Keystead-Proxy-Secret"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """pip-install the example (from a copy, so the build leaves nothing in the tree)."""
    source = tmp_path_factory.mktemp("src") / "keystead-header-provider"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = str(tmp_path_factory.mktemp("site-packages"))
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                             "--no-build-isolation", "--target", target, str(source)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, target)
    importlib.invalidate_caches()  # importlib.metadata's directory cache, which pluggy reads
    yield target
    sys.path.remove(target)
    sys.modules.pop("keystead_header_provider", None)
    importlib.invalidate_caches()


def new_secret() -> str:
    return secrets.token_urlsafe(32)

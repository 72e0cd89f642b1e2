"""What a release carries besides the code: its version (`keystead --version`), the license,
the changelog and the security contact. The built wheel itself: tests/test_wheel.py."""
from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

from click.testing import CliRunner

import keystead
from keystead.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_keystead_version_prints_the_installed_distributions_version():
    """Issue 13 item 16: `keystead --version` answers without an instance folder and names
    the version pip installed (one source: keystead.__version__, read by pyproject.toml)."""
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"keystead {keystead.__version__}"
    assert importlib.metadata.version("keystead") == keystead.__version__ == "0.2.0"


def test_the_license_is_mit_in_pyproject_and_in_the_license_file():
    """Issue 13 item 16: `license = "MIT"` (the SPDX form setuptools does not warn about) and
    a LICENSE file with the MIT text."""
    with open(ROOT / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    assert project["license"] == "MIT"
    assert "LICENSE" in project["license-files"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "WITHOUT WARRANTY OF ANY KIND" in text
    assert importlib.metadata.metadata("keystead")["License-Expression"] == "MIT"


def test_the_changelog_has_this_release_and_the_first_in_keep_a_changelog_form():
    """Issue 13 item 16: CHANGELOG.md, newest first, a section per release from 0.1.0 to the
    version `keystead --version` prints, with Keep a Changelog's kinds of change."""
    text = (ROOT / "CHANGELOG.md").read_text()
    assert "Keep a Changelog" in text
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\]", text, re.M)
    assert releases[0] == keystead.__version__ and releases[-1] == "0.1.0"
    this_release = text.split(f"## [{keystead.__version__}]", 1)[1].split("\n## [", 1)[0]
    for kind in ("### Security", "### Added", "### Changed"):
        assert kind in this_release
    # One line per finding of the 0.1.0 review that SECURITY.md lists.
    security = this_release.split("### Security", 1)[1].split("\n### ", 1)[0]
    assert {int(n) for n in re.findall(r"\(finding (\d+)\)", security)} == set(range(1, 21))


def test_security_md_names_a_security_contact_and_the_supported_versions():
    """Issue 13 item 16: where to report a vulnerability, and which releases get fixes."""
    text = (ROOT / "SECURITY.md").read_text()
    reporting = text.split("## Reporting a vulnerability", 1)[1]
    assert "**Security contact**" in reporting and "Report a vulnerability" in reporting
    major_minor = ".".join(keystead.__version__.split(".")[:2])
    assert f"| {major_minor}.x | yes |" in reporting

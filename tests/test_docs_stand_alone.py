"""The project's documentation stands alone: what a user reads (docs/, README.md, the
examples, the page templates, the configuration example, the messages and comments in the
code) cites only documents the user has, never the internal specification ("SPEC 4"), and
every document a message points to exists."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from keystead.config import ConfigError, read_settings

ROOT = Path(__file__).resolve().parent.parent
READ_BY_USERS = ("README.md", "docs", "examples", "templates", "instance", "app", "providers",
                 "gunicorn.conf.py", "wsgi.py", "pyproject.toml", "Makefile")
TEXT_SUFFIXES = {".md", ".py", ".html", ".txt", ".toml", ".example", ".cfg", ".conf", ""}
SPEC_CITATION = re.compile(r"\bSPEC\b|SPEC\.md|settings table in README")


def user_facing_files():
    for name in READ_BY_USERS:
        path = ROOT / name
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            if file.suffix in TEXT_SUFFIXES and "__pycache__" not in file.parts:
                yield file


def test_no_doc_template_message_or_comment_cites_the_internal_specification():
    """Issue 13 item 15: users have no SPEC.md, so nothing they read may send them there
    ("SPEC 3", "see the settings table in README.md"); the docs say the rule itself."""
    citations = []
    for file in user_facing_files():
        for number, line in enumerate(file.read_text(errors="replace").splitlines(), 1):
            if SPEC_CITATION.search(line):
                citations.append(f"{file.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not citations, "cites a document users do not have:\n" + "\n".join(citations)


def test_an_unknown_setting_names_the_document_that_lists_every_setting(tmp_path):
    """Issue 13 item 15: the configuration error points to docs/configuration.md, which
    exists and has the table of settings (README.md has none)."""
    (tmp_path / "keystead.toml").write_text("[Password]\nMinimumScor = 2\n")
    with pytest.raises(ConfigError) as refused:
        read_settings(str(tmp_path), environ={})
    message = str(refused.value)
    assert "unknown setting Password.MinimumScor" in message
    cited = re.findall(r"\b[\w/]+\.md\b", message)
    assert cited == ["docs/configuration.md"], message
    assert "| Password.MinimumScore |" in (ROOT / cited[0]).read_text()


@pytest.mark.parametrize("document", sorted(p.name for p in (ROOT / "docs").glob("*.md")))
def test_every_document_a_doc_links_to_exists(document):
    """Issue 13 item 15: the docs cite one another; each file they name is there."""
    text = (ROOT / "docs" / document).read_text()
    missing = [name for name in re.findall(r"\bdocs/[\w-]+\.md\b", text) if not (ROOT / name).exists()]
    assert not missing, f"docs/{document} cites missing documents: {missing}"

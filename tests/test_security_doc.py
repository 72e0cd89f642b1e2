"""SECURITY.md names the test that proves each defence: every name it gives must be a test
that exists, so a renamed or deleted test cannot leave a defence unproved on paper."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_test_security_md_names_exists():
    text = (ROOT / "SECURITY.md").read_text()
    named = set(re.findall(r"`?(test_\w+\.py)::(test_\w+)", text))
    assert len(named) > 50
    missing = []
    for filename, test in sorted(named):
        path = ROOT / "tests" / filename
        source = path.read_text() if path.exists() else ""
        if not re.search(rf"^(async )?def {test}\(", source, re.M):
            missing.append(f"{filename}::{test}")
    assert not missing, "SECURITY.md names tests that do not exist: " + ", ".join(missing)

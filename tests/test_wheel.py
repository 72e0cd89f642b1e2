"""The built distribution, the way an operator gets it: the wheel is built from a copy of the
repository, installed into a fresh virtual environment (its dependencies from the package
index, through pip's cache), and run from a folder of its own, outside the checkout, with
`keystead init`, `keystead serve` and a login in a real Chromium.

Slow (a build, a virtual environment and an install: a minute or more), so marked `wheel`;
it runs in CI with the rest of the suite. One module-scoped fixture does the work once.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from live import CHROMIUM, CHROMIUM_ARGS
from servers import free_port

pytestmark = [
    pytest.mark.wheel,
    # The installed wheel serves its own SQLite instance whatever the suite runs on: once is
    # enough, in the SQLite run of `make test`.
    pytest.mark.skipif(bool(os.environ.get("KEYSTEAD_TEST_POSTGRES_URL")),
                       reason="the wheel's test uses no suite database: it runs in the SQLite run"),
]

ROOT = Path(__file__).resolve().parent.parent
VERSION_LINE = re.compile(r'^__version__ = "([^"]+)"$', re.M)
NOT_IN_THE_BUILD = shutil.ignore_patterns(".git", ".venv*", "instance", "build", "dist", "*.egg-info",
                                          "__pycache__", ".pytest_cache", "tests", "bench", "docs")


def clean_env(**extra) -> dict:
    """The environment of someone who has only installed the wheel: no KEYSTEAD_* settings
    (so instance/ lands in the working folder), nothing of the checkout on sys.path."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("KEYSTEAD_") and k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(extra)
    return env


def run(args, cwd, timeout=600) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=clean_env(), capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


@dataclass
class Installed:
    wheel: Path  # the built .whl
    venv: Path  # the fresh virtual environment it is installed in
    site: Path  # the operator's folder, outside the checkout: the working directory
    build_output: str  # what the build printed (pip -v: setuptools' own output included)
    init_output: str  # what `keystead init` printed there
    url: str  # http://127.0.0.1:<port> of `keystead serve`, started in `site`

    def bin(self, name: str) -> Path:
        return self.venv / "bin" / name


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """Build, install into a fresh venv, `keystead init` and `keystead serve` from a folder of
    its own; the server is stopped (its whole process group) after the module."""
    base = tmp_path_factory.mktemp("wheel")
    source, dist, venv, site = base / "source", base / "dist", base / "venv", base / "site"
    # A copy: the build writes build/ and *.egg-info, and the suite may run twice at once.
    shutil.copytree(ROOT, source, ignore=NOT_IN_THE_BUILD)
    # -v: the build backend's own output, so its warnings can be seen (the license check).
    build = run([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", dist, source], cwd=base)
    (wheel,) = dist.glob("keystead-*.whl")
    run([sys.executable, "-m", "venv", venv], cwd=base)
    run([venv / "bin" / "python", "-m", "pip", "install", "-q", wheel], cwd=base)
    site.mkdir()
    init = run([venv / "bin" / "keystead", "init"], cwd=site, timeout=120)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(base / "serve.log", "wb")
    server = subprocess.Popen([venv / "bin" / "keystead", "serve", "--bind", f"127.0.0.1:{port}",
                               "--workers", "1"], cwd=site, env=clean_env(), stdin=subprocess.DEVNULL,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        end = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise AssertionError(f"keystead serve exited {server.returncode}:\n"
                                     f"{(base / 'serve.log').read_text(errors='replace')}")
            try:
                if requests.get(url + "/api/v1/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > end:
                raise AssertionError("keystead serve did not answer within 60s:\n"
                                     f"{(base / 'serve.log').read_text(errors='replace')}")
            time.sleep(0.1)  # waiting for the server to listen, not timing anything
        yield Installed(wheel, venv, site, build.stdout + build.stderr, init.stdout, url)
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=20)
        log.close()


def test_the_wheel_holds_one_import_package_keystead_and_nothing_else_at_the_top(installed):
    """Issue 13 item 3: only keystead/ and its dist-info at the top of the wheel; every package
    folder of app/, the providers, templates, static files and migrations inside keystead/;
    the console script and the built-in providers' entry points name keystead."""
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = wheel.namelist()
        entry_points = wheel.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    name, version = installed.wheel.name.split("-")[:2]
    assert {n.split("/")[0] for n in names} == {"keystead", f"{name}-{version}.dist-info"}
    expected = set()
    for folder, mapped in (("app", "keystead"), ("providers", "keystead/providers")):
        for path in (ROOT / folder).rglob("*.py"):
            if "__pycache__" not in path.parts:
                expected.add(f"{mapped}/{path.relative_to(ROOT / folder).as_posix()}")
    for folder, mapped in (("templates", "keystead/templates"), ("app/static", "keystead/static")):
        expected |= {f"{mapped}/{p.relative_to(ROOT / folder).as_posix()}"
                     for p in (ROOT / folder).rglob("*") if p.is_file()}
    assert expected - set(names) == set(), "left out of the wheel"
    assert "keystead/wsgi.py" in names and "keystead/migrations/m0001_initial.py" in names
    assert "keystead = keystead.cli:main" in entry_points
    assert "password = keystead.providers.password" in entry_points


def test_the_installed_package_is_the_one_in_the_fresh_environment_and_app_is_not_installed(installed):
    """Issue 13 item 3: from the operator's folder, keystead comes from the environment's
    site-packages, and neither `app` nor `providers` can be imported (no clash with other
    projects); the public plugin names import from keystead."""
    code = ("import importlib.util, keystead\n"
            "from keystead import create_app, hookimpl, Identity, ProviderInfo, ProviderUnavailable\n"
            "print(keystead.__file__)\n"
            "print(importlib.util.find_spec('app'), importlib.util.find_spec('providers'),"
            " importlib.util.find_spec('wsgi'))\n")
    done = run([installed.bin("python"), "-c", code], cwd=installed.site)
    location, missing = done.stdout.splitlines()
    assert location.startswith(str(installed.venv)) and "site-packages" in location
    assert missing == "None None None"


def test_the_build_shows_no_deprecation_banner_and_the_wheel_carries_the_mit_license(installed):
    """Issue 13 item 16: pyproject.toml says `license = "MIT"` the current way (setuptools
    prints no deprecation banner, nor any other warning, while building, as in `make
    serve`), and LICENSE is in the wheel with the MIT text."""
    assert "Deprecat" not in installed.build_output, installed.build_output
    # Nor any other warning of setuptools' (a data folder left out of `packages`, say).
    assert not re.search(r"\w*Warning: ", installed.build_output), installed.build_output
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = wheel.namelist()
        metadata = wheel.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        license_file = next(n for n in names if n.endswith(".dist-info/licenses/LICENSE"))
        assert wheel.read(license_file).decode().startswith("MIT License")
    assert "License-Expression: MIT" in metadata


def test_keystead_version_names_the_release(installed):
    """Issue 13 item 16: `keystead --version` prints the version the distribution has (and
    app/__init__.py's __version__, which pyproject.toml reads)."""
    done = run([installed.bin("keystead"), "--version"], cwd=installed.site)
    version = VERSION_LINE.search((ROOT / "app" / "__init__.py").read_text()).group(1)
    assert done.stdout.strip() == f"keystead {version}"
    assert installed.wheel.name.startswith(f"keystead-{version}-")
    assert version == "0.2.0"


@pytest.mark.browser
def test_init_and_serve_from_another_folder_then_a_browser_logs_in(installed):
    """Issue 13 item 3: `keystead init` in a folder outside the checkout makes instance/ there
    and prints a one-time password; `keystead serve` serves the installed package's pages
    (templates, the stylesheet) and Chromium logs in with that password."""
    assert f"Instance folder: {installed.site / 'instance'}" in installed.init_output
    assert (installed.site / "instance" / "secret_key").is_file()
    username = re.search(r"Username: (\S+)", installed.init_output).group(1)
    password = re.search(r"Password: (\S+)", installed.init_output).group(1)
    assert requests.get(installed.url + "/static/style.css", timeout=10).status_code == 200

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(30000)
            page.goto(installed.url + "/login")
            page.get_by_label("Username or email").fill(username)
            page.get_by_label("Password").fill(password)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(installed.url + "/profile")
            assert page.get_by_role("heading", name="Your account", exact=True).is_visible()
            assert page.get_by_text("administrator", exact=True).is_visible()
            style = page.evaluate("getComputedStyle(document.querySelector('.topbar')).borderBottomStyle")
            assert style == "solid"  # the stylesheet from the package's static files applies
        finally:
            browser.close()

"""Mutation testing of the security modules with mutmut (`make mutation`; docs/testing.md).

mutmut 3 mutates the files of a package in a copy (`mutants/`) and imports that copy ahead
of the installed package. Keystead's repository keeps the package `keystead` in app/ (and
providers/, templates/ inside it only once installed), so each module is run in a staged
copy laid out as the installed package: build/mutation/<module>/keystead/... with the tests
and docs beside it. Each module is mutated alone, against its own selection of test files
(the tests that exercise it through the web pages, the API and the CLI), one after the
other, smallest first: the machine's cores stay shared and a figure comes out per module.

    python mutation/run.py                      # every module
    python mutation/run.py passwords throttle   # some, by the names of MODULES
    python mutation/run.py --jobs 1 --list

The report, build/mutation/report.md (and report.json), gives per module the mutants, how
many were killed, survived or ended otherwise, and the killed share; each module's folder
keeps survivors.txt with the diff of every surviving mutant.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "mutation"

# module name -> (the source file, as the repository keeps it; the test files that cover it)
MODULES: dict[str, tuple[str, list[str]]] = {
    "passwords": ("app/passwords.py", [
        "tests/test_rules.py", "tests/test_mutation_kills_passwords.py"]),
    "throttle": ("app/throttle.py", [
        "tests/test_lockout.py", "tests/test_trust_lockout.py", "tests/test_mutation_kills_reentry.py",
        "tests/test_mutation_kills_throttle.py"]),
    "links": ("app/links.py", [
        "tests/test_mutation_kills_links.py", "tests/test_web_recovery.py"]),
    "recovery": ("app/recovery.py", [
        "tests/test_api_recovery.py", "tests/test_admin_api.py", "tests/test_cli_admin.py",
        "tests/test_admin_pages.py", "tests/test_admin_day.py", "tests/test_web_recovery.py",
        "tests/test_web_register.py", "tests/test_trust_email.py", "tests/test_mutation_kills_recovery.py"]),
    "apikeys": ("app/apikeys.py", [
        "tests/test_mutation_kills_apikeys.py", "tests/test_api_keys.py"]),
    "documents_access": ("app/documents/access.py", [
        "tests/test_documents_api.py", "tests/test_documents_web.py",
        "tests/test_mutation_kills_documents_access.py"]),
    "web_session": ("app/web/session.py", [
        "tests/test_mutation_kills_session.py", "tests/test_durations.py", "tests/test_sudo_outside_provider.py",
        "tests/test_forward_auth.py"]),
    "authorization": ("app/authorization/__init__.py", [
        "tests/test_authorization.py", "tests/test_mutation_kills_authorization.py"]),
    "login": ("app/login.py", [
        "tests/test_mutation_kills_login.py", "tests/test_api_auth.py", "tests/test_trust_lockout.py"]),
    "tokens": ("app/tokens.py", [
        "tests/test_tokens.py", "tests/test_mutation_kills_tokens.py"]),
    "totp": ("app/totp.py", [
        "tests/test_totp.py", "tests/test_api_totp.py", "tests/test_web_two_factor.py",
        "tests/test_trust_secrets.py", "tests/test_mutation_kills_totp.py"]),
    "apps_forward_auth": ("app/apps/forward_auth.py", [
        "tests/test_forward_auth.py", "tests/test_mutation_kills_apps_forward_auth.py"]),
    "apps_redirects": ("app/apps/redirects.py", [
        "tests/test_forward_auth.py", "tests/test_mutation_kills_apps_redirects.py"]),
    "apps_credentials": ("app/apps/credentials.py", [
        "tests/test_apps_api.py", "tests/test_openid_provider.py", "tests/test_mutation_kills_apps_credentials.py"]),
    "apps_service": ("app/apps/service.py", [
        "tests/test_apps_api.py", "tests/test_apps_pages.py", "tests/test_apps_cli.py",
        "tests/test_mutation_kills_apps_service.py"]),
}

# What the staged copy needs beside the package: the tests, and what tests read from the
# repository (the docs and the top-level documents).
ALSO_COPY = ["tests", "docs", "examples", "instance", "README.md", "SECURITY.md", "CHANGELOG.md",
             "LICENSE", "Makefile", "wsgi.py", "gunicorn.conf.py"]

# mutmut's exit code of a mutant's test run -> what it means (mutmut/stats.py)
KILLED, SURVIVED, TIMEOUT = (1, 3), (0,), (36, 24, -24, 152, 255)


def module_order(names: list[str]) -> list[str]:
    """Smallest source file first."""
    return sorted(names, key=lambda n: len((ROOT / MODULES[n][0]).read_text().splitlines()))


def stage(name: str, keep_mutants: bool = False) -> Path:
    """Lay out build/mutation/<name> as the installed package, with a pyproject.toml whose
    [tool.mutmut] names this module and its tests. Earlier results are dropped, unless
    `keep_mutants` (then only the tests and settings are laid anew)."""
    source, tests = MODULES[name]
    folder = BUILD / name
    if folder.exists():
        for item in folder.iterdir():
            if keep_mutants and item.name == "mutants":
                continue
            shutil.rmtree(item) if item.is_dir() else item.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    shutil.copytree(ROOT / "app", folder / "keystead", ignore=ignore)
    shutil.copytree(ROOT / "providers", folder / "keystead" / "providers", ignore=ignore)
    shutil.copytree(ROOT / "templates", folder / "keystead" / "templates", ignore=ignore)
    for item in ALSO_COPY:
        path = ROOT / item
        if path.is_dir():
            shutil.copytree(path, folder / item, ignore=ignore)
        elif path.exists():
            shutil.copy2(path, folder / item)
    missing = [t for t in tests if not (ROOT / t).exists()]
    tests = [t for t in tests if t not in missing]
    if missing:
        print(f"  ({name}: no {', '.join(missing)} yet)")
    pyproject = (ROOT / "pyproject.toml").read_text()
    shared = tomllib.loads(pyproject).get("tool", {}).get("mutmut", {})
    settings = {**shared, "source_paths": ["keystead"],
                "only_mutate": ["keystead/" + source.removeprefix("app/")],
                "pytest_add_cli_args_test_selection": tests,
                "also_copy": ALSO_COPY}
    pyproject = re.sub(r"(?ms)^\[tool\.mutmut\]\n.*?(?=^\[|\Z)", "", pyproject)
    pyproject += "\n[tool.mutmut]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in settings.items())
    (folder / "pyproject.toml").write_text(pyproject)
    return folder


def mutmut_command() -> list[str]:
    found = Path(sys.executable).with_name("mutmut")
    if not found.exists():
        sys.exit("mutmut is not installed: pip install -e '.[test,mutation]' (make mutation does)")
    return [str(found)]


def tally(folder: Path, name: str, only: list[str] | None = None, before: dict | None = None) -> dict:
    """The figures of one module's run, from mutmut's record of it (with `only`, the
    mutants tested again; the rest keep their verdicts of `before`)."""
    source = MODULES[name][0]
    meta = folder / "mutants" / ("keystead/" + source.removeprefix("app/") + ".meta")
    codes = json.loads(meta.read_text())["exit_code_by_key"] if meta.exists() else {}
    if only is not None and before is not None:
        retested = {k: codes.get(k) for k in only}
        killed_before = [k for k in codes if k not in retested]
        codes = {**{k: 1 for k in killed_before}, **retested}
    killed = [k for k, c in codes.items() if c in KILLED]
    timeout = [k for k, c in codes.items() if c in TIMEOUT]
    survived = [k for k, c in codes.items() if c in SURVIVED]
    other = [k for k, c in codes.items() if k not in killed + timeout + survived]
    total = len(codes)
    share = round(100 * (len(killed) + len(timeout)) / total, 1) if total else 0.0
    return {"module": source, "mutants": total, "killed": len(killed), "timeout": len(timeout),
            "survived": len(survived), "other": len(other), "killed_percent": share,
            "survivors": sorted(survived), "others": {k: codes[k] for k in other}}


def write_survivors(folder: Path, figures: dict, env: dict) -> None:
    """survivors.txt: the diff of every mutant no test killed (and of those that ended
    otherwise), to read beside docs/testing.md's list of equivalent mutants."""
    names = figures["survivors"] + sorted(figures["others"])
    # One process for every diff (`mutmut show` per mutant costs seconds each).
    show = ("import sys\n"
            "from mutmut.__main__ import find_mutant, get_diff_for_mutant\n"
            "for name in sys.argv[1:]:\n"
            "    print('# ' + name)\n"
            "    print(get_diff_for_mutant(name, path=find_mutant(name).path))\n"
            "    print()\n")
    shown = subprocess.run([sys.executable, "-c", show, *names], cwd=folder, env=env,
                           capture_output=True, text=True)
    (folder / "survivors.txt").write_text(shown.stdout + (shown.stderr if shown.returncode else ""))


def run_module(name: str, jobs: int, again: dict | None = None) -> dict:
    """Mutate one module and test every mutant; with `again` (the module's last figures),
    test only the mutants that were not killed then, and keep the others' verdicts: tests
    added since can only kill more, never revive a killed mutant."""
    folder = stage(name, keep_mutants=again is not None)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYSTEAD_")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    names = (again["survivors"] + sorted(again["others"])) if again else []
    started = time.monotonic()
    with open(folder / "mutmut.log", "a" if again else "w") as log:
        done = subprocess.run(mutmut_command() + ["run", "--max-children", str(jobs)] + names, cwd=folder,
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    figures = tally(folder, name, only=names if again else None, before=again)
    figures["seconds"] = round(time.monotonic() - started)
    figures["exit_code"] = done.returncode
    write_survivors(folder, figures, env)
    return figures


def write_report(results: dict) -> Path:
    """build/mutation/report.md and report.json, with every module measured so far."""
    path = BUILD / "report.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    known.update(results)
    path.write_text(json.dumps(known, indent=2, sort_keys=True) + "\n")
    lines = ["# Mutation testing report", "",
             "| module | mutants | killed | timeout | survived | other | killed % | measured |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for name in module_order([n for n in MODULES if n in known]):
        f = known[name]
        lines.append(f"| {f['module']} | {f['mutants']} | {f['killed']} | {f['timeout']} | {f['survived']} "
                     f"| {f['other']} | {f['killed_percent']} | {f['measured']} |")
    lines += ["", "killed % counts timeouts as killed; `other` is mutmut's 'no tests', "
              "'suspicious' or 'segfault'. Survivors: build/mutation/<module>/survivors.txt."]
    (BUILD / "report.md").write_text("\n".join(lines) + "\n")
    return BUILD / "report.md"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help=f"some of: {', '.join(MODULES)} (default: all)")
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("MUTATION_JOBS", "2")),
                        help="mutants tested at once (default 2, or MUTATION_JOBS)")
    parser.add_argument("--list", action="store_true", help="list the modules and their tests, then stop")
    parser.add_argument("--again", action="store_true",
                        help="test again only the mutants the last run did not kill (after adding tests)")
    args = parser.parse_args(argv)
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        parser.error(f"unknown module {', '.join(unknown)}; known: {', '.join(MODULES)}")
    names = module_order(args.modules or list(MODULES))
    if args.list:
        for name in names:
            print(f"{name}: {MODULES[name][0]} <- {' '.join(MODULES[name][1])}")
        return 0
    BUILD.mkdir(parents=True, exist_ok=True)
    failed = False
    for name in names:
        print(f"mutation: {name} ({MODULES[name][0]}) ...", flush=True)
        again = None
        if args.again:
            known = json.loads((BUILD / "report.json").read_text()) if (BUILD / "report.json").exists() else {}
            again = known.get(name)
            if again is None or not (BUILD / name / "mutants").exists():
                print(f"  no earlier run of {name}: testing every mutant")
                again = None
        figures = run_module(name, args.jobs, again)
        figures["measured"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        report = write_report({name: figures})
        print(f"  {figures['mutants']} mutants, {figures['killed'] + figures['timeout']} killed, "
              f"{figures['survived']} survived, {figures['other']} other: {figures['killed_percent']} % "
              f"in {figures['seconds']} s (mutmut exit {figures['exit_code']})", flush=True)
        failed = failed or figures["exit_code"] != 0 or not figures["mutants"]
    print(f"report: {report.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Keystead's benchmark: `make bench` (or `.venv-bench/bin/python -m bench.run`).

Serves three targets one after the other under gunicorn with the same settings (2 sync
workers, loopback, a free port), drives each workload for a fixed time at a fixed
concurrency with wrk (or bench/driver.py when wrk is missing), and writes
bench/results/latest.json, docs/performance.png and docs/performance.md.

- bare (bench/targets/bare.py): the limit, a JSON route and one bcrypt check;
- fst (bench/targets/fst.py): Flask-Security-Too, the peer;
- keystead: `gunicorn wsgi:app` from the project root, on a temporary instance seeded
  with 100,000 people (and 10,000 documents once the documents API answers).

A workload whose route is missing (404/405 on a first probe) is reported as skipped with
the status seen. Every server is stopped at the end, whatever happens.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlencode, urlsplit

from bench import driver, report

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS_DIR = BENCH / "results"
WRK_SCRIPT = BENCH / "wrk" / "workload.lua"

PASSWORD = "bench-Password-42"  # every seeded account's
WRONG_PASSWORD = "not-the-Password-43"
ADMIN_USERNAME, ADMIN_PASSWORD = "admin", "bench-Admin-Password-42"
WORKERS = 2
SEARCH_WORD = "keystone"


# ---------------------------------------------------------------- HTTP for set-up

def call(base: str, method: str, path: str, headers: dict | None = None, body: str | bytes | None = None,
         timeout: float = 60) -> tuple[int, list[tuple[str, str]], str]:
    """One request: (status, headers, text)."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request(method, path, body=body.encode() if isinstance(body, str) else body,
                     headers=headers or {})
        r = conn.getresponse()
        return r.status, r.getheaders(), r.read().decode("utf-8", "replace")
    finally:
        conn.close()


def call_json(base, method, path, data=None, headers=None):
    h = {"Content-Type": "application/json", **(headers or {})}
    status, _, text = call(base, method, path, h, json.dumps(data) if data is not None else None)
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def cookies_from(headers: list[tuple[str, str]]) -> dict[str, str]:
    found = {}
    for name, value in headers:
        if name.lower() == "set-cookie":
            pair = value.split(";", 1)[0]
            if "=" in pair:
                k, v = pair.split("=", 1)
                found[k.strip()] = v.strip()
    return found


def cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in cookies.items() if v)


# ---------------------------------------------------------------- servers

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A gunicorn master and its workers in their own process group."""

    live: ClassVar[list[Server]] = []

    def __init__(self, name: str, app_spec: str, env: dict, ready_path: str, log_dir: Path):
        self.name, self.ready_path = name, ready_path
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log_dir / f"{name}.gunicorn.log"
        gunicorn = Path(sys.executable).parent / "gunicorn"
        args = [str(gunicorn), "--config", "python:bench.gunicorn_settings",
                "--workers", str(WORKERS), "--worker-class", "sync",
                "--bind", f"127.0.0.1:{self.port}", "--chdir", str(ROOT), "--timeout", "120",
                "--log-level", "warning", "--error-logfile", str(self.log), app_spec]
        self.proc = subprocess.Popen(args, env=env, cwd=ROOT, start_new_session=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        Server.live.append(self)

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name}: gunicorn exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                if call(self.base, "GET", self.ready_path, timeout=5)[0] == 200 and len(self.worker_pids()) == WORKERS:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name}: not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def worker_pids(self) -> list[int]:
        pid = self.proc.pid
        try:
            return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            pids = []
            for stat in Path("/proc").glob("[0-9]*/stat"):
                try:
                    fields = stat.read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == pid:
                    pids.append(int(stat.parent.name))
            return pids

    def worker_rss_mb(self) -> dict[str, float]:
        """VmRSS of each worker, in MB (MiB)."""
        rss = {}
        for pid in self.worker_pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        rss[str(pid)] = round(int(line.split()[1]) / 1024, 1)
            except OSError:
                pass
        return rss

    def stop(self) -> None:
        if self in Server.live:
            Server.live.remove(self)
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        # Nothing of the group may outlive the bench (a worker stuck in bcrypt, say).
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def stop_all_servers() -> None:
    for server in list(Server.live):
        server.stop()


# ---------------------------------------------------------------- workloads

@dataclass
class Workload:
    key: str  # the row of the table (see report.WORKLOADS)
    method: str
    path: str
    expect: int
    headers: dict = field(default_factory=dict)
    body: str = ""
    bcrypt: bool = False  # bound by bcrypt: no warm-up, results need no more warming
    accounts: int = 0  # >0: {seq} cycles through 1..accounts (existing people), else unique
    note: str = ""
    skip: str = ""  # known before probing: why this workload cannot run


@dataclass
class Target:
    """A started server, its workloads by key, and what the report should know of it."""
    name: str
    server: Server
    workloads: dict[str, Workload]
    info: dict = field(default_factory=dict)


class Load:
    """Runs workloads against a server with wrk or the Python driver."""

    def __init__(self, args, tmp: Path):
        self.args, self.tmp = args, tmp
        self.wrk = None if args.driver == "python" else shutil.which("wrk")
        if args.driver == "wrk" and not self.wrk:
            raise SystemExit("bench: --driver wrk but wrk is not installed")
        self.offset = 0  # unique {seq} numbers are never reused within a run
        self.account_cursor = 0  # where the next rotation over existing people starts
        self.run_id = f"{random.randrange(36**6):06x}"

    @property
    def driver_name(self) -> str:
        return "wrk" if self.wrk else "python"

    def drive(self, server: Server, w: Workload, duration: float) -> dict:
        body = w.body.replace("{run}", self.run_id)
        if w.accounts:
            spec_offset, modulo = self.account_cursor, w.accounts
        else:
            spec_offset, modulo = self.offset, 0
            self.offset += 10_000_000
        spec = {"method": w.method, "headers": w.headers, "body": body, "expect": w.expect,
                "offset": spec_offset, "modulo": modulo}
        url = server.base + w.path
        if not self.wrk:
            summary = driver.run(url, spec, duration, self.args.connections)
        else:
            summary = self._wrk(url, w, spec, duration)
        if w.accounts:
            self.account_cursor += summary["requests"] + 10 * self.args.connections
        return summary

    def _wrk(self, url: str, w: Workload, spec: dict, duration: float) -> dict:
        out = self.tmp / f"wrk-{os.getpid()}-{time.monotonic_ns()}.json"
        env = dict(os.environ, WRK_METHOD=w.method, WRK_BODY=spec["body"], WRK_EXPECT=str(w.expect),
                   WRK_HEADERS="\n".join(f"{k}: {v}" for k, v in w.headers.items()),
                   WRK_THREADS=str(self.args.threads), WRK_OFFSET=str(spec["offset"]),
                   WRK_MODULO=str(spec["modulo"]), WRK_OUT=str(out))
        cmd = [self.wrk, "-t", str(self.args.threads), "-c", str(self.args.connections),
               "-d", f"{max(1, round(duration))}s", "--timeout", "10s", "-s", str(WRK_SCRIPT), url]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=duration + 60)
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
        summary = json.loads(out.read_text())
        out.unlink()
        return summary

    def probe(self, server: Server, w: Workload) -> tuple[int, str]:
        body = w.body.replace("{run}", self.run_id).replace("{seq}", str(9_000_000_000 + self.offset))
        self.offset += 1
        status, _, text = call(server.base, w.method, w.path, w.headers, body or None)
        return status, text[:200]

    def measure(self, server: Server, w: Workload, label: str = "") -> dict:
        """Probe, warm up, measure: the row of the results for this workload."""
        label = f"{label:<9}{w.key:<21}"
        if w.skip:
            print(f"  {label} skipped: {w.skip}", flush=True)
            return {"skipped": w.skip, "status_seen": None, "path": w.path, "method": w.method}
        status, text = self.probe(server, w)
        if status != w.expect:
            missing = status in (404, 405)
            reason = (f"{w.method} {w.path} answered {status}" + (" (route missing)" if missing else
                      f", expected {w.expect}: {text!r}"))
            print(f"  {label} skipped: {reason}", flush=True)
            return {"skipped": reason, "status_seen": status, "path": w.path, "method": w.method}
        try:
            if self.args.warmup > 0 and not w.bcrypt:
                self.drive(server, w, self.args.warmup)
            s = self.drive(server, w, self.args.bcrypt_duration if w.bcrypt else self.args.duration)
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            print(f"  {label} failed: {e}", flush=True)
            return {"skipped": f"the load generator failed: {e}", "status_seen": status,
                    "path": w.path, "method": w.method}
        seconds = s["duration_us"] / 1e6
        errors = s["unexpected_status"] + sum(s["socket_errors"].values())
        row = {"method": w.method, "path": w.path, "expect": w.expect, "requests": s["requests"],
               "seconds": round(seconds, 2), "rps": round(s["requests"] / seconds, 1) if seconds else 0.0,
               "p50_ms": round(s["latency_us"]["p50"] / 1000, 2), "p90_ms": round(s["latency_us"]["p90"] / 1000, 2),
               "p99_ms": round(s["latency_us"]["p99"] / 1000, 2), "max_ms": round(s["latency_us"]["max"] / 1000, 2),
               "errors": errors, "statuses": s["statuses"], "socket_errors": s["socket_errors"]}
        if w.note:
            row["note"] = w.note
        print(f"  {label} {row['rps']:>9.1f} req/s  p50 {row['p50_ms']:>8.2f} ms  "
              f"p99 {row['p99_ms']:>8.2f} ms  errors {errors}", flush=True)
        return row


def json_headers(extra: dict | None = None) -> dict:
    return {"Content-Type": "application/json", **(extra or {})}


# ---------------------------------------------------------------- targets

def base_env() -> dict:
    """The environment every server gets: this one without KEYSTEAD_* settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("KEYSTEAD_")}


def when_ready(server: Server, prepare):
    """prepare() with `server` running; the server is stopped if that fails."""
    try:
        server.wait_ready()
        return prepare()
    except BaseException:
        server.stop()
        raise


def start_bare(args, tmp: Path) -> Target:
    env = dict(base_env(), BENCH_BCRYPT_ROUNDS=str(args.bcrypt_rounds), BENCH_PASSWORD=PASSWORD)
    server = Server("bare", "bench.targets.bare:app", env, "/ready", tmp)

    def prepare():
        login = json.dumps({"username": "person1", "password": PASSWORD})
        wrong = json.dumps({"username": "person{seq}", "password": WRONG_PASSWORD})
        workloads = [
            Workload("get_token", "GET", "/json", 200, note="no authentication, no database: the limit"),
            Workload("forward_auth", "GET", "/json", 200,
                     note="the JSON route again, measured beside the forward-auth check"),
            Workload("login", "POST", "/bcrypt", 200, json_headers(), login, bcrypt=True,
                     note="one bcrypt check: the limit"),
            Workload("login_wrong", "POST", "/bcrypt", 401, json_headers(), wrong, bcrypt=True,
                     note="one bcrypt check: the limit"),
            Workload("register", "POST", "/hash", 201, json_headers(),
                     json.dumps({"username": "r{run}x{seq}", "password": PASSWORD}), bcrypt=True,
                     note="one bcrypt hash: the limit"),
        ]
        return Target("bare", server, {w.key: w for w in workloads})

    return when_ready(server, prepare)


def start_fst(args, tmp: Path) -> Target:
    db_path = tmp / "fst.db"
    env = dict(base_env(), BENCH_BCRYPT_ROUNDS=str(args.bcrypt_rounds), BENCH_FST_DB=str(db_path))
    seed = subprocess.run([sys.executable, "-m", "bench.seed", "fst", "--count", str(args.fst_people),
                           "--password", PASSWORD], env=env, cwd=ROOT, capture_output=True, text=True)
    if seed.returncode != 0:
        raise RuntimeError(f"seeding Flask-Security-Too failed:\n{seed.stderr[-3000:]}")
    print(f"  {seed.stdout.strip()}", flush=True)
    server = Server("fst", "bench.targets.fst:app", env, "/ready", tmp)

    def prepare():
        status, body = call_json(server.base, "POST", "/login?include_auth_token",
                                 {"email": "person1@example.com", "password": PASSWORD})
        if status != 200:
            raise RuntimeError(f"Flask-Security-Too login failed: {status} {body}")
        token = body["response"]["user"]["authentication_token"]
        status, headers, _ = call(server.base, "POST", "/login", json_headers(),
                                  json.dumps({"email": "person2@example.com", "password": PASSWORD}))
        session = cookie_header(cookies_from(headers))
        login = json.dumps({"email": "person1@example.com", "password": PASSWORD})
        wrong = json.dumps({"email": "person{seq}@example.com", "password": WRONG_PASSWORD})
        register = json.dumps({"email": "r{run}x{seq}@example.com", "password": PASSWORD,
                               "password_confirm": PASSWORD})
        workloads = [
            Workload("get_token", "GET", "/api/me", 200, {"Authentication-Token": token},
                     note="auth_required('token'), Authentication-Token header"),
            Workload("get_session", "GET", "/profile", 200, {"Cookie": session},
                     note="auth_required('session'); a minimal page (the library has no profile page)"),
            Workload("login", "POST", "/login?include_auth_token", 200, json_headers(), login, bcrypt=True),
            Workload("login_wrong", "POST", "/login", 400, json_headers(), wrong, bcrypt=True,
                     accounts=args.fst_people, note="the library answers a wrong password with 400"),
            Workload("register", "POST", "/register", 200, json_headers(), register, bcrypt=True),
        ]
        return Target("fst", server, {w.key: w for w in workloads}, {"people": args.fst_people})

    return when_ready(server, prepare)


def keystead_env(args, instance: Path) -> dict:
    return dict(base_env(),
                KEYSTEAD_INSTANCE=str(instance),
                KEYSTEAD_PASSWORD_BCRYPTROUNDS=str(args.bcrypt_rounds),
                KEYSTEAD_SERVER_RATELIMITS="false",
                KEYSTEAD_PASSWORD_LOCKOUTTHRESHOLD="0",
                KEYSTEAD_BOOTSTRAP_ADMINUSERNAME=ADMIN_USERNAME,
                KEYSTEAD_BOOTSTRAP_ADMINPASSWORD=ADMIN_PASSWORD)


def api_login(base: str, username: str, password: str = PASSWORD) -> str:
    status, body = call_json(base, "POST", "/api/v1/auth/login", {"username": username, "password": password})
    if status != 200:
        raise RuntimeError(f"Keystead API login of {username} failed: {status} {body}")
    return body["access_token"]


def browser_login(base: str, username: str, password: str = PASSWORD) -> str | None:
    """Log in through /login with its CSRF token; the Cookie header of the session, or None."""
    status, headers, html = call(base, "GET", "/login")
    if status != 200:
        return None
    cookies = cookies_from(headers)
    m = (re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
         or re.search(r'value="([^"]+)"[^>]*name="csrf_token"', html))
    if not m:
        return None
    form = urlencode({"csrf_token": m.group(1), "username": username, "password": password})
    status, headers, _ = call(base, "POST", "/login", {"Content-Type": "application/x-www-form-urlencoded",
                                                      "Cookie": cookie_header(cookies)}, form)
    if status not in (302, 303):
        return None
    cookies.update(cookies_from(headers))
    return cookie_header(cookies)


def document_text(rng: random.Random, vocabulary: list[str], i: int) -> tuple[str, str]:
    words = [rng.choice(vocabulary) for _ in range(rng.randint(80, 220))]
    if i % 20 == 0:  # one document in twenty mentions the searched word
        words.insert(rng.randrange(len(words)), SEARCH_WORD)
    title = f"Document {i}: {' '.join(words[:3])}"
    return title, " ".join(words)


def seed_documents(base: str, tokens: list[str], count: int) -> tuple[int, float]:
    """Create `count` documents through the API, spread over the owners of `tokens`."""
    rng = random.Random(7)
    syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "po", "qua", "dri", "sten", "bor"]
    vocabulary = sorted({"".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))) for _ in range(4000)})
    docs = [document_text(rng, vocabulary, i) for i in range(1, count + 1)]
    started = time.perf_counter()

    def create(i: int) -> int:
        title, content = docs[i]
        status, _ = call_json(base, "POST", "/api/v1/documents", {"title": title, "content": content},
                              {"Authorization": f"Bearer {tokens[i % len(tokens)]}"})
        return status

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(create, range(count)))
    return sum(1 for s in statuses if s == 201), time.perf_counter() - started


def start_keystead(args, tmp: Path) -> Target:
    instance = tmp / "keystead-instance"
    instance.mkdir()
    env = keystead_env(args, instance)
    started = time.perf_counter()
    seed = subprocess.run([sys.executable, "-m", "bench.seed", "keystead", "--count", str(args.people),
                           "--password", PASSWORD], env=env, cwd=ROOT, capture_output=True, text=True)
    if seed.returncode != 0:
        raise RuntimeError(f"seeding Keystead failed:\n{seed.stderr[-3000:]}")
    print(f"  {seed.stdout.strip()}", flush=True)
    seeded_in = time.perf_counter() - started
    server = Server("keystead", "wsgi:app", env, "/api/v1/health", tmp)
    notes = {}

    def prepare():
        base = server.base
        token = api_login(base, "person1")
        admin_token = api_login(base, ADMIN_USERNAME, ADMIN_PASSWORD)
        session = browser_login(base, "person2")
        admin_session = browser_login(base, ADMIN_USERNAME, ADMIN_PASSWORD)
        if session is None:
            notes["browser_login"] = "logging in through /login did not give a session"
        bearer = {"Authorization": f"Bearer {token}"}
        admin_bearer = {"Authorization": f"Bearer {admin_token}"}
        total = args.people + 1
        middle = max(1, -(-total // 50) // 2)

        # An app whose host the forward-auth workload asks about, open to everyone signed in.
        status, body = call_json(base, "POST", "/api/v1/apps", {"name": "Bench app", "hosts": ["app.bench.test"]},
                                 admin_bearer)
        forward_auth_skip = "" if status == 201 else f"POST /api/v1/apps answered {status}"

        documents = {"seeded": 0}
        if args.documents and want("doc_search", args):
            status, _ = call_json(base, "POST", "/api/v1/documents",
                                     {"title": "probe", "content": f"probe {SEARCH_WORD}"}, bearer)
            if status == 201:
                owners = [token] + [api_login(base, f"person{i}") for i in range(3, 3 + 9)]
                made, took = seed_documents(base, owners, args.documents)
                documents = {"seeded": made, "seconds": round(took, 1), "owners": len(owners)}
                print(f"  seeded {made} documents through the API in {took:.1f} s", flush=True)
            else:
                documents["skipped"] = f"POST /api/v1/documents answered {status}"

        login = json.dumps({"username": "person1", "password": PASSWORD})
        wrong = json.dumps({"username": "person{seq}", "password": WRONG_PASSWORD})
        register = json.dumps({"username": "r{run}x{seq}", "email": "r{run}x{seq}@example.com",
                               "password": PASSWORD})
        workloads = [
            Workload("get_token", "GET", "/api/v1/users/me", 200, bearer),
            Workload("get_session", "GET", "/profile", 200, {"Cookie": session or ""}),
            Workload("people_first", "GET", "/api/v1/users?page=1&per_page=50", 200, admin_bearer),
            Workload("people_middle", "GET", f"/api/v1/users?page={middle}&per_page=50", 200, admin_bearer),
            Workload("admin_people_first", "GET", "/admin/people", 200, {"Cookie": admin_session or ""}),
            Workload("admin_people_middle", "GET", f"/admin/people?page={middle}", 200,
                     {"Cookie": admin_session or ""}),
            Workload("doc_search", "GET", f"/api/v1/documents/search?q={SEARCH_WORD}", 200, bearer,
                     note=f"as a person owning {args.documents // 10:,} of {args.documents:,} documents",
                     skip=documents["skipped"] + " (no documents to search)" if "skipped" in documents else ""),
            Workload("forward_auth", "GET", "/api/v1/authz/auth-request", 200,
                     {"Cookie": session or "", "X-Original-URL": "https://app.bench.test/dashboard?x=1"},
                     note="nginx auth_request with a browser session; decisions cached 5 s per worker",
                     skip=forward_auth_skip),
            Workload("login", "POST", "/api/v1/auth/login", 200, json_headers(), login, bcrypt=True),
            Workload("login_wrong", "POST", "/api/v1/auth/login", 401, json_headers(), wrong, bcrypt=True,
                     accounts=args.people,
                     note="a different seeded account each time (the hourly cap of 100 per name)"),
            Workload("register", "POST", "/api/v1/auth/register", 201, json_headers(), register,
                     bcrypt=True),
        ]
        return Target("keystead", server, {w.key: w for w in workloads},
                      {"people": args.people, "seeded_in_s": round(seeded_in, 1), "documents": documents,
                       "notes": notes})

    return when_ready(server, prepare)


# ---------------------------------------------------------------- in-process checks

def in_process(workload: str, profile_path: Path | None, people: int | None = None) -> dict:
    """bench/profile.py in its own process: queries and Python time per request of one
    workload, and its profile when `profile_path` is given."""
    cmd = [sys.executable, "-m", "bench.profile", "--json", "--workload", workload]
    if people is not None:
        cmd += ["--people", str(people)]
    if profile_path is not None:
        cmd += ["--profile", str(profile_path)]
    done = subprocess.run(cmd, env=base_env(), cwd=ROOT, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        return {"error": done.stderr.strip()[-2000:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def in_process_checks(args, results: dict) -> dict:
    """Always: the bearer GET's queries and Python time. With --profile, or when a target
    that depends on it is missed: the profile of the bearer GET and of the people list's
    middle page (at the run's number of people)."""
    checks = {}
    rows = report.ratios(results)
    missed = {r["id"] for r in rows if r["met"] is False}
    profile_me = args.profile or bool(missed & {"bearer_vs_bare", "bearer_vs_fst"})
    print("== in-process: the bearer GET" + (", profiled" if profile_me else ""), flush=True)
    checks["me"] = in_process("me", RESULTS_DIR / "profile_bearer.txt" if profile_me else None)
    if args.profile or any(m.startswith("p99_") for m in missed):
        print("== in-process: the people list's middle page, profiled", flush=True)
        checks["people_middle"] = in_process("people_middle", RESULTS_DIR / "profile_people.txt",
                                             args.people)
    return checks


# ---------------------------------------------------------------- PostgreSQL people search

def people_search_pg(args) -> dict | None:
    """The people search at a million people on PostgreSQL (bench/people_search_pg.py) when
    --postgres-url (BENCH_POSTGRES_URL) names a server; else the last run's figures, if any."""
    out = RESULTS_DIR / "people_search_pg.json"
    if args.postgres_url:
        print(f"== people search at {args.pg_people:,} people on PostgreSQL", flush=True)
        done = subprocess.run([sys.executable, "-m", "bench.people_search_pg", "--database-url",
                               args.postgres_url, "--people", str(args.pg_people), "--output", str(out)],
                              env=base_env(), cwd=ROOT, timeout=3600)
        if done.returncode != 0:
            return {"failed": f"bench/people_search_pg.py exited {done.returncode}"}
    if out.exists():
        return json.loads(out.read_text())
    return None


# ---------------------------------------------------------------- main

def want(key: str, args) -> bool:
    return not args.workloads or key in args.workloads


def machine_info(load: Load) -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "load_average_at_start": list(os.getloadavg()),
            "driver": load.driver_name}
    if load.wrk:
        v = subprocess.run([load.wrk, "-v"], capture_output=True, text=True)
        info["wrk"] = (v.stdout or v.stderr).splitlines()[0] if (v.stdout or v.stderr) else "wrk"
    try:
        from importlib.metadata import version
        info["packages"] = {p: version(p) for p in ("flask", "peewee", "gunicorn", "bcrypt",
                                                     "flask-security-too", "flask-sqlalchemy", "sqlalchemy")}
    except Exception:  # a missing package only loses a line of the report
        pass
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True)
    if git.returncode == 0:
        info["commit"] = git.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")
    return info


def bcrypt_seconds(rounds: int) -> float:
    """One bcrypt check at `rounds` on this machine (best of 3)."""
    import bcrypt
    hashed = bcrypt.hashpw(b"x", bcrypt.gensalt(rounds))
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        bcrypt.checkpw(b"x", hashed)
        best = min(best, time.perf_counter() - t)
    return best


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="bench.run", description="Keystead's benchmark (docs/performance.md)")
    p.add_argument("--duration", type=int, default=8, help="seconds per workload (default 8)")
    p.add_argument("--bcrypt-duration", type=int, default=12,
                   help="seconds per workload bcrypt bounds (default 12: about 100 logins on 2 cores)")
    p.add_argument("--warmup", type=int, default=2,
                   help="seconds of warm-up before workloads bcrypt does not bound (0: none)")
    p.add_argument("--connections", type=int, default=8, help="concurrent connections (default 8)")
    p.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    p.add_argument("--bcrypt-rounds", type=int, default=12, help="bcrypt cost for every target (default 12)")
    p.add_argument("--people", type=int, default=100_000, help="accounts seeded into Keystead")
    p.add_argument("--fst-people", type=int, default=5_000,
                   help="accounts seeded into Flask-Security-Too (for wrong-password logins)")
    p.add_argument("--documents", type=int, default=10_000, help="documents for the search workload")
    p.add_argument("--targets", nargs="+", choices=("bare", "fst", "keystead"),
                   default=["bare", "fst", "keystead"])
    p.add_argument("--workloads", nargs="+", choices=[k for k, _ in report.WORKLOADS], default=None,
                   help="only these workloads")
    p.add_argument("--driver", choices=("auto", "wrk", "python"), default="auto")
    p.add_argument("--profile", action="store_true",
                   help="profile the bearer GET in-process even when it meets its target")
    p.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL", ""),
                   help="also run the people search at 1,000,000 people on this PostgreSQL server "
                        "(bench/people_search_pg.py; a scratch database, dropped at the end)")
    p.add_argument("--pg-people", type=int, default=1_000_000,
                   help="people for the PostgreSQL people search (default 1,000,000)")
    p.add_argument("--no-docs", action="store_true",
                   help="write bench/results only, leave docs/performance.* as they are")
    p.add_argument("--quick", action="store_true",
                   help="a machinery check: 2 s per workload (3 s for bcrypt), 1 s warm-up, "
                        "10,000 people, 1,000 documents")
    args = p.parse_args(argv)
    if args.quick:
        args.duration, args.warmup, args.bcrypt_duration = 2, 1, 3
        args.people, args.documents, args.fst_people = 10_000, 1_000, 2_000
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="keystead-bench-"))

    def on_signal(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    load = Load(args, tmp)
    started = time.time()
    results = {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "machine": machine_info(load),
        "settings": {"duration_s": args.duration, "bcrypt_duration_s": args.bcrypt_duration,
                     "warmup_s": args.warmup, "connections": args.connections,
                     "wrk_threads": args.threads, "gunicorn_workers": WORKERS, "worker_class": "sync",
                     "bcrypt_rounds": args.bcrypt_rounds, "people": args.people,
                     "documents": args.documents, "fst_people": args.fst_people, "quick": args.quick},
        "bcrypt_check_ms": round(bcrypt_seconds(args.bcrypt_rounds) * 1000, 2),
        "targets": {},
    }
    print(f"bench: {load.driver_name}, {args.duration:g} s per workload at {args.connections} connections, "
          f"{WORKERS} sync workers, bcrypt cost {args.bcrypt_rounds} "
          f"({results['bcrypt_check_ms']} ms a check here)", flush=True)
    starters = {"bare": start_bare, "fst": start_fst, "keystead": start_keystead}
    targets: dict[str, Target] = {}
    try:
        for name in args.targets:
            print(f"== starting {report.TARGET_TITLES[name]}", flush=True)
            try:
                targets[name] = starters[name](args, tmp)
                results["targets"][name] = {"workloads": {}, **targets[name].info}
            except RuntimeError as e:
                print(f"  failed: {e}", flush=True)
                results["targets"][name] = {"failed": str(e), "workloads": {}}
        # Workload by workload, every target in turn: the figures compared are measured a
        # few seconds apart, so a change in what else the machine does touches all alike.
        # A server waiting for its turn takes no CPU.
        print("== workloads, each on every target in turn", flush=True)
        for key, _title in report.WORKLOADS:
            if not want(key, args):
                continue
            for name, target in targets.items():
                if key in target.workloads:
                    results["targets"][name]["workloads"][key] = load.measure(
                        target.server, target.workloads[key], report.TARGET_SHORT[name])
        for name, target in targets.items():
            results["targets"][name]["worker_rss_mb"] = target.server.worker_rss_mb()
            target.server.stop()
        if "keystead" in targets:
            results["in_process"] = in_process_checks(args, results)
        results["people_search_pg"] = people_search_pg(args)
        results["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ")
        results["elapsed_s"] = round(time.time() - started, 1)
        results["ratios"] = report.ratios(results)
    finally:
        stop_all_servers()
        shutil.rmtree(tmp, ignore_errors=True)

    (RESULTS_DIR / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(report.text_table(results))
    print()
    print(report.text_ratios(results))
    if not args.no_docs:
        report.write_docs(results, ROOT / "docs")
        print(f"\nwrote bench/results/latest.json, docs/performance.md, docs/performance.png "
              f"in {results['elapsed_s']:.0f} s")
    else:
        print(f"\nwrote bench/results/latest.json in {results['elapsed_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

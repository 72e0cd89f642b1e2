"""Keystead's requests in-process: queries per request, Python time per request (the bearer
GET beside the bare JSON route), and (with --profile FILE) where that time goes.

No server and no network: both apps are called as WSGI apps with a prepared environ, the
way gunicorn's worker calls them, so what is left is the app's own cost. Keystead runs on
a temporary instance with a SQLite file, like the bench.

    .venv-bench/bin/python -m bench.profile                  # the bearer GET, summarised
    .venv-bench/bin/python -m bench.profile --profile out.txt
    .venv-bench/bin/python -m bench.profile --workload people_middle --profile out.txt
    .venv-bench/bin/python -m bench.profile --json           # one JSON line (bench/run.py)

Workloads: `me` (GET /api/v1/users/me by bearer token), `people_first` and
`people_middle` (GET /api/v1/users as the administrator, over --people seeded accounts,
100,000 by default for these).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

PASSWORD = "bench-Password-42"
PROFILE_REQUESTS = 3000
TOP_LINES = 70


def _drain(app, environ, n: int) -> str:
    status = []

    def start_response(s, headers, exc_info=None):
        status.append(s)

    for _ in range(n):
        result = app(dict(environ), start_response)
        for _chunk in result:
            pass
        if hasattr(result, "close"):
            result.close()
    return status[-1] if status else "?"


def _us_per_request(app, environ, n: int = 2000, rounds: int = 3) -> float:
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        _drain(app, environ, n)
        best = min(best, time.perf_counter() - t)
    return best / n * 1e6


def keystead_app(instance: str, people: int):
    """An app on a new instance with person1..personN (at least person1) and an
    administrator; (app, person1's access token, the administrator's)."""
    for name in list(os.environ):
        if name.startswith("KEYSTEAD_"):
            del os.environ[name]
    from keystead import create_app
    from keystead.accounts import create_user
    from bench.seed import seed_keystead
    app = create_app({"Password.BcryptRounds": 4, "Server.RateLimits": False,
                      "Password.LockoutThreshold": 0}, instance_path=instance)
    seed_keystead(max(people, 1), PASSWORD, app)
    db = app.extensions["keystead.db"]
    with app.app_context(), db.connection_context():
        create_user("benchadmin", "benchadmin@example.com", PASSWORD, role="administrator",
                    email_verified=True)
    tokens = []
    for username in ("person1", "benchadmin"):
        r = app.test_client().post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
        if r.status_code != 200:
            raise RuntimeError(f"login failed: {r.status_code} {r.get_data(as_text=True)[:200]}")
        tokens.append(r.get_json()["access_token"])
    return app, tokens[0], tokens[1]


def count_queries(app, environ) -> list[str]:
    db = app.extensions["keystead.db"]
    executed: list[str] = []
    original = db.execute_sql

    def execute_sql(sql, params=None, *args, **kwargs):
        executed.append(sql)
        return original(sql, params, *args, **kwargs)

    _drain(app, environ, 1)  # warm: compiled queries, the pooled connection
    db.execute_sql = execute_sql
    try:
        _drain(app, environ, 1)
    finally:
        del db.execute_sql
    return executed


def profile_text(app, environ, path: str, n: int = PROFILE_REQUESTS) -> str:
    try:
        from pyinstrument import Profiler
    except ImportError:
        Profiler = None
    if Profiler is not None:
        profiler = Profiler(interval=0.0001)
        profiler.start()
        _drain(app, environ, n)
        profiler.stop()
        text = profiler.output_text(unicode=False, color=False, show_all=False)
    else:
        import cProfile
        import io
        import pstats
        prof = cProfile.Profile()
        prof.enable()
        _drain(app, environ, n)
        prof.disable()
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(40)
        text = buf.getvalue()
    with open(path, "w") as f:
        f.write(text)
    return text


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="bench.profile", description=__doc__.splitlines()[0])
    p.add_argument("--workload", choices=("me", "people_first", "people_middle"), default="me")
    p.add_argument("--people", type=int, default=None,
                   help="accounts to seed (default: 1 for me, 100,000 for the people list)")
    p.add_argument("--profile", metavar="FILE", help="profile the workload, write the profile here")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    args = p.parse_args(argv)
    people = args.people if args.people is not None else (1 if args.workload == "me" else 100_000)

    from werkzeug.test import EnvironBuilder

    tmp = tempfile.mkdtemp(prefix="keystead-profile-")
    out: dict = {"workload": args.workload, "people": people}
    try:
        app, token, admin_token = keystead_app(os.path.join(tmp, "instance"), people)
        if args.workload == "me":
            path, token_used = "/api/v1/users/me", token
        else:
            page = 1 if args.workload == "people_first" else max(1, -(-(people + 1) // 50) // 2)
            path, token_used = f"/api/v1/users?page={page}&per_page=50", admin_token
        out["path"] = path
        environ = EnvironBuilder(path=path, headers={"Authorization": f"Bearer {token_used}"},
                                 environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_environ()
        out["status"] = _drain(app, environ, 1)
        sql = count_queries(app, environ)
        out["queries"], out["sql"] = len(sql), sql
        n = 2000 if args.workload == "me" else 100
        out["keystead_us"] = round(_us_per_request(app, environ, n), 1)

        os.environ["BENCH_BCRYPT_ROUNDS"] = "4"
        from bench.targets import bare
        bare_environ = EnvironBuilder(path="/json").get_environ()
        out["bare_us"] = round(_us_per_request(bare.app, bare_environ), 1)

        if args.profile:
            requests = PROFILE_REQUESTS if args.workload == "me" else 200
            text = profile_text(app, environ, args.profile, requests)
            out["profile_requests"] = requests
            out["profile_file"] = args.profile
            lines = text.splitlines()
            # From the first timed frame on: pyinstrument's banner names this machine's paths.
            start = next((i for i, line in enumerate(lines) if line[:1].isdigit()), 0)
            out["profile_top"] = "\n".join(lines[start:start + TOP_LINES])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    if args.json:
        print(json.dumps(out))
    else:
        print(f"GET {out['path']} ({people:,} people): {out['status']}, {out['queries']} queries, "
              f"{out['keystead_us']:,.0f} µs a request in-process; bare JSON route {out['bare_us']:.0f} µs "
              f"({out['bare_us'] / out['keystead_us']:.2f}x)")
        for q in out["sql"]:
            print("  " + q)
        if args.profile:
            print(out["profile_top"])
    return 0


if __name__ == "__main__":
    sys.exit(main())

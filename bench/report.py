"""What the bench makes of its results: the table, the ratios against Keystead's targets,
the chart (docs/performance.png) and docs/performance.md.

`python -m bench.report` rewrites the docs from bench/results/latest.json without running
anything.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TARGET_TITLES = {"bare": "bare Flask (the limit)", "fst": "Flask-Security-Too", "keystead": "Keystead"}
TARGET_SHORT = {"bare": "bare", "fst": "FST", "keystead": "Keystead"}

# (key, title) in the order of the table.
WORKLOADS = [
    ("get_token", "GET current user, bearer token"),
    ("get_session", "GET profile page, session cookie"),
    ("login", "JSON login, right password"),
    ("login_wrong", "JSON login, wrong password"),
    ("register", "JSON registration"),
    ("people_first", "people list API, first page"),
    ("people_middle", "people list API, middle page"),
    ("admin_people_first", "/admin/people, first page"),
    ("admin_people_middle", "/admin/people, middle page"),
    ("doc_search", "document search"),
    ("forward_auth", "forward-auth check, session cookie"),
]
WORKLOAD_TITLES = dict(WORKLOADS)

PEOPLE_P99_MS = 50
WORKER_RSS_MB = 100
MAX_QUERIES = 2


def _row(results: dict, target: str, workload: str) -> dict | None:
    row = results.get("targets", {}).get(target, {}).get("workloads", {}).get(workload)
    return row if row and "skipped" not in row else None


def _ratio(results, num: tuple[str, str], den: tuple[str, str]) -> float | None:
    a, b = _row(results, *num), _row(results, *den)
    if not a or not b or not b["rps"]:
        return None
    return a["rps"] / b["rps"]


def ratios(results: dict) -> list[dict]:
    """Each of Keystead's targets: {id, label, target, value, met, detail}; met is None
    when the run did not measure what the target needs."""
    out = []

    def add(id_, label, target, value, met, detail=""):
        out.append({"id": id_, "label": label, "target": target,
                    "value": value, "met": met, "detail": detail})

    for id_, label, num, den, floor in (
        ("bearer_vs_bare", "bearer GET / bare JSON route", ("keystead", "get_token"), ("bare", "get_token"), 0.7),
        ("login_vs_bare", "login / one bcrypt check (bare)", ("keystead", "login"), ("bare", "login"), 0.9),
        ("bearer_vs_fst", "bearer GET / Flask-Security-Too token GET", ("keystead", "get_token"),
         ("fst", "get_token"), 1.3),
        ("login_vs_fst", "login / Flask-Security-Too login", ("keystead", "login"), ("fst", "login"), 1.0),
        ("forward_auth_vs_bare", "forward-auth check / bare JSON route", ("keystead", "forward_auth"),
         ("bare", "forward_auth"), 0.8),
    ):
        r = _ratio(results, num, den)
        add(id_, label, f">= {floor:g}x", None if r is None else round(r, 2),
            None if r is None else r >= floor)

    for key in ("people_first", "people_middle", "admin_people_first", "admin_people_middle"):
        row = _row(results, "keystead", key)
        people = results.get("targets", {}).get("keystead", {}).get("people") or results["settings"]["people"]
        add(f"p99_{key}", f"{WORKLOAD_TITLES[key]} p99 at {people:,} people", f"< {PEOPLE_P99_MS} ms",
            None if row is None else row["p99_ms"], None if row is None else row["p99_ms"] < PEOPLE_P99_MS)

    rss = results.get("targets", {}).get("keystead", {}).get("worker_rss_mb") or {}
    worst = max(rss.values()) if rss else None
    add("worker_rss", "resident memory per Keystead worker after the run", f"< {WORKER_RSS_MB} MB",
        worst, None if worst is None else worst < WORKER_RSS_MB,
        ", ".join(f"{v:g} MB" for v in rss.values()))

    queries = ((results.get("in_process") or {}).get("me") or {}).get("queries")
    add("queries", "SQL queries per authenticated API GET", f"<= {MAX_QUERIES}", queries,
        None if queries is None else queries <= MAX_QUERIES, "tests/test_query_counts.py asserts it")
    return out


# ---------------------------------------------------------------- text

def _fmt(value, digits=1):
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def table_rows(results: dict) -> list[list[str]]:
    rows = []
    for target, data in results.get("targets", {}).items():
        if data.get("failed"):
            rows.append([TARGET_SHORT[target], "(all)", "failed", "", "", "", "", "", "", data["failed"][:80]])
            continue
        for key, _title in WORKLOADS:
            row = data.get("workloads", {}).get(key)
            if row is None:
                continue
            if "skipped" in row:
                rows.append([TARGET_SHORT[target], WORKLOAD_TITLES[key], "skipped", "", "", "", "", "", "",
                             row["skipped"]])
                continue
            vs_bare = _ratio(results, (target, key), ("bare", key)) if target != "bare" else None
            vs_fst = _ratio(results, (target, key), ("fst", key)) if target == "keystead" else None
            rows.append([TARGET_SHORT[target], WORKLOAD_TITLES[key], _fmt(row["rps"]), _fmt(row["p50_ms"], 2),
                         _fmt(row["p99_ms"], 2), f"{row['requests']:,}", str(row["errors"]),
                         "" if vs_bare is None else f"{vs_bare:.2f}x",
                         "" if vs_fst is None else f"{vs_fst:.2f}x", row.get("note", "")])
    return rows


HEADER = ["target", "workload", "req/s", "p50 ms", "p99 ms", "requests", "errors", "vs bare", "vs FST", "note"]


def text_table(results: dict) -> str:
    rows = [HEADER] + table_rows(results)
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER) - 1)]
    lines = []
    for n, r in enumerate(rows):
        cells = [c.rjust(w) if i >= 2 else c.ljust(w) for i, (c, w) in enumerate(zip(r[:-1], widths, strict=True))]
        lines.append("  ".join(cells) + ("  " + r[-1] if r[-1] else ""))
        if n == 0:
            lines.append("-" * len(lines[0]))
    return "\n".join(lines)


def _verdict(met) -> str:
    return "not measured" if met is None else ("met" if met else "NOT MET")


def text_ratios(results: dict) -> str:
    lines = ["Keystead against its targets:"]
    for r in results.get("ratios") or ratios(results):
        value = "-" if r["value"] is None else f"{r['value']:g}"
        lines.append(f"  {r['label']:<60} {value:>8}  target {r['target']:<9} {_verdict(r['met'])}"
                     + (f"  ({r['detail']})" if r["detail"] else ""))
    return "\n".join(lines)


# ---------------------------------------------------------------- chart

COLORS = {"bare": "#9e9e9e", "fst": "#e07b39", "keystead": "#2a6fb0"}


def write_chart(results: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k, _ in WORKLOADS if any(_row(results, t, k) for t in results.get("targets", {}))]
    targets = [t for t in ("bare", "fst", "keystead") if t in results.get("targets", {})]
    fig, (ax_rps, ax_p99) = plt.subplots(1, 2, figsize=(12, 0.55 * max(len(keys), 3) + 1.6), sharey=True)
    height = 0.8 / max(len(targets), 1)
    for i, target in enumerate(targets):
        ys, rps, p99 = [], [], []
        for j, key in enumerate(keys):
            row = _row(results, target, key)
            if row:
                ys.append(j + (i - (len(targets) - 1) / 2) * height)
                rps.append(row["rps"])
                p99.append(max(row["p99_ms"], 0.01))
        ax_rps.barh(ys, rps, height=height, color=COLORS[target], label=TARGET_TITLES[target])
        ax_p99.barh(ys, p99, height=height, color=COLORS[target])
        for y, v in zip(ys, rps, strict=True):
            ax_rps.text(v, y, f" {v:,.0f}", va="center", fontsize=7)
        for y, v in zip(ys, p99, strict=True):
            ax_p99.text(v, y, f" {v:,.1f}", va="center", fontsize=7)
    ax_rps.set_yticks(range(len(keys)), [WORKLOAD_TITLES[k] for k in keys])
    ax_rps.invert_yaxis()
    ax_rps.set_xscale("log")
    ax_p99.set_xscale("log")
    ax_rps.set_xlabel("requests per second (log scale; more is better)")
    ax_p99.set_xlabel("p99 latency, ms (log scale; less is better)")
    ax_p99.axvline(PEOPLE_P99_MS, color="#c62828", linestyle="--", linewidth=0.8)
    ax_p99.text(PEOPLE_P99_MS, -0.6, f" {PEOPLE_P99_MS} ms (people list target)", color="#c62828", fontsize=7)
    for ax in (ax_rps, ax_p99):
        low, high = ax.get_xlim()
        ax.set_xlim(low, high * 4)  # room for the labels at the ends of the bars
    fig.legend(*ax_rps.get_legend_handles_labels(), loc="upper center", ncol=len(targets), fontsize=9,
               bbox_to_anchor=(0.5, 0.955), frameon=False)
    s = results["settings"]
    fig.suptitle(f"Keystead benchmark: {s['gunicorn_workers']} gunicorn sync workers, "
                 f"{s['connections']} connections, {s['duration_s']:g} s per workload, "
                 f"bcrypt cost {s['bcrypt_rounds']}, {results['machine'].get('cores')} cores "
                 f"({results['started_at']})", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------- docs/performance.md

def _md_table(header: list[str], rows: list[list[str]]) -> str:
    def esc(c):
        return str(c).replace("|", "\\|")
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if h in ("req/s", "p50 ms", "p99 ms", "requests", "errors", "vs bare", "vs FST",
                                            "value")
                            else "---" for h in header) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _limits(results: dict) -> list[str]:
    """What limits each figure, with this run's numbers."""
    s, m = results["settings"], results["machine"]
    workers, cores = s["gunicorn_workers"], m.get("cores") or 1
    check_ms = results.get("bcrypt_check_ms") or 0
    bcrypt_cap = min(workers, cores) * 1000 / check_ms if check_ms else 0
    bare_json = _row(results, "bare", "get_token")
    inproc = (results.get("in_process") or {}).get("me") or {}
    people = (results.get("in_process") or {}).get("people_middle") or {}
    out = [
        f"- **Every figure**: {cores} cores run the server's {workers} workers, the load generator "
        f"({m.get('driver')}) and everything else on the machine (load average "
        f"{', '.join(f'{x:.2f}' for x in m.get('load_average_at_start', []))} at the start). gunicorn's "
        "sync workers serve one request at a time and close the connection after each response, so "
        "every request also pays a TCP connect and gunicorn's request parsing; that cost is the same "
        "for every target.",
        "- **Bare JSON route**" + (f" ({bare_json['rps']:,.0f} req/s)" if bare_json else "") +
        ": Flask's request dispatch, `jsonify` and gunicorn per request; nothing else. No "
        "authenticated route can be faster under the same server.",
        f"- **Logins and registration**: bcrypt. One check at cost {s['bcrypt_rounds']} takes "
        f"{check_ms:g} ms of one core here, so {min(workers, cores)} busy cores cap any password "
        f"login at about {bcrypt_cap:,.1f} req/s; the bare bcrypt route measures that cap. A login "
        "that does exactly one bcrypt stays within a few percent of it; a wrong password costs the "
        "same bcrypt (an unknown name a dummy one). Registration hashes once (the same cost) and in "
        "Keystead also judges the password with zxcvbn and writes the account and its audit record.",
        "- **Bearer GET**: per request, the token's signature (itsdangerous), the token -> user "
        "look-up, the user's groups (the SQL is listed below) and the JSON; beside the bare route "
        "that is the whole difference, so the Python spent on those decides the ratio. Flask-Security-Too "
        "verifies its token, loads the user through SQLAlchemy's ORM, and loads roles for "
        "Flask-Principal's identity on every request.",
        "- **Profile page**: the same session check as every browser page (Flask-Login's cookie, "
        "the session epoch, the inactivity clock) plus rendering a Jinja template with forms and "
        "their CSRF tokens; Flask-Security-Too's figure renders a minimal page, as the library has "
        "none of its own.",
        "- **People list**: the caller's token, the count of matching people, the page, and the "
        "page's groups, then the JSON or HTML of 50 people. The count reads an index entry per "
        "person and the page walks the username index up to its offset, so both grow with the "
        "number of people (the middle page more than the first); the rest is building 50 people "
        "in Python.",
        "- **Document search**: the full-text index (SQLite FTS5) and the access rule that keeps "
        "each person to what they may read.",
        "- **Memory**: read from /proc/<pid>/status (VmRSS) of each gunicorn worker after the "
        "workloads; it includes Python, Flask and the libraries imported at start-up, and SQLite's "
        "page cache of the open connection.",
    ]
    conns = s["connections"]
    out.append(f"- **Latency under load**: {conns} connections share {workers} workers, so a request "
               f"waits for about {conns // workers - 1} others before its turn: p50 is about "
               f"{conns // workers}x the time a worker spends on one request ({workers}/req/s), and p99 "
               "adds whatever else the machine did meanwhile.")
    if inproc.get("keystead_us") and inproc.get("bare_us"):
        out.append(f"- **In-process** (no server, no network; bench/profile.py): the bearer GET takes "
                   f"{inproc['keystead_us']:,.0f} µs of Python per request against {inproc['bare_us']:,.0f} µs "
                   f"for the bare JSON route ({inproc['bare_us'] / inproc['keystead_us']:.2f}x).")
    if people.get("keystead_us"):
        out.append(f"- **In-process, people list** ({people.get('path')}, {people.get('people', 0):,} people): "
                   f"{people['keystead_us'] / 1000:,.1f} ms of one core per request, "
                   f"{people.get('queries')} queries.")
    return out


def _driver_name(machine: dict) -> str:
    wrk = machine.get("wrk")
    if wrk:  # "wrk debian/4.1.0-3+b2 [epoll] Copyright ..." -> "wrk debian/4.1.0-3+b2"
        return " ".join(wrk.split()[:2])
    return "the Python driver (bench/driver.py)"


def markdown(results: dict, chart_name: str = "performance.png") -> str:
    s, m = results["settings"], results["machine"]
    ratio_rows = results.get("ratios") or ratios(results)
    kt = results.get("targets", {}).get("keystead", {})
    warning = ""
    if s.get("quick") or s["duration_s"] < 5:
        warning = ("\n> **This is a short machinery check** (`--quick` or under 5 s per workload), "
                   "not the reference run: its figures show the bench works, not how fast Keystead "
                   "is. Run `make bench` on a quiet machine for those.\n")
    busy = (m.get("load_average_at_start") or [0])[0]
    if busy > 0.5 * (m.get("cores") or 1):
        warning += (f"\n> The machine was busy when the run started (load average {busy:.2f} on "
                    f"{m.get('cores')} cores): other work competed with the servers.\n")
    lines = [
        "# Performance",
        "",
        "<!-- Written by bench/report.py from bench/results/latest.json: `make bench` rewrites this "
        "file; edit bench/report.py instead. -->",
        "",
        f"Latest run: {results['started_at']}, commit {m.get('commit', '?')}, {results.get('elapsed_s', '?')} s "
        f"in all, on {m.get('cores')} × {m.get('cpu')} (Python {m.get('python')}, load driver: "
        f"{_driver_name(m)}).",
        warning,
        "## Method",
        "",
        "`make bench` makes its own environment (`.venv-bench`: the project plus Flask-Security-Too, "
        "Flask-SQLAlchemy, matplotlib and pyinstrument, from bench/requirements.txt), installs wrk "
        "from Debian's packages when it runs as root and wrk is missing (else it uses the slower "
        "Python driver, bench/driver.py), and runs `bench/run.py`. That starts three targets, each "
        "under gunicorn with the same settings "
        f"({s['gunicorn_workers']} {s['worker_class']} workers, 127.0.0.1, a free port, no access log), "
        "waits until each answers, then runs each workload on every target in turn (so the figures "
        "compared are taken seconds apart; a server waiting for its turn uses no CPU), and at the "
        "end stops them (each gunicorn's whole process group):",
        "",
        "- **bare** (bench/targets/bare.py): a JSON route returning a user-shaped body (no "
        "database, no authentication) and a route doing exactly one bcrypt check at the same cost: "
        "the limit.",
        "- **Flask-Security-Too** (bench/targets/fst.py): the library's SQLAlchemy set-up on SQLite, "
        f"bcrypt at the same cost, token authentication (`auth_required(\"token\")`), JSON login "
        f"and registration; {results.get('targets', {}).get('fst', {}).get('people', s.get('fst_people', 0)):,} "
        "accounts.",
        f"- **Keystead**: `gunicorn wsgi:app` on a temporary instance (SQLite) with "
        f"Password.BcryptRounds = {s['bcrypt_rounds']}, Server.RateLimits = false, "
        "Password.LockoutThreshold = 0 and a Bootstrap administrator; "
        f"{kt.get('people', s['people']):,} people inserted straight into the database beforehand "
        "(the project's models, `insert_many` in batches, one precomputed bcrypt hash, *_key "
        "columns by `app.accounts.normalise`), and documents created through the API when it has "
        "them.",
        "",
        f"Each workload runs for {s['duration_s']:g} s ({s.get('bcrypt_duration_s', s['duration_s']):g} s when "
        f"bcrypt bounds it, for enough logins) at {s['connections']} connections "
        f"({s['wrk_threads']} wrk threads), after {s['warmup_s']:g} s of warm-up unless bcrypt bounds it. "
        "A first request probes the route: a missing one (404/405) or an unexpected answer skips "
        "the workload and says what it saw. Requests per second count completed requests over the "
        "measured time; p50 and p99 come from wrk's latency histogram; errors are responses "
        "other than the workload's expected status plus socket errors. Tokens and session "
        "cookies come from logging in before the workload (the session through /login with its "
        "CSRF token); sign-ups use a new username each request and wrong-password logins a "
        "different seeded account each time (wrk Lua, bench/wrk/workload.lua).",
        "",
        "## Results",
        "",
        _md_table(HEADER, table_rows(results)),
        "",
        "\"vs bare\" and \"vs FST\" divide this row's requests per second by the same workload's "
        "on the bare app and on Flask-Security-Too.",
        "",
        "Resident memory per worker after the run: " + "; ".join(
            f"{TARGET_TITLES[t]} " + ", ".join(f"{v:g} MB" for v in d.get("worker_rss_mb", {}).values())
            for t, d in results.get("targets", {}).items() if d.get("worker_rss_mb")) + ".",
        "",
        f"![requests per second and p99 latency per workload and target]({chart_name})",
        "",
        "## Against the targets",
        "",
        _md_table(["target", "value", "wanted", "verdict", "detail"],
                  [[r["label"], "-" if r["value"] is None else f"{r['value']:g}", r["target"], _verdict(r["met"]),
                    r["detail"]] for r in ratio_rows]),
        "",
        "## What limits each figure",
        "",
        *_limits(results),
        "",
    ]
    for key, title in (("me", "the bearer GET"), ("people_middle", "the people list's middle page")):
        inproc = (results.get("in_process") or {}).get(key) or {}
        if inproc.get("profile_top"):
            lines += [f"## Where {title}'s time goes", "",
                      f"In-process profile of {inproc.get('profile_requests', 0):,} `GET {inproc.get('path')}` "
                      "requests through the WSGI app"
                      + (f" ({inproc['people']:,} people)" if key != "me" else "")
                      + ", pyinstrument, bench/profile.py; seconds in all, hidden frames are library "
                      "internals:", "", "```", inproc["profile_top"].rstrip(), "```", ""]
        if inproc.get("sql"):
            lines += [f"The SQL of one request ({inproc['queries']} queries):", "", "```sql",
                      *inproc["sql"], "```", ""]
    lines += people_search_pg_section(results.get("people_search_pg"))
    lines += [
        "## Running it",
        "",
        "```",
        "make bench                                   # everything, about 5 minutes on 2 cores",
        "make bench BENCH_ARGS=--quick                # a machinery check in under two minutes",
        ".venv-bench/bin/python -m bench.run --targets keystead --workloads get_token login",
        ".venv-bench/bin/python -m bench.report       # rewrite this page from the last results",
        "make bench BENCH_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/postgres   # and the 1M people search",
        ".venv-bench/bin/python -m bench.people_search_pg --database-url postgresql://...   # that alone",
        "```",
        "",
        "Figures from one machine are proportions more than promises: compare targets within one "
        "run, on a machine that is otherwise quiet.",
        "",
    ]
    return "\n".join(lines)


PG_INDEX_CHOICE = [
    "**How PostgreSQL answers it** (app/accounts/search_postgres.py, "
    "app/migrations/m0021_people_search_prefixes.py). The page is ordered by username while a "
    "word may match any of four columns: with a prefix index per column, PostgreSQL had to "
    "collect every match of a common prefix (one letter: a fifth of the people) and sort them, "
    "or walk the username index and test each person until the page was full (tens of "
    "thousands of rows when the matches cluster elsewhere in username order, as first names "
    "do). Both cost what the matches cost. Now a table `user_search_prefix` holds, per person, "
    "each distinct beginning of one to three characters of the four columns with the username "
    "key, keyed by (prefix, username_key): the people a short word matches are one range of "
    "that index, already in username order, so a page reads its own entries (and those before "
    "it) and the count at most 10,001, index only. Several short words are joined on the "
    "username key (PostgreSQL merges the ranges, both in username order). A longer word is "
    "read from four covering indexes (one per column, \"C\" collation, INCLUDE the other "
    "columns, the status and the id): its matches are counted (up to 10,001) and, when 10,000 "
    "or fewer, sorted; beyond, the page walks the prefix entries of its first three characters "
    "in username order and checks each person, most of whom match. Triggers keep the table "
    "(insert, delete, an update changing one of the four columns). Cost: about 7 entries per "
    "person (7.1 million rows at a million people, 380 MB plus a 300 MB index) and 400 MB for "
    "the covering indexes; the migration fills and builds them in one to two minutes per million "
    "people on two cores.",
    "",
    "**Measured, not assumed.** On the same million people: covering indexes alone "
    "(count and sort under 10,000 matches, walk of the username index above) gave a first-name "
    "prefix 57 / 151 ms (p50 / p99), one letter 30 / 130, page 10 of a two-letter prefix "
    "126 / 205; the prefix table brought those to 17 / 33, 9 / 21 and 9 / 19 (50 searches "
    "each, the same machine, load average 4 to 6). Joining the prefix entries of two words by "
    "index lookups (a nested loop) read 33,000 entries one lookup at a time for \"ann dor\" "
    "(283 ms for the count); merging the two ranges took 37 ms. Starting parallel workers for "
    "the prefix entries cost 15 ms for a read of a few hundred entries, so the table is marked "
    "`parallel_workers = 0`. Earlier (text_pattern_ops b-trees against pg_trgm GIN indexes, "
    "the page query of the time): the b-trees were 2 to 5 times faster for rare prefixes and "
    "a one-letter search held no trigram, so pg_trgm was not used; both lose to the prefix "
    "table here, which needs no extension.",
    "",
    "**The count stops at 10,000.** An exact count of a common prefix at a million people (one "
    "letter: up to 205,000 matches) reads every matching entry and row: 373 ms at the median, "
    "1,248 ms at p99 here before the change. The count of a search now reads at most 10,001 "
    "matches (`SELECT count(*) FROM (... LIMIT 10001)`): up to 10,000 it is exact, beyond it "
    "the API answers `total: 10000, total_capped: true` and the pages and the CLI say "
    "\"10000+\". The people list without a search keeps its exact total from the counter the "
    "database keeps (app/migrations/m0008_people_count.py), one row read.",
    "",
    "**Document search** on PostgreSQL is answered from a GIN index on the stored tsvector "
    "column (`document_search_vector`, fastupdate off; app/documents/search.py).",
    "",
]


def people_search_pg_section(pg: dict | None) -> list[str]:
    """The people search at a million people on PostgreSQL (bench/people_search_pg.py)."""
    lines = ["## People search at 1,000,000 people on PostgreSQL", ""]
    if not pg:
        return lines + ["Not run: `make bench BENCH_POSTGRES_URL=postgresql://...` runs it.", "",
                        *PG_INDEX_CHOICE]
    if pg.get("failed"):
        return lines + [f"The run failed: {pg['failed']}.", ""]
    lines += [
        f"Run {pg.get('started_at')}, PostgreSQL {pg.get('server')}, {pg.get('cores')} cores, "
        + (f"load average {', '.join(f'{x:.1f}' for x in pg['load_average_at_start'])} at the start "
           "(the machine's other work competes with PostgreSQL and the app), "
           if pg.get("load_average_at_start") else "")
        + f"{pg['people']:,} people loaded with one COPY in {pg.get('seed_s')} s "
        f"(bench/people_search_pg.py), search prefixes filled and VACUUM ANALYZE in "
        f"{pg.get('prefixes_s')} s. Each kind is "
        f"{pg.get('queries_per_kind')} different searches drawn from people who exist; "
        "`query` is app.accounts.search_users (count, page ids, page rows), `request` is GET "
        "/api/v1/users?q=...&per_page=50 as an administrator through the Flask test client, "
        "`count` the count's statements alone. Milliseconds.",
        "",
        _md_table(["search", "query p50", "query p99", "request p50", "request p99", "count p50",
                   "count p99", "matches (median, max)", "capped"],
                  [[k["title"], _fmt(k["query"]["p50_ms"], 2), _fmt(k["query"]["p99_ms"], 2),
                    _fmt(k["request"]["p50_ms"], 2), _fmt(k["request"]["p99_ms"], 2),
                    _fmt(k["count"]["p50_ms"], 2), _fmt(k["count"]["p99_ms"], 2),
                    f"{k['matches_median']:,}, {k['matches_max']:,}", str(k.get("totals_capped", 0))]
                   for k in pg.get("kinds", {}).values()]),
        "",
    ]
    for note in pg.get("notes", []):
        lines += [note, ""]
    lines += PG_INDEX_CHOICE
    return lines


def write_docs(results: dict, docs_dir: Path) -> None:
    write_chart(results, docs_dir / "performance.png")
    (docs_dir / "performance.md").write_text(markdown(results))


def main() -> int:
    results = json.loads((ROOT / "bench" / "results" / "latest.json").read_text())
    print(text_table(results))
    print()
    print(text_ratios(results))
    write_docs(results, ROOT / "docs")
    return 0


if __name__ == "__main__":
    sys.exit(main())

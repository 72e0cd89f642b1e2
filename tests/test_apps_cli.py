"""Issue 15: `keystead apps list|create|show|update|delete` on the same rules as the API:
one line on stderr and exit 1 for a refusal, the client secret shown once."""
from __future__ import annotations

from test_cli_admin import refused, run


def test_create_show_update_and_delete_an_app(runner, users):
    users.create("ada")
    r = run(runner, "apps", "create", "Grafana", "--host", "Grafana.example.com", "--user", "ada",
            "--redirect-uri", "https://grafana.example.com/login/generic_oauth")
    assert r.exit_code == 0, r.output
    assert "grafana.example.com" in r.output and "client secret:  kss_" in r.output
    assert "not shown again" in r.output
    shown = run(runner, "apps", "show", "grafana")
    assert shown.exit_code == 0 and "kss_" not in shown.output and "who may use it: ada" in shown.output
    r = run(runner, "apps", "update", "Grafana", "--everyone", "--new-secret", "--no-consent")
    assert r.exit_code == 0 and "everyone signed in" in r.output and "kss_" in r.output
    assert "Grafana" in run(runner, "apps", "list").output
    assert run(runner, "apps", "delete", "Grafana", "--yes").exit_code == 0
    assert "0 apps." in run(runner, "apps", "list").output


def test_refusals_are_one_line_and_exit_1(runner):
    refused(run(runner, "apps", "create", "Bad", "--host", "not a host"), "hosts")
    refused(run(runner, "apps", "create", "Bad", "--group", "nosuch"), "nosuch")
    refused(run(runner, "apps", "create", "Bad", "--redirect-uri", "http://example.com/cb"), "https")
    assert run(runner, "apps", "create", "One", "--host", "one.example.com").exit_code == 0
    refused(run(runner, "apps", "create", "Two", "--host", "one.example.com"), "one.example.com")
    refused(run(runner, "apps", "show", "missing"), "No app named")
    refused(run(runner, "apps", "update", "One", "--new-secret"), "redirect URIs")

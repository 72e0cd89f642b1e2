"""Logs: control characters from input never forge lines; secrets never appear."""
import logging

from conftest import STRONG_PASSWORD


def test_control_characters_in_logged_input_are_escaped(app, caplog):
    caplog.set_level(logging.INFO, logger="keystead")
    logging.getLogger("keystead").warning("login of %s", "eve\r\n2026-01-01 INFO keystead: admin logged in")
    record = caplog.records[-1]
    assert "\n" not in record.getMessage() and "\\x0a" in record.getMessage()


def test_passwords_and_tokens_never_reach_the_log(app, client, users, caplog):
    caplog.set_level(logging.DEBUG)
    users.create("ada")
    r = client.post("/api/v1/auth/login", json={"username": "ada", "password": STRONG_PASSWORD})
    client.post("/api/v1/auth/login", json={"username": "ada", "password": "Wrong-Secret-77"})
    text = "\n".join(r_.getMessage() for r_ in caplog.records)
    assert STRONG_PASSWORD not in text and "Wrong-Secret-77" not in text
    assert r.get_json()["access_token"] not in text

"""Issue 18: an API token is its record's id signed with the documented salt of its kind
(so tokens survive a restart and an upgrade), in one canonical spelling only, carrying a
record id and nothing else; ids and families carry 192 and 128 random bits; a pair says
"bearer" and the configured lifetime; a refresh token holds up to its last second, for the
person whose uniquifier it keeps; locking a person also revokes what apps hold for them
through the OpenID Provider (unlocking brings nothing back); pruning deletes exactly the
records dead for over a day, the apps' ones too; every refusal reads the same sentence; the
cache of derived signing keys derives as itsdangerous does and stays bounded. Written to
kill the mutants mutmut found surviving in app/tokens.py (docs/testing.md)."""
from __future__ import annotations

import base64
import secrets
import time

import pytest
import time_machine
from api_support import API, assert_error, bearer, in_db, login, me_status, refresh, users_of
from itsdangerous import Signer, URLSafeSerializer
from itsdangerous.encoding import base64_decode, base64_encode

from keystead import tokens
from keystead.models import Token, User

REFUSAL = "The token is invalid or has expired."


@pytest.fixture
def ada(users):
    return users.create("ada")[0]


def _secret_key(app) -> str:
    return app.extensions["keystead.secret_key"]


def _records(app, kind: str) -> list[Token]:
    return in_db(app, lambda: list(Token.select().where(Token.kind == kind).order_by(Token.created_at)))


def _other_spelling(token: str) -> str:
    """The token with its signature spelled another way that decodes to the same bytes
    (base64 leaves the last character's low bits unused)."""
    payload, _, signature = token.rpartition(".")
    raw = base64_decode(signature)
    for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_":
        other = signature[:-1] + c
        if other != signature and base64_decode(other) == raw:
            return f"{payload}.{other}"
    raise AssertionError("every bit of the signature is used")


# ---------------------------------------------------------------- what a token is

def test_every_refusal_reads_the_same_plain_sentence(client, ada):
    pair = login(client, "ada")
    for r in (client.get(f"{API}/users/me", headers=bearer("not-a-token")),
              refresh(client, pair["access_token"]),
              refresh(client, "not-a-token")):
        assert assert_error(r, 401, "invalid_token")["message"] == REFUSAL


def test_a_pair_is_of_type_bearer_and_expires_in_the_access_lifetime(make_app):
    app = make_app({"Authentication.AccessTokenLifetime": "7m"})
    users_of(app).create("ada")
    client = app.test_client()
    for pair in (login(client, "ada"), refresh(client, login(client, "ada")["refresh_token"]).get_json()):
        assert pair["token_type"] == "bearer"
        assert pair["expires_in"] == 420


def test_a_token_is_its_record_id_signed_with_the_salt_of_its_kind(app, client, ada):
    """A token issued by this process passes in any other with the same key (a restart,
    another worker, the next release): the salts are part of the format."""
    pair = login(client, "ada")
    for kind in ("access", "refresh"):
        record = _records(app, kind)[0]
        signed = URLSafeSerializer(_secret_key(app), salt=f"keystead.token.{kind}").dumps(record.id)
        assert pair[f"{kind}_token"] == signed


def test_a_token_signed_elsewhere_with_the_documented_salt_holds(app, client, ada):
    login(client, "ada")
    access, refresh_record = _records(app, "access")[0], _records(app, "refresh")[0]
    signed_access = URLSafeSerializer(_secret_key(app), salt="keystead.token.access").dumps(access.id)
    signed_refresh = URLSafeSerializer(_secret_key(app), salt="keystead.token.refresh").dumps(refresh_record.id)
    assert me_status(client, signed_access) == 200
    assert refresh(client, signed_refresh).status_code == 200


def test_token_ids_carry_192_random_bits_and_families_128(app, client, ada):
    first, second = login(client, "ada"), login(client, "ada")
    assert first["access_token"] != second["access_token"]
    rows = in_db(app, lambda: list(Token.select()))
    assert len(rows) == 4
    for row in rows:
        assert len(base64.urlsafe_b64decode(row.id + "==")) == 24
        assert len(base64.urlsafe_b64decode(row.family + "==")) == 16
    families = {row.family for row in rows}
    assert len(families) == 2  # one per login, shared by its access and refresh token


def test_another_spelling_of_the_same_signature_is_refused_and_spends_nothing(app, client, ada):
    pair = login(client, "ada")
    for kind, token in (("access", pair["access_token"]), ("refresh", pair["refresh_token"])):
        other = _other_spelling(token)
        with app.app_context():  # itsdangerous itself takes it: only our check refuses it
            URLSafeSerializer(_secret_key(app), salt=f"keystead.token.{kind}").loads(other)
    assert_error(client.get(f"{API}/users/me", headers=bearer(_other_spelling(pair["access_token"]))),
                 401, "invalid_token")
    assert_error(refresh(client, _other_spelling(pair["refresh_token"])), 401, "invalid_token")
    assert me_status(client, pair["access_token"]) == 200
    assert refresh(client, pair["refresh_token"]).status_code == 200


@pytest.mark.parametrize("payload", [5, None, ["id"], {"id": "x"}, True])
def test_a_signed_token_that_carries_no_record_id_is_refused(app, client, ada, payload):
    for kind in ("access", "refresh"):
        forged = URLSafeSerializer(_secret_key(app), salt=f"keystead.token.{kind}").dumps(payload)
        r = (client.get(f"{API}/users/me", headers=bearer(forged)) if kind == "access"
             else refresh(client, forged))
        assert_error(r, 401, "invalid_token")


def test_the_canonical_check_reads_the_last_part_and_refuses_what_is_not_base64():
    assert tokens._canonical("payload.AAAA")
    assert tokens._canonical(".compressed-payload.AAAA")  # a compressed payload starts with "."
    for bad in ("payload.A", "payload.é", "payload.AAA="):
        assert not tokens._canonical(bad)


def test_a_token_of_the_longest_length_is_read_and_a_longer_one_is_not(app):
    """The length limit (checked before any other work) lets exactly MAX_TOKEN_LENGTH pass."""
    serializer = URLSafeSerializer(_secret_key(app), salt="keystead.token.access")
    longest = tokens.MAX_TOKEN_LENGTH

    def signed_of_length(wanted) -> tuple[str, str]:
        for n in range(300, longest):
            for _ in range(8):
                payload = secrets.token_urlsafe(longest)[:n]
                token = serializer.dumps(payload)
                if wanted(len(token)):
                    return payload, token
        raise AssertionError("no such token")

    payload, token = signed_of_length(lambda n: n == longest)
    assert len(token) == longest
    longer_payload, longer = signed_of_length(lambda n: n > longest)
    with app.test_request_context():
        assert tokens._token_id(token, "access") == payload
        assert tokens._token_id(longer, "access") is None
        assert tokens._token_id(longer[:longest - 1], "access") is None  # cut: the signature fails


def test_only_strings_are_tokens(app, ada):
    with app.test_request_context():
        for not_a_string in (5, None, b"bytes", ["x"], {"x": 1}):
            assert tokens.user_for_access_token(not_a_string) is None
            with pytest.raises(tokens.InvalidToken):
                tokens.refresh_token_pair(not_a_string)


def test_the_person_of_an_access_token_is_as_stored_and_unchanged(app, client, ada):
    """What a request gets: the stored person (every field as User.get reads it, nothing
    marked changed, so a later save writes only what the request changes) and the token's
    record id and family."""
    pair = login(client, "ada")
    record = _records(app, "access")[0]

    def look():
        user, ref = tokens.user_for_access_token(pair["access_token"])
        stored = User.get_by_id(ada.id)
        assert user.__data__ == stored.__data__
        assert not user.is_dirty() and user.dirty_fields == []
        assert (ref.id, ref.family) == (record.id, record.family)
    in_db(app, look)


def test_stored_dates_are_read_as_datetimes_whatever_the_driver_gives():
    from datetime import datetime
    when = datetime(2026, 5, 4, 3, 2, 1, 123456)
    assert tokens._fast_datetime(when) == when
    assert tokens._fast_datetime("2026-05-04 03:02:01.123456") == when
    assert tokens._fast_datetime("2026-05-04 03:02:01") == when.replace(microsecond=0)
    assert tokens._fast_datetime(None) is None


def test_the_signing_keys_are_derived_once_per_app_key_and_salt(app, client, ada):
    tokens._KeyCachingSigner._derived.clear()
    pair = login(client, "ada")
    assert me_status(client, pair["access_token"]) == 200
    assert refresh(client, pair["refresh_token"]).status_code == 200
    cached = {(key, salt) for key, salt, *_ in tokens._KeyCachingSigner._derived}
    secret = _secret_key(app).encode()
    assert cached == {(secret, b"keystead.token.access"), (secret, b"keystead.token.refresh")}


# ---------------------------------------------------------------- refresh

def test_a_refresh_token_holds_to_its_last_second(make_app):
    app = make_app({"Authentication.RefreshTokenLifetime": "1h"})
    users_of(app).create("ada")
    client = app.test_client()
    with time_machine.travel(int(time.time()), tick=False) as clock:
        first, second = login(client, "ada"), login(client, "ada")
        clock.shift(3600 - 1)
        assert refresh(client, first["refresh_token"]).status_code == 200
        clock.shift(1)
        assert_error(refresh(client, second["refresh_token"]), 401, "invalid_token")


def test_a_refresh_token_holds_only_for_the_uniquifier_it_was_issued_to(app, client, ada):
    pair = login(client, "ada")
    in_db(app, lambda: User.update(uniquifier="another-uniquifier").where(User.id == ada.id).execute())
    assert_error(refresh(client, pair["refresh_token"]), 401, "invalid_token")
    assert me_status(client, pair["access_token"]) == 401


def test_a_refresh_token_of_a_person_locked_behind_the_servers_back_is_refused(app, client, ada):
    """Locking revokes the tokens; a row that escaped it (a lock written straight into the
    database, a restored backup) is still refused."""
    pair = login(client, "ada")
    in_db(app, lambda: User.update(locked=True).where(User.id == ada.id).execute())
    assert_error(refresh(client, pair["refresh_token"]), 401, "invalid_token")
    in_db(app, lambda: User.update(locked=False).where(User.id == ada.id).execute())
    assert refresh(client, pair["refresh_token"]).status_code == 200


def test_a_refresh_of_an_unknown_record_is_refused(app, client, ada):
    forged = URLSafeSerializer(_secret_key(app), salt="keystead.token.refresh").dumps("no-such-record")
    assert_error(refresh(client, forged), 401, "invalid_token")


def test_a_revoked_refresh_token_is_refused_and_revokes_nothing_else(app, client, ada):
    pair = login(client, "ada")
    in_db(app, lambda: Token.update(revoked=True).where(Token.kind == "refresh").execute())
    assert_error(refresh(client, pair["refresh_token"]), 401, "invalid_token")
    assert me_status(client, pair["access_token"]) == 200  # not taken for a replay


def test_an_exchanged_refresh_token_is_marked_used_and_revoked(app, client, ada):
    pair = login(client, "ada")
    assert refresh(client, pair["refresh_token"]).status_code == 200
    spent = _records(app, "refresh")[0]
    assert spent.used and spent.revoked
    fresh = _records(app, "refresh")[1]
    assert not fresh.used and not fresh.revoked and fresh.family == spent.family


# ---------------------------------------------------------------- revocation and pruning

def _app_tokens(app, client):
    """An OpenID Provider sign-in of olga to an app: its access and refresh token."""
    from oidc_provider_support import exchange, get_code, make_oidc_app
    from oidc_provider_support import login as web_login
    _, client_id, secret = make_oidc_app(app)
    web_login(client, "olga")
    got = exchange(client, client_id, secret, get_code(client, client_id, scope="openid offline_access"))
    assert got.status_code == 200, got.get_data(as_text=True)
    return got.get_json()


def test_locking_revokes_what_apps_hold_and_unlocking_brings_nothing_back(app, users):
    from keystead.accounts import set_locked
    users.create("boss", role="administrator")
    olga = users.create("olga")[0]
    client = app.test_client()
    held = _app_tokens(app, client)
    in_db(app, lambda: set_locked(olga, True))
    in_db(app, lambda: set_locked(User.get_by_id(olga.id), False))
    r = client.get("/oidc/userinfo", headers=bearer(held["access_token"]))
    assert r.status_code == 401


def test_revoking_a_persons_tokens_spares_only_the_family_named(app, client, ada, users):
    grace = users.create("grace")[0]
    mine, other, hers = login(client, "ada"), login(client, "ada"), login(client, "grace")
    keep = _records(app, "access")[0].family
    in_db(app, lambda: tokens.revoke_user_tokens(User.get_by_id(ada.id), except_family=keep))
    assert me_status(client, mine["access_token"]) == 200
    assert me_status(client, other["access_token"]) == 401
    assert me_status(client, hers["access_token"]) == 200
    in_db(app, lambda: tokens.revoke_user_tokens(User.get_by_id(grace.id)))
    assert me_status(client, hers["access_token"]) == 401
    assert me_status(client, mine["access_token"]) == 200


def test_pruning_deletes_records_dead_for_over_a_day_exactly(app, users):
    from keystead.openid_provider.models import IssuedToken
    users.create("olga")
    client = app.test_client()
    _app_tokens(app, client)
    login(client, "olga")
    with time_machine.travel(int(time.time()), tick=False):
        now = int(time.time())
        in_db(app, lambda: Token.update(expires_at=now - 86400).where(Token.kind == "access").execute())
        in_db(app, lambda: Token.update(expires_at=now - 86401).where(Token.kind == "refresh").execute())
        in_db(app, lambda: IssuedToken.update(expires_at=now - 86401).execute())
        assert in_db(app, tokens.prune_expired_tokens) == 1
    assert [t.kind for t in in_db(app, lambda: list(Token.select()))] == ["access"]
    assert in_db(app, lambda: IssuedToken.select().count()) == 0


# ---------------------------------------------------------------- the signing keys

def test_derived_keys_are_itsdangerous_own_for_each_secret_salt_and_rotation():
    cases = [(["first-secret"], "keystead.token.access"), (["second-secret"], "keystead.token.access"),
             (["first-secret"], "keystead.token.refresh"), (["old-secret", "new-secret"], "keystead.token.access")]
    for keys, salt in cases:
        assert tokens._KeyCachingSigner(keys, salt=salt).derive_key() == Signer(keys, salt=salt).derive_key()
    rotated = tokens._KeyCachingSigner(["old-secret", "new-secret"], salt="keystead.token.access")
    assert rotated.derive_key(b"old-secret") == Signer(["old-secret"], salt="keystead.token.access").derive_key()
    # A token signed with the old key still verifies; new ones are signed with the new key.
    old = Signer("old-secret", salt="s").sign("v")
    assert tokens._KeyCachingSigner(["old-secret", "new-secret"], salt="s").unsign(old) == b"v"
    assert tokens._KeyCachingSigner(["old-secret", "new-secret"], salt="s").sign("v") == \
        Signer("new-secret", salt="s").sign("v")


def test_a_key_is_derived_once_and_the_cache_of_keys_holds_up_to_65():
    signer = tokens._KeyCachingSigner("a-secret", salt="s")
    assert signer.derive_key() is signer.derive_key()  # the same object: derived once
    sizes = []
    for i in range(200):
        signer = tokens._KeyCachingSigner(f"secret-{i}", salt="s")
        assert signer.derive_key() == Signer(f"secret-{i}", salt="s").derive_key()
        sizes.append(len(tokens._KeyCachingSigner._derived))
    assert max(sizes) == 65

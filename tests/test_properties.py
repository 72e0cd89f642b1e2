"""Properties of the rule functions, checked by Hypothesis on generated input (issue 6,
item 9): usernames, emails, durations, API tokens and single-use links. Each property runs
a fixed number of examples, derandomized, so the suite stays fast and repeatable."""
from __future__ import annotations

import string
import unicodedata

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from api_support import in_db, users_of
from keystead import accounts
from keystead.config import _UNIT_SECONDS, parse_duration
from keystead.links import InvalidLink, make_link_token, peek_link
from keystead.models import User
from keystead.tokens import issue_token_pair, user_for_access_token

PROPERTY = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
WITH_DATABASE = settings(PROPERTY, max_examples=60)

LETTERS = st.characters(categories=["Lu", "Ll", "Lt", "Lo"])
NAME_CHARS = st.one_of(LETTERS, st.characters(categories=["Nd"]), st.sampled_from("_."))


# ---------------------------------------------------------------- usernames

@st.composite
def valid_usernames(draw):
    name = draw(LETTERS) + "".join(draw(st.lists(NAME_CHARS, min_size=2, max_size=63)))
    nfkc = unicodedata.normalize("NFKC", name)
    # NFKC may turn a letter into something else (a ligature into two letters, a letter-like
    # symbol into a digit): keep the names that are valid as the rules read them.
    assume(3 <= len(nfkc) <= 64 and nfkc[0].isalpha()
           and all(c.isalpha() or c.isdigit() or c in "_." for c in nfkc)
           and nfkc.casefold() not in accounts.RESERVED_USERNAMES)
    return name


@PROPERTY
@given(valid_usernames())
@example("ß" * 64)  # casefolds to 128 characters
@example("ΐ" * 30)  # casefolds to 3 code points each
def test_valid_usernames_pass_and_their_key_is_stable_and_fits_its_column(name):
    problem = accounts.username_problem(name)
    key = accounts.normalise(name)
    if problem is None:
        assert accounts.normalise(key) == key  # normalising twice changes nothing
        assert accounts.normalise(name.upper()) == accounts.normalise(key.upper())
        # The key is what the unique index holds: it must fit User.username_key.
        assert len(key) <= User.username_key.max_length
    else:
        # Only a name whose folded form would not fit may be refused, and it says so.
        assert len(key) > User.username_key.max_length and "characters" in problem


@PROPERTY
@given(st.one_of(st.text(max_size=80), st.binary(max_size=8), st.integers(), st.none()))
def test_invalid_usernames_never_pass(value):
    problem = accounts.username_problem(value)
    if problem is not None:
        return
    nfkc = unicodedata.normalize("NFKC", value)
    assert isinstance(value, str) and 3 <= len(nfkc) <= 64
    assert nfkc[0].isalpha() and all(c.isalpha() or c.isdigit() or c in "_." for c in nfkc)
    assert nfkc.casefold() not in accounts.RESERVED_USERNAMES
    assert len(accounts.normalise(value)) <= User.username_key.max_length


@WITH_DATABASE
@given(name=valid_usernames())
def test_a_valid_username_round_trips_through_the_database(app, name):
    assume(len(accounts.normalise(name)) <= User.username_key.max_length)

    def check():
        user = accounts.create_user(name, None, "correct-horse-battery-staple-42")
        try:
            assert user.username == unicodedata.normalize("NFKC", name)
            for spelling in (name, name.upper(), name.lower(), unicodedata.normalize("NFKD", name)):
                found = accounts.find_user_by_login(spelling)
                assert found is not None and found.id == user.id, spelling
        finally:
            User.delete().where(User.id == user.id).execute()
    in_db(app, check)


# ---------------------------------------------------------------- emails

@PROPERTY
@given(st.emails())
@example("ß" * 60 + "@example.com")
def test_a_clean_email_is_stable_and_its_key_fits_its_column(email):
    try:
        clean = accounts.clean_email(email)
    except ValueError:
        return
    assert accounts.clean_email(clean) == clean
    assert len(accounts.normalise(clean)) <= User.email_key.max_length


# ---------------------------------------------------------------- durations

@PROPERTY
@given(st.integers(min_value=1, max_value=10**6), st.sampled_from(sorted(_UNIT_SECONDS)),
       st.text(" ", max_size=2), st.text(" ", max_size=2))
def test_every_written_duration_parses_to_its_seconds(n, unit, before, after):
    assert parse_duration(f"{before}{n}{unit}{after}") == n * _UNIT_SECONDS[unit]
    assert parse_duration(n * _UNIT_SECONDS[unit]) == n * _UNIT_SECONDS[unit]  # seconds as a number


def _canonical(seconds: int) -> str:
    """The shortest way to write `seconds`, as docs/configuration.md writes durations."""
    for unit in ("d", "h", "m", "s"):
        if seconds % _UNIT_SECONDS[unit] == 0:
            return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    raise AssertionError(seconds)


@PROPERTY
@given(st.integers(min_value=1, max_value=10**9))
def test_any_number_of_seconds_written_and_parsed_again_is_the_same(seconds):
    assert parse_duration(_canonical(seconds)) == seconds


@PROPERTY
@given(st.one_of(st.text(max_size=12), st.integers(max_value=0), st.booleans(), st.floats(),
                 st.none(), st.lists(st.integers(), max_size=2)))
def test_anything_else_is_refused_with_value_error(value):
    if isinstance(value, str) and value.strip()[:-1].isdigit() and value.strip()[-1:] in _UNIT_SECONDS:
        assume(not value.strip()[:-1].isascii() or int(value.strip()[:-1]) < 1)
    try:
        seconds = parse_duration(value)
    except ValueError:
        return
    # Only the grammar's own texts pass: digits, one unit, spaces around.
    assert isinstance(value, str) and seconds >= 1, (value, seconds)
    stripped = value.strip(" \t\n\r\f\v")
    assert stripped[:-1].strip().isdigit() and stripped[-1] in _UNIT_SECONDS, value


# ---------------------------------------------------------------- tokens and links

TOKEN_ALPHABET = string.ascii_letters + string.digits + "-_."
BASE64_URL = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"


@st.composite
def tamperings(draw):
    """A function that changes a token string: one character replaced, dropped or added,
    the token cut short or lengthened, two of its parts swapped, or the last character
    respelled in the bits base64 leaves unused (a 20-byte signature is 27 characters,
    162 bits: the last 2 decode to nothing)."""
    kind = draw(st.sampled_from(["replace", "drop", "insert", "truncate", "append", "swap", "respell"]))
    position = draw(st.integers(min_value=0, max_value=10**6))
    char = draw(st.sampled_from(TOKEN_ALPHABET))
    extra = draw(st.text(TOKEN_ALPHABET, min_size=1, max_size=20))

    def tamper(token: str) -> str:
        i = position % len(token)
        if kind == "replace":
            return token[:i] + char + token[i + 1:]
        if kind == "drop":
            return token[:i] + token[i + 1:]
        if kind == "insert":
            return token[:i] + char + token[i:]
        if kind == "truncate":
            return token[:i]
        if kind == "append":
            return token + extra
        if kind == "respell":
            return token[:-1] + BASE64_URL[BASE64_URL.index(token[-1]) ^ (1 + position % 3)]
        parts = token.split(".")
        return ".".join(reversed(parts))
    tamper.kind = kind
    return tamper


@pytest.fixture
def ada(app):
    return users_of(app).create("ada")[0]


@WITH_DATABASE
@given(tamper=tamperings())
def test_tokens_round_trip_and_any_tampering_is_refused(app, ada, tamper):
    def check():
        pair = issue_token_pair(ada)
        access, refresh = pair["access_token"], pair["refresh_token"]
        found = user_for_access_token(access)
        assert found is not None and found[0].id == ada.id
        assert user_for_access_token(refresh) is None  # a refresh token is no access token
        changed = tamper(access)
        assume(changed != access)
        assert user_for_access_token(changed) is None, (tamper.kind, access, changed)
    in_db(app, check)


@WITH_DATABASE
@given(purpose=st.sampled_from(["verify", "confirm", "reset"]), tamper=tamperings())
def test_links_round_trip_and_any_tampering_is_refused(app, ada, purpose, tamper):
    def check():
        user = User.get_by_id(ada.id)
        token = make_link_token(user, purpose)
        assert peek_link(token, purpose).id == ada.id
        for other in {"verify", "confirm", "reset"} - {purpose}:
            with pytest.raises(InvalidLink):
                peek_link(token, other)  # a link of one kind is no link of another
        changed = tamper(token)
        assume(changed != token)
        with pytest.raises(InvalidLink):
            peek_link(changed, purpose)
    in_db(app, check)


def test_a_token_respelled_in_its_unused_bits_is_refused(app, ada):
    """Found by the tampering property: base64 leaves 2 bits of a 27-character signature
    unused, so 3 other spellings of every token decoded to the same signature and worked."""
    def check():
        for make, holds in ((lambda: issue_token_pair(ada)["access_token"], user_for_access_token),
                            (lambda: make_link_token(User.get_by_id(ada.id), "reset"),
                             lambda t: _link_holds(t, "reset"))):
            token = make()
            assert holds(token)
            last = BASE64_URL.index(token[-1])
            for flip in (1, 2, 3):
                assert not holds(token[:-1] + BASE64_URL[last ^ flip])
    in_db(app, check)


def _link_holds(token: str, purpose: str) -> bool:
    try:
        peek_link(token, purpose)
        return True
    except InvalidLink:
        return False

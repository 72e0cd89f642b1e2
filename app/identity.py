"""The values that cross the provider contract (app/hookspecs.py)."""
from __future__ import annotations

from dataclasses import dataclass, field


class ProviderUnavailable(Exception):
    """Raised by a provider at start-up when it cannot serve: the message says what to
    install or configure."""


@dataclass(frozen=True)
class ProviderInfo:
    """What a provider says of itself."""
    name: str
    title: str
    available: bool = True
    # Why it is not available (shown at start-up and in GET /api/v1/providers).
    unavailable_reason: str | None = None
    supports_password: bool = False          # authenticates a username and password
    supports_registration: bool = False      # people can sign up with it
    supports_password_change: bool = False   # its users can change/reset passwords here
    login_url: str | None = None             # redirect-based: where its login button leads


@dataclass
class Identity:
    """A person as a provider knows them. `subject` is the provider's stable id for them.
    A provider that keeps its people in Keystead's own table (the password provider) sets
    `user_id`; outside providers leave it None and the core maps (provider, subject)."""
    provider: str
    subject: str
    username: str | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    groups: list[str] | None = None
    user_id: int | None = None
    extra: dict = field(default_factory=dict)

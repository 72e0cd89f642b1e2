"""An event observer and password policy, as an auditing or policy plugin would be."""
from keystead import hookimpl


class Recorder:
    def __init__(self):
        self.events = []

    @hookimpl
    def keystead_event(self, event, actor, target, outcome, details):
        self.events.append((event, getattr(actor, "username", None), getattr(target, "username", None),
                            outcome, dict(details)))

    @hookimpl
    def keystead_validate_password(self, password, user_inputs):
        if "keystead" in password.lower():
            return "Do not use the name of this server in your password."
        return None

    def names(self):
        return [e[0] for e in self.events]

"""The sign-up policy administrators control: approval, invitations, allowed email domains,
terms of service and a proof-of-work challenge."""

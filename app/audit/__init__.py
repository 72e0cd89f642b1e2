"""The audit log (docs/administration.md): every account event, written by an event plugin on the
`keystead_event` hook in the same transaction as the change it records."""

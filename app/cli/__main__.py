"""`python -m app.cli`: the `keystead` command."""
from . import main

main()

"""`python -m keystead.cli`: the `keystead` command."""
from . import main

main()

"""Keystead's built-in provider plugins, each registered through the `keystead.providers`
entry-point group in pyproject.toml, exactly as a third-party provider is."""

"""Provider plugins used only by the tests, registered through create_app(plugins=...)."""

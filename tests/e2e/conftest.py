from tests.engine.conftest import demo_home  # noqa: F401  (session fixture shared with e2e)

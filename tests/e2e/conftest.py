"""The e2e tests use the session fixtures of tests/conftest.py (pcscd, demo_home)."""

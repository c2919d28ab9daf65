"""Action tests run against the real reference portal (tests/portal/conftest.py's fixtures)."""

from tests.portal.conftest import (  # noqa: F401 - fixtures
    _module_portal,
    _sanic_many_apps,
    portal,
    template_db,
)

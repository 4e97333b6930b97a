from tests.api.conftest import make_client

__all__ = ["make_client"]

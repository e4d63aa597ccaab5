import pytest


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """Attachments of these tests go to a folder of the test's own, not the user's data folder."""
    settings.MEDIA_ROOT = tmp_path / "media"

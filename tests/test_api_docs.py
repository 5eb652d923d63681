"""Issue 12: the interactive API docs work without internet - Swagger UI and ReDoc come
from the project's own static files (drf-spectacular-sidecar)."""

import re

import pytest
from django.contrib.staticfiles import finders


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_api_docs_load_only_this_sites_static_files(client, superuser, path):
    # given
    client.force_login(superuser)
    # when
    response = client.get(path)
    # then: every script and stylesheet is local and exists
    html = response.content.decode()
    assert response.status_code == 200
    assert "cdn.jsdelivr.net" not in html and "https://" not in response["Content-Security-Policy"]
    assets = re.findall(r'(?:src|href)="(/static/[^"?]+)', html)
    assert any(a.endswith(".js") for a in assets)
    for asset in assets:
        assert finders.find(asset.removeprefix("/static/")), asset

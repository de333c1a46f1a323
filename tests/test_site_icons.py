"""The site's icon: /favicon.ico, which browsers and feed readers ask for without reading a page, and the
links to the icons in every page."""

import pytest

pytestmark = pytest.mark.django_db


def test_favicon_ico_leads_to_the_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == "/static/favicon.ico"
    assert response["Cache-Control"] == "max-age=86400, public"

    icon = client.get(response["Location"])
    assert icon.status_code == 200
    assert icon["Content-Type"] == "image/x-icon"
    body = b"".join(icon.streaming_content)
    assert body[:6] == b"\x00\x00\x01\x00\x03\x00"  # an icon directory with three sizes (16, 32, 48 px)


@pytest.mark.parametrize(
    ("path", "content_type", "start"),
    [
        ("/static/favicon.svg", "image/svg+xml", b"<svg "),
        ("/static/apple-touch-icon.png", "image/png", b"\x89PNG\r\n\x1a\n"),
    ],
)
def test_the_other_icons_are_served(client, path, content_type, start):
    response = client.get(path)
    assert response.status_code == 200
    assert response["Content-Type"].split(";")[0] == content_type
    assert b"".join(response.streaming_content).startswith(start)


def test_every_page_links_the_icons(client):
    html = client.get("/").content.decode()
    assert '<link rel="icon" href="/static/favicon.ico" sizes="32x32">' in html
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html
    assert '<link rel="apple-touch-icon" href="/static/apple-touch-icon.png">' in html

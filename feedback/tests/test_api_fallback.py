"""Every 404 and 405 under /api/ answers JSON, never an HTML page (feedback/api/fallback.py)."""

import pytest

from community.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/battles/abc/",  # the route takes an integer
        "/api/v1/battles/abc/vote/",
        "/api/v1/nothing-here/",
        "/api/v1/nothing%0Ahere/",  # a newline in the path
        "/api/",
    ],
)
def test_a_path_that_names_no_endpoint_is_a_json_404(client, path):
    for method in (client.get, client.post, client.delete):
        response = method(path)
        assert response.status_code == 404, (method, path)
        assert response["Content-Type"] == "application/json"
        assert response.json() == {
            "detail": "No such API endpoint. The endpoints are listed in the OpenAPI schema at /api/schema/."
        }


def test_a_path_without_its_trailing_slash_is_told_the_right_one_not_redirected(client):
    client.force_login(UserFactory())  # a session: still no CSRF page, a JSON 404
    response = client.post("/api/v1/battles/1/vote", {"winner": "tie"}, content_type="application/json")
    assert response.status_code == 404
    assert response.json() == {
        "detail": "No such API endpoint. Did you mean /api/v1/battles/1/vote/ (with a trailing slash)?"
    }


def test_a_method_an_endpoint_does_not_take_is_a_json_405(client):
    response = client.delete("/api/v1/communities/")
    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": 'Method "DELETE" not allowed.'}

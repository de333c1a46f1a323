"""A NUL character anywhere in a request's path, query or form is a clear 400 (PostgreSQL
text cannot hold it, so it must never reach a query)."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    ["/api/v1/leaderboards/?community=a%00b", "/leaderboards/?topic=x%00", "/api/v1/pool/battles/?%00=1"],
)
def test_nul_in_the_query_is_a_400(client, url):
    response = client.get(url)
    assert response.status_code == 400
    assert "NUL" in response.content.decode()


def test_nul_in_a_form_field_is_a_400_and_nothing_is_written(client):
    from community.models import User

    before = User.objects.count()
    response = client.post("/accounts/signup/", {"email": "a\x00@example.org", "password1": "x" * 12})
    assert response.status_code == 400 and User.objects.count() == before


def test_an_api_answer_is_json(client):
    assert client.get("/api/v1/leaderboards/?community=%00").json()["detail"].startswith("The request holds a NUL")

"""The harness itself: the platform is up and the fixtures reach it."""
from tests.security.support import bearer


def test_the_platform_answers_and_both_roles_sign_in(client, admin_token, customer):
    assert client.get("/ready").status_code == 200
    user, token = customer
    assert client.get("/api/v1/users/me", headers=bearer(token)).json()["id"] == user["id"]
    assert client.get("/api/v1/users", headers=bearer(admin_token)).status_code == 200

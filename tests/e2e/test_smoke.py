"""The platform comes up and serves a customer end to end."""


def test_the_gateway_is_alive(client):
    assert client.get("/health").status_code == 200


def test_the_gateway_is_ready_once_every_service_answers(client):
    assert client.get("/ready").status_code == 200


def test_a_new_customer_signs_in_and_reads_their_profile(client, register_customer):
    user, token = register_customer(name="Grace")
    me = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text
    assert (me.json()["id"], me.json()["email"], me.json()["name"]) == (user["id"], user["email"], "Grace")
    assert me.json()["roles"] == ["customer"]


def test_an_admin_made_by_ensure_admin_can_list_users(client, admin_token):
    listing = client.get("/api/v1/users", headers={"Authorization": f"Bearer {admin_token}"})
    assert listing.status_code == 200, listing.text
    assert listing.json()["total"] >= 1

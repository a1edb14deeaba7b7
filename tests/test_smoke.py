from fastapi.testclient import TestClient

from tests.factories import World


def test_pledge_moves_value(client: TestClient, world: World) -> None:
    response = client.post(
        "/api/v1/pledges", json={"code": world.codes[0], "initiative_id": world.initiative_id}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["amount_cents"] == 750
    assert body["voucher_balance_cents"] == 0
    assert body["initiative"] == {
        "id": world.initiative_id,
        "raised_cents": 750,
        "target_cents": 5000,
        "status": "published",
    }

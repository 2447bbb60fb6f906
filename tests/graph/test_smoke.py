from tests.support.client import GraphQLClient

VIEWER = "query { viewer { id email } }"


async def test_viewer_is_null_when_signed_out(client: GraphQLClient) -> None:
    assert await client.data(VIEWER) == {"viewer": None}


async def test_viewer_after_register(client: GraphQLClient) -> None:
    user = await client.register()
    data = await client.data(VIEWER, token=user.access_token)
    assert data == {"viewer": {"id": user.user_id, "email": user.email}}

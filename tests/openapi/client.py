"""Drives tib's API through a client generated from its OpenAPI document
(openapi-python-client): connect an account of the Acme API, sync it now,
wait for the sync, and list every user page by page. Any status the document
does not declare raises.

Usage: client.py API_BASE ADMIN_TOKEN ACME_BASE_URL EXPECTED_USERS
(with the generated package `tib_client` on PYTHONPATH)
"""

import sys
import time

from tib_client import AuthenticatedClient
from tib_client.api.connections import connection, put_connection, sync_now
from tib_client.api.users import users
from tib_client.models import Connected, NewConnection, NewConnectionCredentials, Queued, RunOutcome, State, UsersPage

api_base, token, acme_base, expected = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
client = AuthenticatedClient(base_url=api_base, token=token, raise_on_unexpected_status=True)

credentials = NewConnectionCredentials.from_dict({"tenant": "demo", "api_token": "acme-secret-token-8842"})
body = NewConnection(credentials=credentials, base_url=acme_base)
connected = put_connection.sync_detailed(integration="acme", account="Generated", client=client, body=body)
assert connected.status_code == 201, connected
assert isinstance(connected.parsed, Connected), connected.parsed
assert connected.parsed.state == State.ENABLED, connected.parsed
print(f"connected {connected.parsed.integration}/{connected.parsed.account}")

queued = sync_now.sync(integration="acme", account="Generated", client=client)
assert isinstance(queued, Queued) and queued.queued, queued

deadline = time.monotonic() + 30
while True:
    shown = connection.sync(integration="acme", account="Generated", client=client)
    run = shown.last_run
    if run is not None and run.outcome == RunOutcome.APPLIED:
        break
    assert time.monotonic() < deadline, f"the sync never applied: {shown}"
    time.sleep(0.1)
print(f"synced: {run.pages} pages, {run.added} users added")

listed, cursor = [], None
while True:
    page = users.sync(integration="acme", account="Generated", client=client, limit=100,
                      **({"cursor": cursor} if cursor else {}))
    assert isinstance(page, UsersPage), page
    listed.extend(user.external_id for user in page.users)
    if not page.next_cursor:
        break
    cursor = page.next_cursor
assert len(listed) == len(set(listed)) == expected, (len(listed), expected)
print(f"listed {len(listed)} users")

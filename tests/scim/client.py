"""tib's SCIM service, read by a SCIM client no one here wrote.

Usage: python client.py SCIM_BASE_URL ADMIN_TOKEN USERS
python-scim's scim2-client discovers the service (ServiceProviderConfig,
ResourceTypes, Schemas), then lists, pages, filters and reads users; it
checks every answer against RFC 7643/7644 and raises on one that departs
from them. Exits non-zero, naming the step, when the service does not behave.
"""

import sys

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import ListResponse, SearchRequest

base, token, users = sys.argv[1], sys.argv[2], int(sys.argv[3])


def check(what, condition):
    if not condition:
        print(f"the SCIM service: {what}", file=sys.stderr)
        sys.exit(1)


http = httpx2.Client(base_url=base, headers={"Authorization": f"Bearer {token}"})
scim = SyncSCIMClient(http)
scim.discover()
config = scim.provider.config
check("it says it filters", config.filter.supported)
check("it says it changes nothing", not config.patch.supported and not config.bulk.supported)
user_model = scim.get_resource_model("User")
check("it has a User resource type", user_model is not None)

first = scim.query(user_model, query_parameters=SearchRequest(start_index=1, count=10))
check(f"a ListResponse of 10 from {users}", isinstance(first, ListResponse) and len(first.resources) == 10)
check(f"totalResults is every user ({first.total_results})", first.total_results == users)
check("startIndex and itemsPerPage", first.start_index == 1 and first.items_per_page == 10)

seen, all_names = set(), []
start = 1
while start <= users:
    page = scim.query(user_model, query_parameters=SearchRequest(start_index=start, count=100))
    seen.update(u.id for u in page.resources or [])
    all_names.extend(u.user_name.lower() for u in page.resources or [])
    start += 100
check(f"pages by startIndex cover every user once ({len(seen)} of {users})", len(seen) == users)

one = first.resources[0]
check("a user has an email", one.emails and one.emails[0].value)
by_email = scim.query(user_model, query_parameters=SearchRequest(filter=f'emails.value eq "{one.emails[0].value.upper()}"'))
check("emails.value eq, without regard to case", [u.id for u in by_email.resources or []] == [one.id])
read = scim.query(user_model, one.id)
check("Users/{id} reads that user", read.id == one.id and read.user_name == one.user_name)
check("the licenses are entitlements", read.entitlements and all(e.value for e in read.entitlements))

starts = scim.query(user_model, query_parameters=SearchRequest(filter='userName sw "user1" and active eq true'))
check("sw and eq joined by and", starts.total_results > 0 and all(u.user_name.startswith("user1") and u.active for u in starts.resources))
present = scim.query(user_model, query_parameters=SearchRequest(filter="externalId pr", count=0))
check("pr, and count=0 for the total alone", present.total_results == users and not present.resources)
contains = scim.query(user_model, query_parameters=SearchRequest(filter='emails.value co "er42@"'))
check("co", [u.emails[0].value for u in contains.resources or []] == ["user42@acme.example"])
descending = scim.query(user_model, query_parameters=SearchRequest(sort_by="userName", sort_order="descending", count=20))
names = [u.user_name.lower() for u in descending.resources or []]
check(f"sortBy userName descending: the last 20 names first ({names[:3]})", names == sorted(all_names, reverse=True)[:20])
changed = read.meta.last_modified if read.meta else None
check("meta.lastModified", changed is not None)
newer = scim.query(user_model, query_parameters=SearchRequest(filter=f'meta.lastModified gt "{changed.isoformat()}"', count=0))
check(f"no user changed after the sync ({newer.total_results})", newer.total_results == 0)
since = scim.query(user_model, query_parameters=SearchRequest(filter=f'meta.lastModified ge "{changed.isoformat()}"', count=0))
check(f"every user changed at the sync ({since.total_results})", since.total_results == users)
print(f"scim2-client read {users} users through discovery, pages, filters and a read by id")

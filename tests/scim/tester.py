"""tib's SCIM service checked by scim2-tester, python-scim's conformance checker.

Usage: python tester.py SCIM_BASE_URL ADMIN_TOKEN
Runs the discovery, read, search and pagination checks: the service is read-only, and
says so in its ServiceProviderConfig. A read check that first creates the resource it
reads stops at that creation, which the service refuses with a SCIM error (405): that
refusal is what a read-only service owes, and is counted apart. Prints each check with
its outcome; exits non-zero when any other check does not pass.
"""

import sys

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

base, token = sys.argv[1], sys.argv[2]
http = httpx2.Client(base_url=base, headers={"Authorization": f"Bearer {token}"})
scim = SyncSCIMClient(http)
reads = {"discovery", "service-provider-config", "resource-types", "schemas", "crud:read", "crud:read:attributes", "misc"}
results = check_server(scim, raise_exceptions=False, include_tags=reads)
READ_ONLY = "this SCIM service is read-only"
failed, refused, passed = [], [], []
for result in results:
    print(f"{result.status.name:>8}  {result.title}: {result.reason or ''}".rstrip())
    if result.status == Status.SUCCESS:
        passed.append(result)
    elif result.status != Status.SKIPPED and READ_ONLY in (result.reason or ""):
        refused.append(result)
    elif result.status != Status.SKIPPED:
        failed.append(result)
if failed:
    print(f"{len(failed)} of {len(results)} checks failed", file=sys.stderr)
    sys.exit(1)
if len(passed) < 20:
    print(f"only {len(passed)} checks passed: the checker checked too little", file=sys.stderr)
    sys.exit(1)
print(f"scim2-tester: {len(passed)} checks passed, {len(refused)} stopped at a write the service refuses, none failed")

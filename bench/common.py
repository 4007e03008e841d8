"""What the benchmark scripts share: running a command, and a GraphQL call that fails loudly."""

import json
import subprocess
import urllib.request


def sh(*args, **kwargs):
    """Runs args; fails the benchmark when the command fails."""
    return subprocess.run(args, check=True, **kwargs)


def graphql(address, token, query, variables):
    """POSTs one operation to address/graphql; asserts it answered without errors."""
    request = urllib.request.Request(
        f"{address}/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    body = json.load(urllib.request.urlopen(request))
    assert "errors" not in body, body
    return body["data"]

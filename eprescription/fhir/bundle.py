"""The searchset Bundle that answers a FHIR search, whole or one page of it."""

from urllib.parse import urlencode


def searchset(resources: list[dict], base_url: str, self_url: str) -> dict:
    """Every match, unpaged (a prescription has at most 20 lines and few dispensations)."""
    return _bundle(resources, len(resources), base_url, [("self", self_url)])


def window(count: int, page: int) -> slice:
    """Which matches page `page` (from 1) of `count` holds."""
    return slice((page - 1) * count, page * count)


def paged_searchset(
    chosen: list[dict], total: int, base_url: str, search_url: str, query: dict, page: int
) -> dict:
    """`chosen`, page `page` of `total` matches, with self, first, previous and next links that
    repeat the search `query` (its _count included; POSTed to {search_url}/_search they work
    too)."""
    count = query["_count"]
    start = (page - 1) * count

    def url(number: int) -> str:
        return f"{search_url}?{urlencode({**query, 'page': number})}"

    links = [("self", url(page)), ("first", url(1))]
    if page > 1:
        links.append(("previous", url(page - 1)))
    if start + count < total:
        links.append(("next", url(page + 1)))
    return _bundle(chosen, total, base_url, links)


def _bundle(resources: list[dict], total: int, base_url: str, links: list) -> dict:
    found: dict
    found = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": [{"relation": relation, "url": url} for relation, url in links],
    }
    if resources:  # FHIR JSON has no empty arrays
        found["entry"] = [
            {
                "fullUrl": f"{base_url}/{resource['resourceType']}/{resource['id']}",
                "resource": resource,
                "search": {"mode": "match"},
            }
            for resource in resources
        ]
    return found

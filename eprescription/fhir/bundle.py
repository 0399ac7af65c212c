"""The searchset Bundle that answers a FHIR search."""


def searchset(resources: list[dict], base_url: str, self_url: str) -> dict:
    """Every match, unpaged (a prescription has at most 20 lines and few dispensations)."""
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "link": [{"relation": "self", "url": self_url}],
        "entry": [
            {
                "fullUrl": f"{base_url}/{resource['resourceType']}/{resource['id']}",
                "resource": resource,
                "search": {"mode": "match"},
            }
            for resource in resources
        ],
    }

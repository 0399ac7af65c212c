"""axe-core, vendored from npm into tests/e2e/vendor/axe-core (never served by the app), run in a
Playwright page: the accessibility violations of what the page shows."""

from pathlib import Path

AXE_SOURCE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")


def violations(page, impacts: tuple[str, ...] = BLOCKING) -> list[dict]:
    """The page's axe-core violations of these impacts, each with the rule id and its nodes."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE_SOURCE.read_text(encoding="utf-8"))
    results = page.evaluate("() => window.axe.run(document, {resultTypes: ['violations']})")
    return [rule for rule in results["violations"] if rule["impact"] in impacts]


def report(found: list[dict]) -> str:
    """The violations in words, for a failure message: rule, impact, help, and every node."""
    lines = []
    for rule in found:
        lines.append(f"{rule['id']} ({rule['impact']}): {rule['help']} — {rule['helpUrl']}")
        for node in rule["nodes"]:
            lines.append(f"    {' '.join(map(str, node['target']))}: {node['html'][:200]}")
            lines.append(f"      {node['failureSummary']}".replace("\n", "\n      "))
    return "\n".join(lines)


def walk_failures(page, visited, lang: str) -> list[str]:
    """For each page `visited` yields (by name), in the language `lang`: its violations in
    words, one entry per page that has some."""
    failures = []
    for name in visited:
        assert page.evaluate("document.documentElement.lang") == lang, name
        found = violations(page)
        if found:
            failures.append(f"{name} ({page.url}):\n{report(found)}")
    return failures

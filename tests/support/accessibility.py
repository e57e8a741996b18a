"""The browser tests' Chromium (Debian's, as the Makefile installs it) and axe-core in a real
browser page: the WCAG 2.1 AA violations of a page (the web page's and the console's tests)."""
from __future__ import annotations

import shutil
from typing import Any, Dict, List

from tests.support.paths import ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_violations(page: Any) -> List[Dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    return page.evaluate(
        """async (tags) => {
             const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
             return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                                 nodes: v.nodes.map(n => n.target.join(' '))}));
           }""", WCAG_TAGS)

"""The purged Utrecht CSS still covers the templates, and the static assets stay within budget."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
CSS_DIR = ROOT / "app" / "static" / "css"
UTRECHT_CSS = CSS_DIR / "utrecht.css"

# Every public page loads these; with its HTML a page must stay under 100 KB (uncompressed; the browser
# tests weigh every public page). This leaves at least 18 KB for the HTML itself.
ASSET_BUDGET_BYTES = 82_000

# Utrecht class names a template may use although the purged utrecht.css has no rule for them
# (`purge` lists them): no @utrecht 9.x stylesheet styles them, or only together with a class the
# templates do not use. The components' markup carries them anyway.
NO_RULE_IN_UTRECHT = frozenset(
    {
        "utrecht-form-field--text",  # no rule in @utrecht/form-field-css
        "utrecht-data-list__item",  # only styled inside .utrecht-data-list--rows
    }
)

REVENDOR = (
    "re-run scripts/vendor-frontend (or, with an npm install of @utrecht/component-library-css at hand: "
    "python3 scripts/vendor_frontend_build.py build NODE_MODULES app/static/css/utrecht.css, then "
    "python3 scripts/vendor_frontend_build.py purge); add the class to COMPONENTS in "
    "scripts/vendor_frontend_build.py first if it is not listed there"
)


def _build_module() -> ModuleType:
    name = "vendor_frontend_build"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "vendor_frontend_build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _defined_classes() -> set[str]:
    return set(re.findall(r"\.(utrecht-[A-Za-z0-9_-]+)", UTRECHT_CSS.read_text(encoding="utf-8")))


def test_every_utrecht_class_in_use_has_its_css() -> None:
    build = _build_module()
    files = build.source_files(ROOT / "templates", [ROOT / "app"])
    used, prefixes = build.collect_used_classes(files)
    assert used, "no utrecht-* classes found in templates/ - is the scan broken?"
    defined = _defined_classes()

    missing = sorted(used - defined - NO_RULE_IN_UTRECHT)
    assert not missing, f"utrecht.css has no rule for {missing}: {REVENDOR}"
    empty_prefixes = sorted(p for p in prefixes if not any(c.startswith(p) for c in defined))
    assert not empty_prefixes, f"utrecht.css has no class starting with {empty_prefixes}: {REVENDOR}"
    stale = sorted(NO_RULE_IN_UTRECHT & defined)
    assert not stale, f"{stale} now have rules in utrecht.css; remove them from NO_RULE_IN_UTRECHT"


def test_static_css_and_js_fit_the_page_budget() -> None:
    assets = [UTRECHT_CSS, CSS_DIR / "theme.css", CSS_DIR / "buurtkas.css"]
    assets += sorted((ROOT / "app" / "static" / "js").glob("*.js"))
    sizes = {p.relative_to(ROOT).as_posix(): p.stat().st_size for p in assets if p.exists()}
    assert UTRECHT_CSS.relative_to(ROOT).as_posix() in sizes
    total = sum(sizes.values())
    assert total < ASSET_BUDGET_BYTES, (
        f"static CSS+JS is {total} bytes, budget {ASSET_BUDGET_BYTES}: {sizes}. "
        "Run scripts/vendor-frontend (it purges unused Utrecht rules and theme tokens) or trim buurtkas.css."
    )

"""Build app/static/css/utrecht.css from an npm install of @utrecht/component-library-css.

Maintainer tool, called by scripts/vendor-frontend; neither the app nor CI runs it.

    python scripts/vendor_frontend_build.py build NODE_MODULES OUT.css
    python scripts/vendor_frontend_build.py check-theme UTRECHT.css THEME.css
    python scripts/vendor_frontend_build.py purge --templates templates --css UTRECHT.css --theme THEME.css

`build` takes the per-component stylesheets (`@utrecht/<name>-css/dist/index.css`, the packages
that component-library-css pins), keeps only the selectors whose Utrecht class names are all in
COMPONENTS below, drops private `--_utrecht-*` custom properties that nothing defines or reads,
and writes one minified file with a license header. Standard library only.

`check-theme` lists the `--utrecht-*` properties the built file reads and which of them the theme
sets, leaves to a fallback in utrecht.css, or leaves unset (informational; it does not fail).

`purge` shrinks both files in place to what the pages use. It collects the `utrecht-*` class names
in the templates (`**/*.html`), in the app's Python and JavaScript (`--scan`, default `app`) and in
ALLOW_LIST, then drops from UTRECHT.css every selector that requires another Utrecht class (classes
inside :not(...) are not requirements, as in `build`), rules and @media/@supports blocks left
empty, and private properties nothing reads any more. Then it drops the `--utrecht-*` declarations
of THEME.css that nothing reads: not the purged UTRECHT.css, not the other stylesheets next to
THEME.css (buurtkas.css), not the scanned sources, and not another kept token (transitively).
`--buurtkas-*` tokens, other declarations and comments stay. Purging cannot bring a rule back:
after a template starts using a new class, re-run scripts/vendor-frontend (the theme tokens it
dropped must then be restored by hand; the list is printed).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

# Package (without the "@utrecht/" prefix and "-css" suffix) -> class names kept from it.
# A selector survives only when every Utrecht class it requires is listed here; classes inside
# :not(...) are not requirements. Left out on purpose: Storybook-only pseudo-state classes
# (--hover, --focus, --focus-visible, --active, --visited), button "hint" variants
# (--danger, --ready, --warning), toggle buttons (--pressed), Dutch input-size presets, and
# --disabled / --read-only classes of native controls (the --html-* variants style the real
# disabled / readonly attributes), to keep the file small. button-group is superseded by
# action-group (same layout, also for links).
COMPONENTS: dict[str, list[str]] = {
    "document": ["utrecht-document", "utrecht-document--surface"],
    "body": ["utrecht-body"],
    "page": ["utrecht-page", "utrecht-page__content"],
    "page-layout": ["utrecht-page-layout"],
    "page-header": ["utrecht-page-header", "utrecht-page-header__content"],
    "page-body": ["utrecht-page-body", "utrecht-page-body__content"],
    "page-content": ["utrecht-page-content", "utrecht-page-content__main", "utrecht-page-content__aside"],
    "page-footer": [
        "utrecht-page-footer",
        "utrecht-page-footer__content",
        "utrecht-page-footer__address--reset-address",
    ],
    "heading-1": ["utrecht-heading-1", "utrecht-heading-1--distanced"],
    "heading-2": ["utrecht-heading-2", "utrecht-heading-2--distanced"],
    "heading-3": ["utrecht-heading-3", "utrecht-heading-3--distanced"],
    "heading-4": ["utrecht-heading-4", "utrecht-heading-4--distanced"],
    "paragraph": [
        "utrecht-paragraph",
        "utrecht-paragraph--lead",
        "utrecht-paragraph--small",
        "utrecht-paragraph--distanced",
    ],
    "link": ["utrecht-link", "utrecht-link--html-a", "utrecht-link--current", "utrecht-link--telephone"],
    "button": [
        "utrecht-button",
        "utrecht-button--primary-action",
        "utrecht-button--secondary-action",
        "utrecht-button--subtle",
        "utrecht-button--disabled",
        "utrecht-button--busy",
        "utrecht-button--submit",
        "utrecht-button--distanced",
    ],
    "button-link": [
        "utrecht-button-link",
        "utrecht-button-link--html-a",
        "utrecht-button-link--primary-action",
        "utrecht-button-link--secondary-action",
        "utrecht-button-link--subtle",
    ],
    "form-field": [
        "utrecht-form-field",
        "utrecht-form-field--distanced",
        "utrecht-form-field--invalid",
        "utrecht-form-field--checkbox",
        "utrecht-form-field--radio",
        "utrecht-form-field__label",
        "utrecht-form-field__input",
        "utrecht-form-field__description",
        "utrecht-form-field__description--before",
        "utrecht-form-field__error-message",
        "utrecht-form-field-description",
        "utrecht-form-field-description--invalid",
    ],
    "form-label": [
        "utrecht-form-label",
        "utrecht-form-label--checkbox",
        "utrecht-form-label--radio",
        "utrecht-form-label--disabled",
    ],
    "form-field-description": [
        "utrecht-form-field-description",
        "utrecht-form-field-description--distanced",
        "utrecht-form-field-description--invalid",
        "utrecht-form-field-description--valid",
        "utrecht-form-field-description--warning",
    ],
    "form-field-error-message": ["utrecht-form-field-error-message"],
    "form-fieldset": [
        "utrecht-form-fieldset",
        "utrecht-form-fieldset--html-fieldset",
        "utrecht-form-fieldset--distanced",
        "utrecht-form-fieldset--invalid",
        "utrecht-form-fieldset__fieldset--html-fieldset",
        "utrecht-form-fieldset__legend",
        "utrecht-form-fieldset__legend--html-legend",
        "utrecht-form-fieldset__legend--distanced",
        "utrecht-form-fieldset__legend--disabled",
    ],
    "textbox": [
        "utrecht-textbox",
        "utrecht-textbox--html-input",
        "utrecht-textbox--invalid",
        "utrecht-textbox--numeric",
    ],
    "select": [
        "utrecht-select",
        "utrecht-select--html-select",
        "utrecht-select--invalid",
    ],
    "radio-button": [
        "utrecht-radio-button",
        "utrecht-radio-button--html-input",
        "utrecht-radio-button--invalid",
    ],
    "checkbox": ["utrecht-checkbox", "utrecht-checkbox--html-input"],
    "alert": [
        "utrecht-alert",
        "utrecht-alert--info",
        "utrecht-alert--ok",
        "utrecht-alert--warning",
        "utrecht-alert--error",
        "utrecht-alert__icon",
        "utrecht-alert__content",
        "utrecht-alert__message",
    ],
    "table": [
        "utrecht-table",
        "utrecht-table--html-table",
        "utrecht-table--distanced",
        "utrecht-table-container",
        "utrecht-table-container--overflow-inline",
        "utrecht-table__caption",
        "utrecht-table__header",
        "utrecht-table__body",
        "utrecht-table__footer",
        "utrecht-table__row",
        "utrecht-table__header-cell",
        "utrecht-table__header-cell--numeric-column",
        "utrecht-table__cell",
        "utrecht-table__cell--numeric-column",
        "utrecht-table__cell--numeric-data",
    ],
    "status-badge": [
        "utrecht-status-badge",
        "utrecht-status-badge--neutral",
        "utrecht-status-badge--active",
        "utrecht-status-badge--inactive",
        "utrecht-status-badge--success",
        "utrecht-status-badge--warning",
        "utrecht-status-badge--danger",
        "utrecht-status-badge--error",
    ],
    "breadcrumb-nav": [
        "utrecht-breadcrumb-nav",
        "utrecht-breadcrumb-nav__list",
        "utrecht-breadcrumb-nav__list--html-ol",
        "utrecht-breadcrumb-nav__item",
        "utrecht-breadcrumb-nav__link",
        "utrecht-breadcrumb-nav__link--current",
        "utrecht-breadcrumb-nav__separator",
        "utrecht-breadcrumb-nav__separator--html-li",
    ],
    "unordered-list": [
        "utrecht-unordered-list",
        "utrecht-unordered-list--distanced",
        "utrecht-unordered-list--nested",
        "utrecht-unordered-list__item",
        "utrecht-unordered-list__marker",
    ],
    "separator": ["utrecht-separator", "utrecht-separator--distanced"],
    "action-group": [
        "utrecht-action-group",
        "utrecht-action-group--row",
        "utrecht-action-group--column",
        "utrecht-action-group--column-stretch",
        "utrecht-action-group--distanced",
    ],
    "skip-link": ["utrecht-skip-link", "utrecht-skip-link--visible-on-focus", "utrecht-skip-link--hidden"],
    "data-list": [
        "utrecht-data-list",
        "utrecht-data-list--rows",
        "utrecht-data-list__item",
        "utrecht-data-list__item-key",
        "utrecht-data-list__item-value",
        "utrecht-data-list__item-value--html-dd",
        "utrecht-data-list__item-value--multiline",
        "utrecht-data-list__actions",
        "utrecht-data-list__actions--html-dd",
    ],
    "article": ["utrecht-article"],
}

CLASS_RE = re.compile(r"\.(utrecht-[A-Za-z0-9_-]+)")
VAR_RE = re.compile(r"var\(\s*(--[A-Za-z0-9_-]+)\s*(,)?")


@dataclass
class Rule:
    selectors: list[str]
    decls: list[tuple[str, str]]


@dataclass
class AtRule:
    prelude: str
    children: list[Rule | AtRule] = field(default_factory=list)


Node = Rule | AtRule


# --- parsing -------------------------------------------------------------------------------------


def strip_comments(css: str) -> str:
    out: list[str] = []
    i, n = 0, len(css)
    while i < n:
        c = css[i]
        if c in "\"'":
            j = i + 1
            while j < n and css[j] != c:
                j += 2 if css[j] == "\\" else 1
            out.append(css[i : j + 1])
            i = j + 1
        elif css.startswith("/*", i):
            end = css.find("*/", i + 2)
            i = n if end < 0 else end + 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def split_top(text: str, sep: str) -> list[str]:
    """Split on `sep` outside parentheses, brackets and strings."""
    parts: list[str] = []
    depth, quote, start = 0, "", 0
    i = 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif c == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def find_block_end(css: str, i: int) -> int:
    """Index of the '}' closing the block whose '{' is just before i."""
    depth, quote = 1, ""
    while i < len(css):
        c = css[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError("unbalanced braces")


def parse(css: str) -> list[Node]:
    nodes: list[Node] = []
    i = 0
    while True:
        brace = css.find("{", i)
        semi = css.find(";", i)
        if brace < 0:
            break
        if 0 <= semi < brace and css[i:semi].strip().startswith("@"):
            i = semi + 1  # @charset / @import: dropped (output is ASCII-only, imports unused)
            continue
        prelude = css[i:brace].strip()
        end = find_block_end(css, brace + 1)
        body = css[brace + 1 : end]
        if prelude.startswith("@"):
            if not prelude.startswith(("@media", "@supports")):
                raise ValueError(f"unexpected at-rule {prelude!r}")
            nodes.append(AtRule(" ".join(prelude.split()), parse(body)))
        else:
            decls = []
            for d in split_top(body, ";"):
                name, _, value = d.partition(":")
                decls.append((name.strip(), value.strip()))
            nodes.append(Rule(split_top(prelude, ","), decls))
        i = end + 1
    return nodes


# --- filtering -----------------------------------------------------------------------------------


def required_classes(selector: str) -> set[str]:
    # Classes inside :not(...) only exclude elements; they need not be vendored.
    without_not = selector
    while ":not(" in without_not:
        start = without_not.index(":not(")
        depth, j = 0, start + 4
        while j < len(without_not):
            if without_not[j] == "(":
                depth += 1
            elif without_not[j] == ")":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        without_not = without_not[:start] + without_not[j + 1 :]
    return set(CLASS_RE.findall(without_not))


def filter_nodes(nodes: list[Node], keep: set[str]) -> list[Node]:
    out: list[Node] = []
    for node in nodes:
        if isinstance(node, AtRule):
            children = filter_nodes(node.children, keep)
            if children:
                out.append(AtRule(node.prelude, children))
            continue
        selectors = [s for s in node.selectors if required_classes(s) <= keep]
        if selectors and node.decls:
            out.append(Rule(selectors, node.decls))
    return out


def iter_rules(nodes: list[Node]):
    for node in nodes:
        if isinstance(node, AtRule):
            yield from iter_rules(node.children)
        else:
            yield node


def resolve_var(value: str, undefined: set[str]) -> str:
    """Replace var(--_x, fallback) by fallback when --_x is never defined."""
    out, i = [], 0
    while True:
        m = VAR_RE.search(value, i)
        if not m:
            out.append(value[i:])
            return "".join(out)
        name, has_fallback = m.group(1), m.group(2)
        # find the closing parenthesis of this var(
        depth, j = 1, m.start() + 4
        while depth:
            if value[j] == "(":
                depth += 1
            elif value[j] == ")":
                depth -= 1
            j += 1
        if name in undefined and has_fallback:
            out.append(value[i : m.start()])
            out.append(resolve_var(value[m.end() : j - 1].strip(), undefined))
        else:
            out.append(value[i : m.start() + 4])
            out.append(resolve_var(value[m.start() + 4 : j - 1], undefined))
            out.append(")")
        i = j


def prune_private_properties(nodes: list[Node]) -> None:
    """Remove `--_utrecht-*` properties that no kept rule reads, and inline never-set ones."""
    while True:
        rules = list(iter_rules(nodes))
        defined = {n for r in rules for n, _ in r.decls if n.startswith("--_")}
        read = {m.group(1) for r in rules for _, v in r.decls for m in VAR_RE.finditer(v)}
        undefined = {n for n in read if n.startswith("--_")} - defined
        changed = False
        for r in rules:
            new = []
            for name, value in r.decls:
                if name.startswith("--_") and name not in read:
                    changed = True
                    continue
                resolved = resolve_var(value, undefined)
                changed |= resolved != value
                new.append((name, resolved))
            r.decls = new
        if not changed:
            break

    # rules that lost every declaration
    def drop_empty(ns: list[Node]) -> list[Node]:
        kept: list[Node] = []
        for n in ns:
            if isinstance(n, AtRule):
                n.children = drop_empty(n.children)
                if n.children:
                    kept.append(n)
            elif n.decls:
                kept.append(n)
        return kept

    nodes[:] = drop_empty(nodes)


# --- minified output -----------------------------------------------------------------------------


def ascii_escape(text: str) -> str:
    return "".join(c if ord(c) < 128 else f"\\{ord(c):x} " for c in text)


def min_value(value: str) -> str:
    value = " ".join(value.split())
    value = re.sub(r"\s*,\s*", ",", value)
    value = re.sub(r"\(\s+", "(", value)
    value = re.sub(r"\s+\)", ")", value)
    value = re.sub(r"\s*!important", "!important", value)
    return ascii_escape(value)


def min_selector(selector: str) -> str:
    selector = " ".join(selector.split())
    selector = re.sub(r"\s*([>+~,])\s*", r"\1", selector)
    return ascii_escape(selector)


def serialize(nodes: list[Node]) -> str:
    out = []
    for n in nodes:
        if isinstance(n, AtRule):
            prelude = re.sub(r"\s*([:,])\s*", r"\1", n.prelude).replace(" and(", " and (")
            out.append(f"{prelude}{{{serialize(n.children)}}}")
        else:
            body = ";".join(f"{name}:{min_value(value)}" for name, value in n.decls)
            out.append(f"{','.join(min_selector(s) for s in n.selectors)}{{{body}}}")
    return "".join(out)


def all_classes(css: str) -> list[str]:
    return sorted(set(CLASS_RE.findall(css)))


def build(node_modules: Path, out_path: Path) -> None:
    root = node_modules / "@utrecht"
    lib = json.loads((root / "component-library-css" / "package.json").read_text())
    keep = {c for classes in COMPONENTS.values() for c in classes}
    nodes: list[Node] = []
    report = []
    for name, classes in COMPONENTS.items():
        pkg = f"@utrecht/{name}-css"
        pinned = lib["dependencies"].get(pkg)
        meta = json.loads((root / f"{name}-css" / "package.json").read_text())
        if pinned != meta["version"]:
            raise SystemExit(f"{pkg} {meta['version']} is not the version {lib['name']} pins ({pinned})")
        css = strip_comments((root / f"{name}-css" / "dist" / "index.css").read_text(encoding="utf-8"))
        available = all_classes(css)
        missing = sorted(set(classes) - set(available))
        if missing:
            raise SystemExit(f"{pkg}: listed classes not in the package: {missing}")
        nodes.extend(filter_nodes(parse(css), keep))
        report.append((pkg, meta["version"], available, classes))
    prune_private_properties(nodes)
    body = serialize(nodes)
    header = (
        f"/*! {lib['name']} {lib['version']} (selected components, minified by "
        "scripts/vendor_frontend_build.py)\n"
        " * @license EUPL-1.2\n"
        " * Copyright (c) 2020-2024 Frameless B.V.\n"
        " * Copyright (c) 2021-2024 Gemeente Utrecht\n"
        " * Source: https://github.com/nl-design-system/utrecht - see app/static/LICENSES.md */\n"
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(header + body + "\n", encoding="ascii")
    used = all_classes(body)
    for pkg, version, available, classes in report:
        kept = [c for c in classes if c in used]
        print(f"{pkg} {version}: kept {' '.join(kept)}")
        dropped = [c for c in available if c not in keep]
        if dropped:
            print(f"    not vendored: {' '.join(dropped)}")
    print(f"{out_path}: {len(header) + len(body) + 1} bytes")


# --- theme check ---------------------------------------------------------------------------------


def consumed_properties(css: str) -> dict[str, bool]:
    """--utrecht-* properties read by var(); value True when every read has a fallback."""
    result: dict[str, bool] = {}
    for m in VAR_RE.finditer(css):
        name = m.group(1)
        if name.startswith("--utrecht-"):
            result[name] = result.get(name, True) and bool(m.group(2))
    return result


def check_theme(utrecht_css: Path, theme_css: Path) -> int:
    consumed = consumed_properties(utrecht_css.read_text(encoding="utf-8"))
    defined = set(re.findall(r"(--utrecht-[A-Za-z0-9_-]+)\s*:", strip_comments(theme_css.read_text())))
    required = sorted(n for n, has_fallback in consumed.items() if not has_fallback)
    missing = [n for n in required if n not in defined]
    optional = sorted(n for n, has_fallback in consumed.items() if has_fallback and n not in defined)
    unused = sorted(defined - set(consumed))
    print(f"{len(consumed)} --utrecht-* properties read; {len(required)} without fallback")
    print(f"theme defines {len(defined & set(consumed))} of them")
    if optional:
        print(f"left to utrecht.css fallbacks ({len(optional)}): {' '.join(optional)}")
    if unused:
        print(f"defined but not read by utrecht.css ({len(unused)}): {' '.join(unused)}")
    if missing:
        # Not an error: an unset property without fallback computes to its inherited/initial value,
        # and inside the components' private --_utrecht-* chains it falls through to the next token.
        print(f"not set, no fallback ({len(missing)}): {' '.join(missing)}")
    return 0


# --- purge ---------------------------------------------------------------------------------------

# Utrecht classes the pages get at run time in a way the scan of templates and app code cannot see
# (built from variables, set by a browser-side library, ...). Their rules survive `purge`.
ALLOW_LIST: frozenset[str] = frozenset(
    {
        "utrecht-button--busy",  # app/static/js/enhance.js adds it while a form is being sent
    }
)

# A class name in any source text. The look-behind skips custom properties (--utrecht-*, --_utrecht-*).
USED_CLASS_RE = re.compile(r"(?<![A-Za-z0-9_-])utrecht-[A-Za-z0-9_-]*")
THEME_DECL_RE = re.compile(r"--[A-Za-z0-9_-]+\s*:")


def source_files(templates: Path, scan: list[Path]) -> list[Path]:
    files = sorted(templates.rglob("*.html"))
    for root in scan:
        files += sorted(root.rglob("*.py")) + sorted(root.rglob("*.js"))
    return files


def collect_used_classes(files: list[Path]) -> tuple[set[str], set[str]]:
    """Utrecht class names in the files plus ALLOW_LIST, and the prefixes of names built at run time.

    A name that ends in "-" or "_" (`utrecht-alert--{{ kind }}`) is a prefix: every class that starts
    with it counts as used.
    """
    used, prefixes = set(ALLOW_LIST), set()
    for path in files:
        for token in USED_CLASS_RE.findall(path.read_text(encoding="utf-8")):
            (prefixes if token.endswith(("-", "_")) else used).add(token)
    return used, prefixes


def split_license_header(css: str) -> tuple[str, str]:
    """The leading /*! ... */ or @license comments (kept verbatim) and the rest."""
    header, rest = "", css
    while True:
        m = re.match(r"\s*(/\*.*?\*/)\s*", rest, re.S)
        if not m or not (m.group(1).startswith("/*!") or "@license" in m.group(1)):
            return header, rest
        header += m.group(1) + "\n"
        rest = rest[m.end() :]


def purge_css(css: str, used: set[str], prefixes: set[str]) -> str:
    header, rest = split_license_header(css)
    keep = {c for c in all_classes(css) if c in used or c.startswith(tuple(prefixes))}
    nodes = filter_nodes(parse(strip_comments(rest)), keep)
    prune_private_properties(nodes)
    return header + serialize(nodes) + "\n"


def custom_property_declarations(css: str) -> list[tuple[str, str, int, int]]:
    """(name, value, start, end) of each custom-property declaration inside a block.

    text[start:end] is the declaration including its ";" (the "}" of a last declaration without ";"
    is not included). Comments, strings and nested blocks (@media) are understood.
    """
    found: list[tuple[str, str, int, int]] = []
    i, n, depth, expect = 0, len(css), 0, False
    while i < n:
        if css.startswith("/*", i):
            end = css.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        c = css[i]
        if expect and depth > 0 and not c.isspace():
            expect = False
            m = THEME_DECL_RE.match(css, i)
            if m:
                name = m.group(0)[:-1].strip()
                j, paren, quote = m.end(), 0, ""
                while j < n:
                    d = css[j]
                    if quote:
                        if d == "\\":
                            j += 1
                        elif d == quote:
                            quote = ""
                    elif d in "\"'":
                        quote = d
                    elif d == "(":
                        paren += 1
                    elif d == ")":
                        paren -= 1
                    elif paren == 0 and d in ";}":
                        break
                    j += 1
                end = j + 1 if j < n and css[j] == ";" else j
                found.append((name, css[m.end() : j].strip(), i, end))
                i = end
                expect = True
                continue
        if c in "\"'":
            j = i + 1
            while j < n and css[j] != c:
                j += 2 if css[j] == "\\" else 1
            i = j + 1
            continue
        if c == "{":
            depth += 1
            expect = True
        elif c == "}":
            depth -= 1
            expect = True
        elif c == ";":
            expect = True
        i += 1
    return found


def purge_theme(theme: str, readers: list[str]) -> tuple[str, list[str]]:
    """Drop the --utrecht-* declarations nothing reads; returns the new text and the dropped names."""
    decls = custom_property_declarations(theme)
    defined: dict[str, list[str]] = {}
    for name, value, _, _ in decls:
        defined.setdefault(name, []).append(value)
    # Roots: everything the readers read, and everything the theme reads outside --utrecht-* tokens.
    read = {m.group(1) for text in readers for m in VAR_RE.finditer(text)}
    spans = {(start, end) for _, _, start, end in decls}
    outside = "".join(
        theme[start:end] for start, end in _gaps(spans, len(theme))
    )  # selectors, ordinary declarations
    read |= {m.group(1) for m in VAR_RE.finditer(outside)}
    read |= {
        m.group(1)
        for name, value, _, _ in decls
        if not name.startswith("--utrecht-")
        for m in VAR_RE.finditer(value)
    }
    todo = list(read)
    while todo:
        for value in defined.get(todo.pop(), []):
            for m in VAR_RE.finditer(value):
                if m.group(1) not in read:
                    read.add(m.group(1))
                    todo.append(m.group(1))
    drop = [
        (start, end) for name, _, start, end in decls if name.startswith("--utrecht-") and name not in read
    ]
    dropped = sorted({name for name, _, _, _ in decls if name.startswith("--utrecht-") and name not in read})
    marked = theme
    for start, end in sorted(drop, reverse=True):
        marked = marked[:start] + "\0" + marked[end:]
    return _tidy(marked), dropped


def _gaps(spans: set[tuple[int, int]], n: int) -> list[tuple[int, int]]:
    gaps, pos = [], 0
    for start, end in sorted(spans):
        gaps.append((pos, start))
        pos = end
    gaps.append((pos, n))
    return gaps


def _tidy(marked: str) -> str:
    """Remove the \\0 marks of dropped declarations and the lines they leave empty."""
    lines: list[str] = []
    for line in marked.split("\n"):
        if "\0" in line:
            line = re.sub(r"[ \t]*\0[ \t]*", "", line).rstrip()
            if not line.strip():
                continue
        if not line.strip() and (not lines or not lines[-1].strip() or lines[-1].rstrip().endswith("{")):
            continue  # no blank line after another, at the top or just after "{"
        if line.lstrip().startswith("}") and lines and not lines[-1].strip():
            lines.pop()
        lines.append(line)
    return "\n".join(lines)


def purge(templates: Path, scan: list[Path], css_path: Path, theme_path: Path | None) -> None:
    files = source_files(templates, scan)
    if not any(p.suffix == ".html" for p in files):
        raise SystemExit(f"purge: no templates under {templates}; refusing to empty {css_path}")
    used, prefixes = collect_used_classes(files)
    css = css_path.read_text(encoding="utf-8")
    available = set(all_classes(css))
    purged = purge_css(css, used, prefixes)
    css_path.write_text(purged, encoding="ascii")
    kept = all_classes(purged)
    print(f"purge: {len(used)} Utrecht classes used, {len(prefixes)} prefixes; {len(kept)} classes kept")
    if prefixes:
        print(f"    prefixes (names built at run time): {' '.join(sorted(prefixes))}")
    missing = sorted(used - available)
    if missing:
        print(f"    used but without a rule in {css_path} (not in COMPONENTS, or no CSS in Utrecht):")
        print(f"    {' '.join(missing)}")
    orphaned = sorted((used & available) - set(kept))
    if orphaned:
        print("    used, but every rule for them needs a class not in use (left without a rule):")
        print(f"    {' '.join(orphaned)}")
    print(f"    {css_path}: {len(css.encode())} -> {len(purged.encode())} bytes")
    if theme_path is None:
        return

    theme = theme_path.read_text(encoding="utf-8")
    others = [
        p
        for p in sorted(theme_path.parent.glob("*.css"))
        if p.resolve() not in {css_path.resolve(), theme_path.resolve()}
    ]
    readers = [purged] + [p.read_text(encoding="utf-8") for p in others + files]
    new_theme, dropped = purge_theme(theme, readers)
    theme_path.write_text(new_theme, encoding="utf-8")
    if dropped:
        print(f"    dropped from {theme_path} ({len(dropped)}): {' '.join(dropped)}")
    print(f"    {theme_path}: {len(theme.encode())} -> {len(new_theme.encode())} bytes")


def main(argv: list[str]) -> int:
    if argv[:1] == ["purge"]:
        parser = argparse.ArgumentParser(prog="vendor_frontend_build.py purge")
        parser.add_argument("--templates", type=Path, default=Path("templates"))
        parser.add_argument(
            "--scan", type=Path, action="append", help="folder of .py/.js to scan (default: app)"
        )
        parser.add_argument("--css", type=Path, default=Path("app/static/css/utrecht.css"))
        parser.add_argument(
            "--theme", type=Path, default=None, help="also drop unread --utrecht-* tokens from this file"
        )
        args = parser.parse_args(argv[1:])
        purge(args.templates, args.scan or [Path("app")], args.css, args.theme)
        return 0
    if len(argv) == 3 and argv[0] == "build":
        build(Path(argv[1]), Path(argv[2]))
        return 0
    if len(argv) == 3 and argv[0] == "check-theme":
        return check_theme(Path(argv[1]), Path(argv[2]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

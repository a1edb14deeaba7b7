"""Every template compiles, and every page form posts a CSRF token."""

from __future__ import annotations

import re

from app.templating import TEMPLATE_DIR, environment


def test_every_template_compiles() -> None:
    names = [p.relative_to(TEMPLATE_DIR).as_posix() for p in TEMPLATE_DIR.rglob("*.html")]
    assert len(names) >= 15
    for name in names:
        environment().get_template(name)


def test_every_post_form_carries_a_csrf_token() -> None:
    for path in TEMPLATE_DIR.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        for form in re.findall(r"<form[^>]*>.*?</form>", text, flags=re.S):
            if 'method="post"' in form:
                assert 'name="csrf_token"' in form, f"{path.name}: a post form without csrf_token"

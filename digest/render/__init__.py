"""Render an edition as email: Jinja2 → MJML → HTML (CSS inlined) plus a plain-text part.

One render per distinct category set (a Variant); readers' names and signed links are
substituted into it afterwards. Modules:
    renderer.py   Renderer and Variant: the public entry points
    pipeline.py   Jinja2 → MJML → premailer, with template errors naming file and line
    assembly.py   the fast path: one compile per edition, variants assembled from pieces
    personal.py   placeholders, Personal and personal_for, escaping substitution
    view.py       what templates see (clean text, safe URLs, dates, subject, preheader)
    mjml_check.py line-numbered checks of the MJML template's tags
"""

from digest.render.personal import Personal, personal_for
from digest.render.renderer import Renderer, Variant

__all__ = ["Renderer", "Variant", "Personal", "personal_for"]

"""The slow, exact path: Jinja2 → MJML → HTML → premailer (CSS inlined).

Every failure a template editor can cause becomes a TemplateProblem naming the template
file and line.
"""

from __future__ import annotations

import logging
import re
import traceback
from pathlib import Path

import cssutils
import jinja2
from mjml import mjml_to_html
from premailer import Premailer

from digest.errors import TemplateProblem
from digest.render.mjml_check import check_mjml_source

HTML_TEMPLATE = "digest.mjml.j2"
TEXT_TEMPLATE = "digest.txt.j2"

# cssutils reports every property it does not know (mso-*, overflow-wrap) as an error;
# those are deliberate in email CSS.
cssutils.log.setLevel(logging.CRITICAL)

INLINE_STYLE = re.compile(r"<mj-style\b[^>]*\binline\s*=\s*[\"']inline[\"'][^>]*>(.*?)</mj-style\s*>",
                          re.DOTALL | re.IGNORECASE)
STYLE_TAG = re.compile(r"<style\b", re.IGNORECASE)
DOCTYPE = "<!doctype html>\n"
IGNORE_MARK = ' data-premailer="ignore"'


def make_environment(templates_dir: Path, filters: dict) -> jinja2.Environment:
    """Autoescape for everything but the plain-text template; unknown variables are errors."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        autoescape=lambda name: not (name or "").endswith(".txt.j2"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    environment.filters.update(filters)
    return environment


def load_template(environment: jinja2.Environment, name: str) -> jinja2.Template:
    """Compile one template; the HTML one also has its MJML tags checked."""
    path = Path(environment.loader.searchpath[0]) / name
    try:
        template = environment.get_template(name)
    except jinja2.TemplateNotFound:
        raise TemplateProblem(f"{path}: template not found") from None
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateProblem(f"{exc.filename or path}, line {exc.lineno}: {exc.message}") from None
    if name.endswith(".mjml.j2"):
        problem = check_mjml_source(path.read_text(encoding="utf-8"))
        if problem:
            line, reason = problem
            raise TemplateProblem(f"{path}, line {line}: {reason}")
    return template


def render_template(template: jinja2.Template, context: dict) -> str:
    """Run a template; a failure names the template line that raised it."""
    try:
        return template.render(context)
    except TemplateProblem:
        raise
    except Exception as exc:  # any error inside an editor's template is theirs to fix
        line = _template_line(template.filename, exc)
        where = f"{template.filename}, line {line}" if line else template.filename
        raise TemplateProblem(f"{where}: {type(exc).__name__}: {exc}") from None


def _template_line(filename: str | None, exc: BaseException) -> int | None:
    """Jinja rewrites tracebacks so that template frames carry the template's own line."""
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return exc.lineno
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if filename and frame.filename == filename:
            line = frame.lineno  # the innermost template frame wins
    return line


def compile_mjml(mjml: str, template_path: Path) -> str:
    """MJML → HTML with the template's inline="inline" CSS inlined and every <style> kept."""
    inline_css = "\n".join(INLINE_STYLE.findall(mjml))
    # The mjml package would need css_inline for inline="inline"; premailer does that job.
    mjml = INLINE_STYLE.sub("", mjml)
    try:
        result = mjml_to_html(mjml, template_dir=str(template_path.parent))
    except Exception as exc:  # the mjml package raises bare KeyError/ValueError/AssertionError
        raise TemplateProblem(_mjml_failure(template_path, exc)) from None
    if result.errors:
        raise TemplateProblem(f"{template_path}: MJML: {'; '.join(result.errors)}")
    return inline(result.html, inline_css)


def _mjml_failure(template_path: Path, exc: Exception) -> str:
    reason = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, KeyError) and exc.args and str(exc.args[0]).startswith("mj-"):
        tag = exc.args[0]
        source = template_path.read_text(encoding="utf-8") if template_path.exists() else ""
        for number, text in enumerate(source.splitlines(), 1):
            if f"<{tag}" in text:
                return f"{template_path}, line {number}: <{tag}> is not an MJML element"
        reason = f"<{tag}> is not an MJML element"
    return f"{template_path}: MJML could not compile it: {reason}"


def inline(html: str, css: str) -> str:
    """Inline `css` (the template's own classes) into the elements.

    MJML's own <style> blocks (resets, media queries) and non-inline <mj-style> are kept
    exactly as they are: premailer skips blocks marked data-premailer="ignore".
    """
    marked = STYLE_TAG.sub("<style" + IGNORE_MARK, html)
    premailer = Premailer(
        marked,
        css_text=css or None,
        keep_style_tags=True,
        strip_important=False,
        disable_validation=True,
        allow_network=False,
        allow_loading_external_files=False,
        exclude_pseudoclasses=True,
        remove_classes=False,
        cssutils_logging_level=logging.CRITICAL,
    )
    # Blocks premailer never looked at (inside Outlook conditionals, media="...") keep the mark.
    out = premailer.transform(pretty_print=False).replace(IGNORE_MARK, "")
    if not out.lstrip().lower().startswith("<!doctype"):
        out = DOCTYPE + out
    return out

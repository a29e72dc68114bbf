"""The sandboxed template engine: compile once per version, render many times with bounded output and time.

A template reads the context it is given (plain dicts and strings built by ``context_build``) and nothing else:
Jinja2's ``SandboxedEnvironment`` refuses attribute walks into Python internals (``__class__``, ``mro`` …), and no
model instance is ever put into the context, so there is no ORM to reach. On top of the sandbox:

- output is capped (``MAX_OUTPUT_CHARS``);
- rendering has a deadline (``RENDER_TIMEOUT``): every loop iterates through ``_guarded`` (the parser wraps each
  ``for`` target) and every call goes through ``call``, both of which check the clock; ``range`` and string
  repetition are bounded so no single step can allocate unbounded memory;
- undefined names are errors (``StrictUndefined``) unless the author gave a fallback with ``default``, which also
  applies to empty values, so ``{{ contact.first_name | default("there") }}`` greets a contact with a blank name.
"""

from __future__ import annotations

import contextvars
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import css_inline
import html2text
from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.runtime import Undefined
from jinja2.sandbox import SandboxedEnvironment

from kith.core.errors import KithError

# A marketing e-mail is rarely over 100 KB; ten times that is a runaway loop, not a newsletter.
MAX_OUTPUT_CHARS = 1_000_000
# A 10 KB template renders in tens of microseconds; a render still running after this is a loop, not content.
RENDER_TIMEOUT = 0.5
MAX_RANGE = 10_000
# Loops check the clock every this many items: often enough to stop within milliseconds, rarely enough to be free.
_CHECK_EVERY = 256

_deadline: contextvars.ContextVar[float] = contextvars.ContextVar("kith_render_deadline", default=0.0)


class TemplateRenderError(KithError):
    """A template failed to compile or render. ``line`` is the template line, when known."""

    def __init__(self, message: str, *, field: str | None = None, line: int | None = None) -> None:
        super().__init__(f"{message} (line {line})" if line else message, field=field)
        self.line = line


def _check_deadline() -> None:
    deadline = _deadline.get()
    if deadline and time.monotonic() > deadline:
        raise SecurityError(f"the template took longer than {RENDER_TIMEOUT} s to render")


def _guarded(iterable: Iterable[Any]) -> Iterator[Any]:
    for index, item in enumerate(iterable):
        if index % _CHECK_EVERY == 0:
            _check_deadline()
        yield item


def _bounded_range(*args: int) -> range:
    result = range(*args)
    if len(result) > MAX_RANGE:
        raise SecurityError(f"range() is limited to {MAX_RANGE} items in templates")
    return result


def _default(value: Any, default_value: Any = "", boolean: bool = True) -> Any:
    """Jinja's ``default``, but an empty string or None also falls back (what merge-tag authors mean)."""
    if isinstance(value, Undefined) or value is None or (boolean and not value):
        return default_value
    return value


class KithSandbox(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(undefined=StrictUndefined, keep_trailing_newline=True, **kwargs)
        self.globals = {"range": _bounded_range, "_kith_guard": _guarded}
        self.filters["default"] = _default
        self.filters["d"] = _default

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Call(nodes.Name("_kith_guard", "load"), [loop.iter], [], None, None,
                                   lineno=loop.lineno)
        return tree

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        _check_deadline()
        return super().call(context, obj, *args, **kwargs)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int) and abs(right) > 64:
            raise SecurityError("exponent too large")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(times, int) and len(seq) * times > MAX_RANGE:
                    raise SecurityError("repetition too large")
        return super().call_binop(context, operator, left, right)


# One environment per escaping mode; both are immutable after creation and shared across threads.
HTML_ENV = KithSandbox(autoescape=True)
TEXT_ENV = KithSandbox(autoescape=False)


@dataclass(frozen=True)
class CompiledPart:
    """A compiled template part. ``render`` enforces the output cap and the deadline."""

    field: str
    template: Any

    def render(self, context: dict[str, Any], *, max_chars: int = MAX_OUTPUT_CHARS) -> str:
        token = _deadline.set(time.monotonic() + RENDER_TIMEOUT)
        try:
            # The size is checked after rendering: measuring every chunk costs more than the render itself, and
            # the deadline already bounds what a runaway loop can produce (loops and calls stop at RENDER_TIMEOUT,
            # range() and repetition are capped), so the worst case is a few MB for half a second.
            output = self.template.render(context)
        except (TemplateError, ArithmeticError, TypeError, ValueError, LookupError) as exc:
            raise TemplateRenderError(_describe(exc), field=self.field, line=_error_line(exc)) from exc
        finally:
            _deadline.reset(token)
        if len(output) > max_chars:
            raise TemplateRenderError(f"The rendered {self.field} is longer than {max_chars:,} characters.",
                                      field=self.field)
        return output


def compile_part(source: str, *, field: str, html: bool) -> CompiledPart:
    """Compile one part (subject, html, text …). Raises ``TemplateRenderError`` with the line of a syntax error."""
    try:
        return CompiledPart(field=field, template=(HTML_ENV if html else TEXT_ENV).from_string(source))
    except TemplateSyntaxError as exc:
        raise TemplateRenderError(exc.message or "Syntax error", field=field, line=exc.lineno) from exc


def _describe(exc: Exception) -> str:
    if isinstance(exc, UndefinedError):
        return f"{exc.message}; give a fallback with | default(\"…\")"
    return str(exc) or type(exc).__name__


def _error_line(exc: BaseException) -> int | None:
    """The template line of a runtime error: Jinja maps template frames to filenames '<template>'."""
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


# --- preparing a version: CSS inlining and the text part -------------------------------------------------------

_TEMPLATE_SYNTAX = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)


def css_inline_template(html: str) -> str:
    """Inline ``<style>`` rules into ``style`` attributes, keeping the Jinja syntax intact.

    The HTML parser would move text it finds between table rows (``{% for %}`` around a ``<tr>``) and may touch
    attribute text, so each tag is swapped for a placeholder first: block tags become HTML comments (allowed
    anywhere, kept in place), expressions become plain words; both are swapped back afterwards."""
    if not html.strip():
        return html
    saved: list[str] = []

    def stash(match: re.Match[str]) -> str:
        saved.append(match.group(0))
        index = len(saved) - 1
        return f"KITHX{index}X" if match.group(0).startswith("{{") else f"<!--KITHB{index}B-->"

    protected = _TEMPLATE_SYNTAX.sub(stash, html)
    try:
        inlined = css_inline.inline(protected)
    except ValueError as exc:
        raise TemplateRenderError(f"The CSS could not be inlined: {exc}", field="html") from exc
    inlined = re.sub(r"<!--KITHB(\d+)B-->", lambda m: saved[int(m.group(1))], inlined)
    return re.sub(r"KITHX(\d+)X", lambda m: saved[int(m.group(1))], inlined)


def text_from_html(html: str) -> str:
    """A readable text part: links kept inline, no line wrapping (the MIME encoder wraps). Template syntax is
    swapped for plain words during the conversion so html2text neither drops nor escapes it."""
    saved: list[str] = []

    def stash(match: re.Match[str]) -> str:
        saved.append(match.group(0))
        return f"KITHX{len(saved) - 1}X"

    converter = html2text.HTML2Text()
    converter.body_width = 0
    converter.ignore_images = True
    converter.inline_links = True
    converter.protect_links = True
    text = converter.handle(_TEMPLATE_SYNTAX.sub(stash, html)).strip() + "\n"
    return re.sub(r"KITHX(\d+)X", lambda m: saved[int(m.group(1))], text)

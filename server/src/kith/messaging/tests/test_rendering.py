"""The sandbox: templates read their context and nothing else, within bounded time and output."""

from __future__ import annotations

import time

import pytest

from kith.messaging.rendering import (
    MAX_OUTPUT_CHARS,
    TemplateRenderError,
    compile_part,
    css_inline_template,
    text_from_html,
)


def render(source: str, context: dict[str, object] | None = None, *, html: bool = True) -> str:
    return compile_part(source, field="html", html=html).render(context or {})


def test_merge_tags_render_with_defaults_for_missing_and_empty_values():
    source = "Hi {{ contact.first_name | default('there') }}, {{ contact.nickname | default('friend') }}"
    assert render(source, {"contact": {"first_name": ""}}) == "Hi there, friend"
    assert render(source, {"contact": {"first_name": "Ada"}}) == "Hi Ada, friend"


def test_html_parts_are_autoescaped_and_text_parts_are_not():
    assert render("{{ x }}", {"x": "<b>&</b>"}) == "&lt;b&gt;&amp;&lt;/b&gt;"
    assert render("{{ x }}", {"x": "<b>&</b>"}, html=False) == "<b>&</b>"


def test_an_undefined_name_is_an_error_naming_the_line():
    with pytest.raises(TemplateRenderError) as caught:
        render("line one\nline two {{ contact.first_name }}", {})
    assert caught.value.line == 2
    assert "default" in caught.value.message


def test_a_syntax_error_names_its_line():
    with pytest.raises(TemplateRenderError) as caught:
        compile_part("ok\nok\n{% if %}", field="html", html=True)
    assert caught.value.line == 3


@pytest.mark.parametrize("source", [
    "{{ x.__class__.__mro__ }}",
    "{{ x.__init__.__globals__ }}",
    "{{ ''.__class__.__subclasses__() }}",
    "{{ x.format.__self__ }}{{ cycler.__init__.__globals__ }}",
])
def test_templates_cannot_walk_into_python_internals(source: str):
    with pytest.raises(TemplateRenderError):
        render(source, {"x": "value"})


def test_runaway_loops_stop_at_the_deadline():
    source = ("{% set r = range(10000) %}{% for a in r %}{% for b in r %}{% for c in r %}"
              "{% endfor %}{% endfor %}{% endfor %}")
    started = time.monotonic()
    with pytest.raises(TemplateRenderError, match="longer than"):
        render(source)
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("source", ["{{ 'x' * 100000000 }}", "{{ range(100000000) | list }}", "{{ 9 ** 99999 }}"])
def test_huge_allocations_are_refused(source: str):
    with pytest.raises(TemplateRenderError):
        render(source)


def test_output_is_capped():
    with pytest.raises(TemplateRenderError, match="longer than"):
        render("{% for i in range(10000) %}{{ x }}{% endfor %}", {"x": "y" * (MAX_OUTPUT_CHARS // 5000)})


def test_css_is_inlined_without_breaking_template_syntax_in_tables():
    source = ("<style>td { color: red }</style><table>{% for item in items %}<tr><td>{{ item }}</td></tr>"
              "{% endfor %}</table>")
    inlined = css_inline_template(source)
    assert 'style="color: red;"' in inlined
    out = render(inlined, {"items": ["a", "b"]})
    assert out.count("color: red") == 2 and ">a<" in out and ">b<" in out


def test_the_text_part_keeps_merge_tags_and_links():
    text = text_from_html('<h1>Hi {{ contact.first_name }}</h1><p>See <a href="https://x.test/a_b">this</a></p>')
    assert "{{ contact.first_name }}" in text
    assert "https://x.test/a_b" in text

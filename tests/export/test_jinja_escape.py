"""The Jinja export renders any literal text as itself: hostile text next to and between variables."""
import jinja2
import pytest

from promptsearch.data.dataset import Example
from promptsearch.export.jinja import to_jinja
from promptsearch.export.source import split_slots
from promptsearch.render.prompt import PromptTemplate, slot
from promptsearch.strategies import DIRECT

HOSTILE = [
    "plain text",
    "{{ x }} and {% if y %} and {# c #} and {%- raw -%} {{- z -}}",
    "ends with a brace {",
    "brace then variable {" + slot("a") + "} done",
    "{{" + slot("a") + "}}",
    "{%" + slot("a") + "%}",
    "{#" + slot("a") + "#}",
    "windows\r\nline\rends\r\n",
    "trailing newline\n",
    "two trailing newlines\n\n",
    "\n  leading whitespace and a newline at the end\n",
    slot("a") + slot("b"),
    "{" + slot("a") + "{" + slot("b") + "{",
    "}} %} #} closers alone",
    "{% endraw %}{% raw %}",
    "unicode ✓ «quotes» \\ backslash 'single' \"double\"",
    "\r",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_renders_exactly(text):
    fields = ("a", "b")
    template = PromptTemplate(text, " ", fields, DIRECT)
    for values in ({"a": "A", "b": "B"}, {"a": "{{ evil }}", "b": "{% x %}\r\n"}):
        expected = template.fill(Example("x", values))
        assert jinja2.Template(to_jinja(template)).render(**values) == expected
        # and in an Environment with the usual options for prompt files
        env = jinja2.Environment(keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
        assert env.from_string(to_jinja(template)).render(**values) == expected


def test_variables_are_the_input_fields():
    template = PromptTemplate("A: " + slot("a") + "\nB: " + slot("b") + "\nC:", " ", ("a", "b"), DIRECT)
    source = to_jinja(template)
    env = jinja2.Environment()
    from jinja2 import meta
    assert meta.find_undeclared_variables(env.parse(source)) == {"a", "b"}
    assert source == "A: {{ a }}\nB: {{ b }}\nC:"


def test_split_slots_round_trips():
    text = "x" + slot("a") + "y" + slot("b") + slot("a")
    pieces = split_slots(PromptTemplate(text, "", ("a", "b"), DIRECT))
    assert pieces == [("text", "x"), ("field", "a"), ("text", "y"), ("field", "b"), ("field", "a")]

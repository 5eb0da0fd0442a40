"""Every word a template shows is marked for translation (and the catalogue test makes sure
each has its Persian): text between tags, and the attributes people read."""

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
# Attributes whose values people read (or hear, through a screen reader).
READ_ATTRIBUTES = re.compile(
    r'\b(?:placeholder|title|aria-label|alt|data-confirm)="([^"]*)"', flags=re.IGNORECASE
)
# Text that needs no translation: brand-free symbols, units and codes.
ALLOWED = {"MEDDIC", "Daramad", "English", "CSV", "API", "JSON", "ZIP", "UTF", "BOM", "Excel"}
# Templates that are not ours to translate (vendored API docs).
SKIP = {"drf_spectacular"}


def _untranslated(source: str) -> list[str]:
    text = re.sub(r"\{#.*?#\}", "", source, flags=re.S)
    text = re.sub(r"\{%\s*comment\s*%\}.*?\{%\s*endcomment\s*%\}", "", text, flags=re.S)
    text = re.sub(
        r"\{%\s*blocktrans(?:late)?\b.*?\{%\s*endblocktrans(?:late)?\s*%\}", "", text, flags=re.S
    )
    # Blocks that hold CSS class names ({% block main_class %}page wide{% endblock %}).
    text = re.sub(r"\{%\s*block\s+\w*class\s*%\}.*?\{%\s*endblock\s*%\}", "", text, flags=re.S)
    text = re.sub(r"\{%.*?%\}|\{\{.*?\}\}", "\x00", text, flags=re.S)
    text = re.sub(r"<(script|style)\b.*?</\1>", "", text, flags=re.S | re.IGNORECASE)
    problems = [value for value in READ_ATTRIBUTES.findall(text) if _has_words(value)]
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = re.sub(r"<[^>]*>", " ", text)
    text = re.sub(r"&[a-zA-Z]+;|&#\d+;", " ", text)
    problems += [chunk.strip() for chunk in text.split("\x00") if _has_words(chunk)]
    return problems


def _has_words(chunk: str) -> bool:
    words = re.findall(r"[A-Za-z]{2,}", chunk.replace("\x00", " "))
    return any(word not in ALLOWED for word in words)


def test_every_template_string_is_marked_for_translation():
    found = {}
    for path in sorted(TEMPLATES.rglob("*.html")):
        if SKIP & set(path.relative_to(TEMPLATES).parts):
            continue
        problems = _untranslated(path.read_text(encoding="utf-8"))
        if problems:
            found[str(path.relative_to(TEMPLATES))] = problems
    assert found == {}


def test_the_check_catches_unmarked_text():
    assert _untranslated("<p>Hello {{ name }}</p>") == ["Hello"]
    assert _untranslated('<input placeholder="Search…">') == ["Search…"]
    assert _untranslated('<p>{% translate "Hello" %} {{ x|date:"Y-m-d" }}</p>') == []
    assert _untranslated("{% blocktranslate %}Hi {{ x }}{% endblocktranslate %}") == []

from pathlib import Path

import polib

CATALOGUE = Path(__file__).resolve().parents[2] / "locale" / "fa" / "LC_MESSAGES" / "django.po"


def test_every_string_in_the_persian_catalogue_is_translated():
    po = polib.pofile(str(CATALOGUE))
    untranslated = [
        e.msgid
        for e in po
        if (not e.msgstr and not all(e.msgstr_plural.values() or [""])) or "fuzzy" in e.flags
    ]
    assert untranslated == []


def test_placeholders_survive_translation():
    import re

    po = polib.pofile(str(CATALOGUE))
    for entry in po:
        names = sorted(set(re.findall(r"%\((\w+)\)s", entry.msgid)))
        for translated in [entry.msgstr, *entry.msgstr_plural.values()]:
            if translated:
                assert sorted(set(re.findall(r"%\((\w+)\)s", translated))) == names, entry.msgid

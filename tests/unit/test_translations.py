from pathlib import Path

import polib

CATALOGUE = Path(__file__).resolve().parents[2] / "locale" / "fa" / "LC_MESSAGES" / "django.po"


def test_every_string_in_the_persian_catalogue_is_translated():
    po = polib.pofile(str(CATALOGUE))
    untranslated = [e.msgid for e in po if not e.msgstr or "fuzzy" in e.flags]
    assert untranslated == []


def test_placeholders_survive_translation():
    import re

    po = polib.pofile(str(CATALOGUE))
    for entry in po:
        names = sorted(re.findall(r"%\((\w+)\)s", entry.msgid))
        assert sorted(re.findall(r"%\((\w+)\)s", entry.msgstr)) == names, entry.msgid

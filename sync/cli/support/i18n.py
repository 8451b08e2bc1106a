"""The coordinator's command line in English or Dutch: gettext catalogues, made with Babel.

The texts marked with ``texts(...).gettext`` / ``ngettext`` in ``sync/cli`` are extracted with
Babel's tools into ``sync/cli/support/locale/mcm-sync.pot`` and translated in
``sync/cli/support/locale/<lang>/LC_MESSAGES/mcm-sync.po`` (see ``docs/dates-and-languages.md``);
the ``.po`` file is read here with Babel and compiled in memory, so no binary file is kept
in the repository.

The language: ``MCM_SYNC_LANG`` if set, else the alliance's language when there is a
catalogue for it, else the locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``), else English.
Exit codes and ``--json`` output never change with the language.
"""

from __future__ import annotations

import gettext
import io
import os
from functools import cache
from pathlib import Path

DOMAIN = "mcm-sync"
LOCALE_DIR = Path(__file__).parent / "locale"
ENGLISH = "en"


def catalogue_languages() -> tuple[str, ...]:
    """The languages the command line speaks besides English (those with a catalogue)."""
    found = LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")
    return tuple(sorted(path.parent.parent.name for path in found))


def cli_language(alliance_language: str | None = None) -> str:
    """The coordinator's language (see the module doc)."""
    known = catalogue_languages()
    chosen = os.environ.get("MCM_SYNC_LANG", "").strip().lower()[:2]
    if chosen:
        return chosen if chosen in known else ENGLISH
    if alliance_language in known:
        return str(alliance_language)
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable, "")[:2].lower()
        if value:
            return value if value in known else ENGLISH
    return ENGLISH


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The catalogue of ``language`` (English: the texts as written)."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if language == ENGLISH or not path.exists():
        return gettext.NullTranslations()
    # Babel only when a catalogue is read: English start-up (`--help`, cron) does without.
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with path.open("rb") as source:
        catalog = read_po(source, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue where it is translated later (a table of names)."""
    return message


def texts(alliance_language: str | None = None) -> gettext.NullTranslations:
    """The translations the command line uses now, for an alliance of this language."""
    return translations(cli_language(alliance_language))

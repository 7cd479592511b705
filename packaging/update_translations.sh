#!/usr/bin/env bash
# Refresh the translation sources resources/i18n/dicom_viewer_<lang>.ts from the strings in
# viewer/gui/*.py (self.tr / QCoreApplication.translate), then list what is left to translate.
#
#   packaging/update_translations.sh            refresh every .ts
#   packaging/update_translations.sh ja_JP      also start a new language
#
# lupdate keeps every existing translation whose context and source text are unchanged and drops
# strings the code no longer has (-no-obsolete). A new string whose exact text already had one
# translation elsewhere in the file (say, moved to another class) gets it back, marked finished;
# everything else new is left unfinished and listed here. Translate those in Qt Linguist
# (.venv/bin/pyside6-linguist FILE.ts) or in the XML (fill <translation>, drop
# type="unfinished"), then run tests/gui/test_i18n.py. Exit status 1 while anything is unfinished.
# packaging/install.sh compiles the .ts files to viewer/gui/translations/*.qm.
set -euo pipefail
cd "$(dirname "$0")/.."

LUPDATE=${LUPDATE:-.venv/bin/pyside6-lupdate}
PY=${PY:-.venv/bin/python}
# Keep these options in step with tests/gui/test_i18n.py: no source locations (line numbers would
# change the .ts on every edit of the code).
LUPDATE_OPTIONS=(-silent -locations none -no-obsolete)

mkdir -p resources/i18n
for lang in "$@"; do
  ts="resources/i18n/dicom_viewer_${lang}.ts"
  [ -e "$ts" ] || "$LUPDATE" "${LUPDATE_OPTIONS[@]}" -target-language "$lang" viewer/gui/*.py -ts "$ts"
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/ts.py" <<'PYTHON'
"""reuse TS BEFORE: give unfinished messages the one earlier translation of the same text.
list TS: print the unfinished messages; exit 1 when there are any."""
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict


def finished(message: ET.Element) -> bool:
    translation = message.find("translation")
    if translation is None or translation.get("type") in ("unfinished", "vanished", "obsolete"):
        return False
    forms = translation.findall("numerusform") or [translation]
    return all((form.text or "").strip() for form in forms)


def reuse(path: str, before: str) -> None:
    known: dict[str, set[str]] = defaultdict(set)
    for message in ET.parse(before).getroot().iter("message"):
        if finished(message) and message.get("numerus") != "yes":
            known[message.findtext("source") or ""].add(message.findtext("translation") or "")
    tree = ET.parse(path)
    reused = []
    for context in tree.getroot().iter("context"):
        for message in context.iter("message"):
            source = message.findtext("source") or ""
            translation = message.find("translation")
            choices = known.get(source, set())
            if finished(message) or translation is None or len(choices) != 1:
                continue
            if message.get("numerus") == "yes":
                continue
            translation.text = next(iter(choices))
            translation.attrib.pop("type", None)
            reused.append((context.findtext("name"), source))
    if reused:
        tree.write(path, encoding="utf-8", xml_declaration=True)  # lupdate re-formats it next
    for name, source in reused:
        print(f"{path}: reused the earlier translation for {name}: {source!r}")


def unfinished(path: str) -> None:
    missing = [
        (context.findtext("name"), message.findtext("source"))
        for context in ET.parse(path).getroot().iter("context")
        for message in context.iter("message")
        if not finished(message)
    ]
    for name, source in missing:
        print(f"{path}: unfinished in {name}: {source!r}")
    print(f"{path}: {len(missing)} unfinished", file=sys.stderr)
    sys.exit(1 if missing else 0)


if sys.argv[1] == "reuse":
    reuse(sys.argv[2], sys.argv[3])
else:
    unfinished(sys.argv[2])
PYTHON

status=0
for ts in resources/i18n/dicom_viewer_*.ts; do
  lang=${ts##*/dicom_viewer_}
  lang=${lang%.ts}
  cp "$ts" "$tmp/before.ts"
  "$LUPDATE" "${LUPDATE_OPTIONS[@]}" -target-language "$lang" viewer/gui/*.py -ts "$ts"
  "$PY" "$tmp/ts.py" reuse "$ts" "$tmp/before.ts"
  # Once more: lupdate writes the file in its own layout again (and drops nothing translated).
  "$LUPDATE" "${LUPDATE_OPTIONS[@]}" -target-language "$lang" viewer/gui/*.py -ts "$ts"
  "$PY" "$tmp/ts.py" list "$ts" || status=1
done
exit $status

"""Imports from the browser: an uploaded CSV (one entity) or ZIP (a dataset folder), its
columns mapped to ours, previewed, then imported by a Celery task with a progress bar."""

import csv
import re
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path

from django.conf import settings

from . import formats as f
from .importer import ENTITIES, Row, _parse

ENTITY_BY_FILE = {entity.file: entity for entity in ENTITIES}
MAX_ZIP_MEMBERS = 20
MAX_UNCOMPRESSED = 4 * 1024 * 1024 * 1024  # 4 GB: a bigger archive is refused (zip bombs)
# CSV compresses about 5 to 20 times; a member that unpacks hundreds of times its packed size
# (above a few megabytes) is a bomb, whatever the total.
MAX_RATIO = 200
RATIO_FROM_BYTES = 8 * 1024 * 1024


def _norm(header: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", (header or "").lower()).strip()


# Headers of other CRMs' default exports (HubSpot, Salesforce), and plain spellings, that
# mean one of our columns.
SYNONYMS = {
    "accounts.csv": {
        "record id": "external_id",
        "account id": "external_id",
        "company id": "external_id",
        "company name": "name",
        "account name": "name",
        "company domain name": "domain",
        "website": "domain",
        "industry": "industry",
        "country region": "country",
        "billing country": "country",
        "country": "country",
        "create date": "created_on",
        "created date": "created_on",
        "owner email": "owner_email",
    },
    "contacts.csv": {
        "record id": "external_id",
        "contact id": "external_id",
        "first name": "first_name",
        "last name": "last_name",
        "email": "email",
        "email address": "email",
        "phone number": "phone",
        "phone": "phone",
        "job title": "title",
        "title": "title",
        "associated company id": "account_external_id",
        "account id": "account_external_id",
        "create date": "created_on",
        "created date": "created_on",
    },
    "opportunities.csv": {
        "record id": "external_id",
        "opportunity id": "external_id",
        "deal id": "external_id",
        "deal name": "name",
        "opportunity name": "name",
        "amount": "amount",
        "deal stage": "stage",
        "stage": "stage",
        "pipeline": "pipeline",
        "close date": "expected_close_on",
        "create date": "created_on",
        "created date": "created_on",
        "associated company id": "account_external_id",
        "account id": "account_external_id",
        "currency": "currency",
        "opportunity currency": "currency",
        "deal type": "kind",
        "type": "kind",
    },
    "leads.csv": {
        "record id": "external_id",
        "lead id": "external_id",
        "first name": "first_name",
        "last name": "last_name",
        "email": "email",
        "company": "company",
        "company name": "company",
        "lead source": "source",
        "original source": "source",
        "lead status": "status",
        "status": "status",
        "create date": "created_on",
        "created date": "created_on",
        "utm source": "utm_source",
        "utm medium": "utm_medium",
        "utm campaign": "utm_campaign",
        "score": "score",
        "hubspot score": "score",
    },
}


def proposed_mapping(entity_file: str, headers: list[str]) -> dict:
    """Their header → our column: ours by name, else a known synonym, else ignored ("")."""
    ours = {column.name for column in ENTITY_BY_FILE[entity_file].columns}
    synonyms = SYNONYMS.get(entity_file, {})
    mapping, taken = {}, set()
    for header in headers:
        target = header if header in ours else synonyms.get(_norm(header), "")
        if target in taken:
            target = ""
        taken.add(target)
        mapping[header] = target
    return mapping


def read_header(path) -> list[str]:
    stream, reader = f.open_csv(path)
    try:
        return list(reader.fieldnames or [])
    finally:
        stream.close()


def preview(entity_file: str, path, mapping: dict, rows: int = 10) -> list[dict]:
    """The first rows as they would be imported, each with its problems (cell formats and
    required columns; references are checked by the import itself)."""
    entity = ENTITY_BY_FILE[entity_file]
    stream, reader = f.open_csv(path)
    shown = []
    try:
        for number, raw in enumerate(reader, start=2):
            if number > rows + 1:
                break
            mapped = {mapping[k]: v for k, v in raw.items() if k is not None and mapping.get(k)}
            row: Row = _parse(entity, number, mapped)
            shown.append(
                {
                    "line": number,
                    "cells": [mapped.get(c.name, "") for c in entity.columns],
                    "problems": [f"{c}: {r}" for c, r in row.problems],
                }
            )
    finally:
        stream.close()
    return shown


def mapped_folder(upload) -> Path:
    """A dataset folder for the importer: the CSV rewritten under our column names, or the
    ZIP's known files (anything else in the archive is ignored)."""
    folder = Path(tempfile.mkdtemp(prefix="daramad-import-"))
    source = Path(upload.file.path)
    if upload.entity == "zip":
        extract_dataset(source, folder)
        return folder
    stream, reader = f.open_csv(source)
    try:
        targets = [(header, upload.mapping.get(header)) for header in reader.fieldnames or []]
        with open(folder / upload.entity, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow([target for _, target in targets if target])
            for raw in reader:
                writer.writerow([raw.get(header) or "" for header, target in targets if target])
    finally:
        stream.close()
    return folder


class UnsafeArchive(ValueError):
    pass


def check_archive(path) -> list[str]:
    """The dataset files of a ZIP, refusing what could harm the server: paths outside the
    folder, too many members, an uncompressed size that betrays a zip bomb."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise UnsafeArchive("not a ZIP archive") from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_ZIP_MEMBERS:
            raise UnsafeArchive(f"more than {MAX_ZIP_MEMBERS} files in the archive")
        if sum(m.file_size for m in members) > MAX_UNCOMPRESSED:
            raise UnsafeArchive("the archive unpacks to more than 4 GB")
        names = []
        for member in members:
            name = member.filename
            if name.startswith(("/", "\\")) or ".." in Path(name).parts or ":" in name:
                raise UnsafeArchive(f"unsafe path in the archive: {name!r}")
            if stat.S_ISLNK(member.external_attr >> 16):
                raise UnsafeArchive(f"a link in the archive: {name!r}")
            if member.file_size > RATIO_FROM_BYTES and member.file_size > MAX_RATIO * max(
                member.compress_size, 1
            ):
                raise UnsafeArchive(f"{name!r} unpacks to more than {MAX_RATIO} times its size")
            base = Path(name).name
            if base in ENTITY_BY_FILE and not member.is_dir():
                names.append(name)
        if not names:
            raise UnsafeArchive("no dataset file (accounts.csv, leads.csv, …) in the archive")
        return names


def extract_dataset(path, folder: Path) -> None:
    names = check_archive(path)
    with zipfile.ZipFile(path) as archive:
        for name in names:
            with archive.open(name) as member, open(folder / Path(name).name, "wb") as out:
                shutil.copyfileobj(member, out, length=1024 * 1024)


def media_root() -> Path:
    return Path(settings.MEDIA_ROOT)

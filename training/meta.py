"""Corpus metadata (path, emotion, speaker, corpus) cached as CSV per corpus folder.

The cache is keyed by the folder's signature (every audio file's relative
path, size and mtime), so adding, removing or touching a file rebuilds it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from pathlib import Path

from ccser_core.corpora import CorpusListing, Utterance, list_corpus
from ccser_core.corpora.base import AUDIO_SUFFIXES
from ccser_core.files import atomic_write

FIELDS = ("path", "emotion", "speaker", "corpus")


def folder_signature(path: Path) -> str:
    """Hash of the audio files under a folder and the label tables beside them (nEMO's
    data.tsv: a relabelled row must rebuild the listing), or of a CSV file's stat."""
    h = hashlib.sha256()
    if path.is_file():
        st = path.stat()
        h.update(os.fsencode(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"))
        return h.hexdigest()
    h.update(os.fsencode(path.resolve()))  # fsencode: file names need not be UTF-8
    for p in sorted(path.rglob("*")):
        if p.suffix.lower() in (*AUDIO_SUFFIXES, ".tsv", ".csv"):
            st = p.stat()
            h.update(os.fsencode(f"{p.relative_to(path)}|{st.st_size}|{st.st_mtime_ns}\n"))
    return h.hexdigest()


def load_metadata(name: str, path: Path, cache_dir: Path) -> tuple[CorpusListing, bool]:
    """Listing of corpus `name` at `path`, from the CSV cache when still valid.

    Returns (listing, rebuilt). CSV corpora whose audio lives elsewhere are
    keyed by the CSV itself.
    """
    signature = folder_signature(path)
    key = hashlib.sha256(os.fsencode(f"{name}|{path.resolve()}")).hexdigest()[:16]
    csv_path = cache_dir / "meta" / f"{name}-{key}.csv"
    side = csv_path.with_suffix(".json")
    if csv_path.is_file() and side.is_file():
        try:
            info = json.loads(side.read_text())
            if info.get("signature") == signature:
                with csv_path.open(newline="", encoding="utf-8", errors="surrogateescape") as fh:
                    utts = tuple(Utterance(**row) for row in csv.DictReader(fh))
                return CorpusListing(name, utts, tuple(info.get("problems", []))), False
        except (OSError, ValueError, TypeError):
            pass  # unreadable cache entry: rebuild below
    listing = list_corpus(name, path)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(FIELDS)
    writer.writerows([u.path, u.emotion, u.speaker, u.corpus] for u in listing.utterances)
    atomic_write(csv_path, buf.getvalue().encode("utf-8", "surrogateescape"))
    atomic_write(side, json.dumps({"signature": signature, "source": str(path),
                                   "problems": list(listing.problems)}).encode())
    return listing, True

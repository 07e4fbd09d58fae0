"""Corpus registry: adding a corpus = one parser module + one line in PARSERS."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from ccser_core.corpora import casia, csv_corpus, emodb, nemo, ravdess, savee
from ccser_core.corpora.base import CorpusListing, Utterance, make_listing
from ccser_core.errors import CorpusError

Parser = Callable[[Path], Iterator[Utterance | str]]

#: name -> (parser of a corpus folder, licence text for model cards)
PARSERS: dict[str, tuple[Parser, str]] = {
    "ravdess": (ravdess.parse, ravdess.LICENCE),
    "emodb": (emodb.parse, emodb.LICENCE),
    "savee": (savee.parse, savee.LICENCE),
    "casia": (casia.parse, casia.LICENCE),
    "nemo": (nemo.parse, nemo.LICENCE),
}

__all__ = ["CorpusListing", "Utterance", "PARSERS", "list_corpus", "licence", "resolve_path"]


def resolve_path(name: str, corpus_dir: Path | None, overrides: dict[str, Path]) -> Path:
    """Where corpus `name` lives: an explicit `--corpus NAME=PATH`, else `corpus_dir/name`."""
    if name in overrides:
        return overrides[name]
    if name not in PARSERS:
        raise CorpusError(
            f"unknown corpus {name!r}: built-in corpora are {', '.join(PARSERS)}; "
            f"give any other corpus as --corpus {name}=PATH/TO/{name}.csv"
        )
    if corpus_dir is None:
        raise CorpusError(
            f"{name}: no corpus folder given; use --corpus-dir DIR, set CCSER_CORPORA, "
            f"or --corpus {name}=PATH"
        )
    return corpus_dir / name


def list_corpus(name: str, path: Path) -> CorpusListing:
    """Parse a corpus folder (built-in rules) or a generic CSV into utterances."""
    if path.suffix.lower() == ".csv":
        return make_listing(name, csv_corpus.parse_csv(path, name))
    if name not in PARSERS:
        raise CorpusError(
            f"{name}: {path} is not a .csv file and {name!r} has no built-in parser "
            f"({', '.join(PARSERS)}); describe it as a CSV with columns path,emotion[,speaker]"
        )
    return make_listing(name, PARSERS[name][0](path))


def licence(name: str) -> str:
    return PARSERS[name][1] if name in PARSERS else csv_corpus.LICENCE

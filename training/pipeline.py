"""One training run: load corpora -> fit each expert -> fuse -> evaluate -> export.

The model is the candidate with the highest speaker-grouped CV UAR on the training
corpora, or all candidates fused (`--fuse`); test corpora only ever report, never
choose. Every model family is an expert (training/experts/); this file names none.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, replace

import numpy as np
from tqdm import tqdm

from ccser_core.features import feature_names
from training import experts, robust
from training.cache import FeatureCache
from training.config import TrainConfig
from training.data import CorpusData, check_disjoint, load_corpus, speakers
from training.evaluate import metrics, uar
from training.executor import executor
from training.experts.base import Expert, RunData
from training.export import export_model, jsonable
from training.search import training_folds
from training.sessions import session_blocks

log = logging.getLogger("ccser.train")


def run(cfg: TrainConfig) -> dict:
    """Execute the run and return the report (also written/exported as configured);
    its parallel work runs where `cfg.dask` says (training/executor.py)."""
    with executor(cfg.dask, cfg.jobs) as where:
        report = _run(cfg, {"loco": leave_one_corpus_out(cfg)} if cfg.loco else {})
    return {**report, "executor": where}


def leave_one_corpus_out(cfg: TrainConfig) -> dict[str, dict]:
    """For each training corpus: train on the others (model and hyper-parameters chosen
    on them alone), test on it; its block is the one a --test corpus gets."""
    out: dict[str, dict] = {}
    for held in tqdm(cfg.train, desc="leave-one-corpus-out", unit="corpus", disable=cfg.quiet):
        sub = replace(cfg, train=tuple(c for c in cfg.train if c != held), test=(held,),
                      export=False, report=None, loco=False)
        report = _run(sub, {})
        out[held] = {"train": list(sub.train), "best_model": report["best_model"],
                     "best_cv_uar": report["best_cv_uar"], **report["results"][held]}
    return out


def _run(cfg: TrainConfig, extra: dict) -> dict:
    """One run; `extra` report blocks (LOCO) are in the report before the card is built."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    run = RunData(cfg, *_load(cfg), FeatureCache(cfg.cache_dir, cfg.features))
    timings["features_s"] = time.perf_counter() - t0
    y = np.concatenate([p.y for p in run.train])
    folds = training_folds(speakers(run.train), y, cfg.search.folds, cfg.seed)
    if folds.warning:
        log.warning("%s", folds.warning)

    t1 = time.perf_counter()
    candidates = experts.candidates(cfg)
    for expert in tqdm(candidates, desc="fit", unit="model", disable=cfg.quiet):
        expert.fit(run)
    model = experts.model(cfg, candidates).fit(run)
    timings["search_s"] = time.perf_counter() - t1

    emotions = list(cfg.emotions)
    rows = {e.name: e for e in [*candidates, model]}
    model_rows = {name: {"best_params": jsonable(e.params_), "cv_uar": e.cv_uar_,
                         "search_s": e.seconds_, "test_uar": {}} for name, e in rows.items()}
    test_report = {part.name: _evaluate(model, rows, model_rows, part, emotions, cfg.seed)
                   for part in run.test}
    within = None
    if not cfg.test:
        w = model.within_corpus(run)
        within = {**w.describe, **metrics(w.y, w.pred, emotions, cfg.seed)}

    y_train = model.y_train_
    report = {
        "train": list(cfg.train), "test": list(cfg.test), "emotions": emotions,
        "features": {**cfg.features.to_dict(), "n_features": len(feature_names(cfg.features))},
        "normalisation": {"method": cfg.norm, "scope": cfg.norm_scope,
                          "prior_weight": cfg.prior_weight, "robust_weight": cfg.robust_weight,
                          "experts": {m.name: m.normalisation for m in model.members()},
                          **robust.report_block(cfg)},
        "search": {**asdict(cfg.search), **folds.describe(), "folds_requested": cfg.search.folds,
                   "scoring": "uar"},
        "augment": list(cfg.augment),
        "best_model": model.name,
        "best_params": jsonable(model.params_),
        "best_cv_uar": model.cv_uar_,
        "models": model_rows,
        "results": test_report,
        "within_corpus": within,
        "n_train": int(len(y_train)),
        "n_train_per_emotion": {e: int(np.sum(y_train == i)) for i, e in enumerate(emotions)},
        "n_unreadable": {p.name: p.n_failed for p in run.train + run.test},
        "n_skipped_names": {p.name: len(p.problems) for p in run.train + run.test},
        **extra,
    }
    if cfg.export:
        t2 = time.perf_counter()
        report["export"] = export_model(cfg, model.graphs(run), model.fusion_block(),
                                        model.cv_uar_, report, run.train)
        timings["export_s"] = time.perf_counter() - t2
    timings["total_s"] = time.perf_counter() - t0
    report["timings"] = timings
    return report


def _load(cfg: TrainConfig) -> tuple[list[CorpusData], list[CorpusData]]:
    cache = FeatureCache(cfg.cache_dir, cfg.features)
    overrides = dict(cfg.corpus_paths)

    def load(name: str) -> CorpusData:
        return load_corpus(name, cfg.corpus_dir, overrides, cfg.emotions, cache, cfg.cache_dir,
                           cfg.norm, cfg.norm_scope, cfg.jobs, cfg.quiet)

    train, test = [load(n) for n in cfg.train], [load(n) for n in cfg.test]
    check_disjoint(train, test)
    return train, test


def _evaluate(model: Expert, rows: dict[str, Expert], model_rows: dict[str, dict],
              part: CorpusData, emotions: list[str], seed: int) -> dict:
    """A test corpus's block for the model (speaker-adaptive, streaming, every session
    kind under the live rule); each candidate's UAR and session kinds in `model_rows`."""
    who = speakers([part])
    for name, expert in rows.items():
        model_rows[name]["test_uar"][part.name] = uar(
            part.y, expert.predict_proba(part, "adaptive").argmax(axis=1))
        if expert.live:
            model_rows[name].setdefault("sessions", {})[part.name] = session_blocks(
                lambda s, e=expert: e.predict_sessions(part, s).argmax(axis=1),
                part.y, who, emotions, seed)
    block = metrics(part.y, model.predict_proba(part, "adaptive").argmax(axis=1), emotions, seed)
    stream = metrics(part.y, model.predict_proba(part, "streaming").argmax(axis=1), emotions,
                     seed)
    block["streaming"] = {k: stream[k] for k in
                          ("uar", "accuracy", "macro_f1", "uar_ci95", "per_class_recall")}
    block["uar_streaming"] = stream["uar"]
    if model.live:
        block["sessions"] = model_rows[model.name]["sessions"][part.name]
    block["n_unreadable"] = part.n_failed
    return block

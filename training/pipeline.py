"""One training run: data -> grid search -> cross-corpus evaluation -> export -> report.

The best model is the one with the highest speaker-grouped CV UAR on the
training corpora; test corpora only ever report, never choose.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, replace

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import cross_val_predict
from tqdm import tqdm

from ccser_core.features import feature_names
from ccser_core.normalisation import Prior, SpeakerNormaliser, stream_sessions
from training.cache import FeatureCache, extract_files
from training.config import TrainConfig
from training.data import (
    CorpusData,
    check_disjoint,
    load_corpus,
    normalise_adaptive,
    normalise_streaming,
    speakers,
    training_matrix,
)
from training.evaluate import metrics, uar
from training.executor import executor
from training.export import export_model
from training.models import RNN
from training.rnn.run import RnnRun
from training.robust import ANCHORED_GROUPS, anchored_indices, expert_columns, fused_results
from training.search import (
    STACKING,
    SearchResult,
    grid_search,
    stacking,
    training_folds,
    within_corpus_splitter,
)
from training.sessions import evaluate_sessions, session_blocks

log = logging.getLogger("ccser.train")


def _augmented(parts: list[CorpusData], cfg: TrainConfig, cache: FeatureCache,
               prior: Prior | None) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Augmented copies of the training files, each (speaker, augmentation) normalised
    as its own group, so augmentation never shifts a speaker's statistics."""
    Xs, ys, gs = [], [], []
    for part in parts:
        paths = [u.path for u in part.utterances]
        groups = part.groups[part.sel]
        speakers = np.array([u.speaker for u in part.utterances])
        for name in cfg.augment:
            ex = extract_files(paths, cache, jobs=cfg.jobs, quiet=cfg.quiet,
                               augmentation=name, seed=cfg.seed, desc=f"{part.name}+{name}")
            if cfg.norm == "train":
                Xs.append(ex.X)
            else:
                # Class-balanced statistics, as for the original training files.
                Xs.append(SpeakerNormaliser(None).transform(ex.X, groups[ex.ok], part.y[ex.ok],
                                                            prior))
            ys.append(part.y[ex.ok])
            gs.append(speakers[ex.ok])  # CV groups: copies stay in their speaker's fold
    return Xs, ys, gs


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
    cache = FeatureCache(cfg.cache_dir, cfg.features)
    overrides = dict(cfg.corpus_paths)

    def load(name: str) -> CorpusData:
        return load_corpus(name, cfg.corpus_dir, overrides, cfg.emotions, cache, cfg.cache_dir,
                           cfg.norm, cfg.norm_scope, cfg.jobs, cfg.quiet)

    train_parts = [load(n) for n in cfg.train]
    test_parts = [load(n) for n in cfg.test]
    check_disjoint(train_parts, test_parts)
    timings["features_s"] = time.perf_counter() - t0

    anchored = anchored_indices(cfg.features) if cfg.norm != "train" and cfg.robust_weight > 0 \
        else ()
    X, y, groups, prior = training_matrix(train_parts, cfg.norm, cfg.prior_weight,
                                          anchored=anchored)
    if cfg.augment:
        Xa, ya, ga = _augmented(train_parts, cfg, cache, prior)
        X, y, groups = np.vstack([X, *Xa]), np.concatenate([y, *ya]), np.concatenate([groups, *ga])

    folds = training_folds(groups, y, cfg.search.folds, cfg.seed)
    if folds.warning:
        log.warning("%s", folds.warning)
    t1 = time.perf_counter()
    results: list[SearchResult] = []
    X_session = X[:, expert_columns(prior)[0]] if anchored else X
    for name in tqdm([m for m in cfg.models if m not in (STACKING, RNN)], desc="grid search",
                     unit="model", disable=cfg.quiet):
        results.append(grid_search(name, X_session, y, groups, cfg.search))
    if STACKING in cfg.models:
        results.append(stacking(list(results), X_session, y, groups, cfg.search))
    if anchored and results:  # each family becomes a session + anchored expert pair
        results = fused_results(results, np.vstack([p.X_scope[p.sel] for p in train_parts]),
                                np.concatenate([p.y for p in train_parts]), speakers(train_parts),
                                prior, cfg.models, cfg.search, cfg.robust_weight, cfg.quiet)
    rnn = None
    if RNN in cfg.models:
        from training.rnn.run import train_rnn  # PyTorch only for runs that ask for it

        rnn = train_rnn(cfg, train_parts, test_parts)
        results.append(rnn.result)
    best = max(results, key=lambda r: r.cv_uar)
    timings["search_s"] = time.perf_counter() - t1

    emotions = list(cfg.emotions)
    within = None
    if not cfg.test and rnn is not None and best is rnn.result:
        # The network's one validation split stands in for CV folds.
        within = {"cv": cfg.cv, "cv_scheme": "held-out validation speakers", "folds": 1,
                  **metrics(rnn.val_y, rnn.val_pred, emotions, cfg.seed)}
    elif not cfg.test:
        cv = within_corpus_splitter(cfg.cv, cfg.search.folds, cfg.seed, groups, y)
        pred = cross_val_predict(clone(best.estimator), X, y, cv=cv.splitter, n_jobs=cfg.jobs,
                                 groups=cv.groups_for(groups))
        within = {"cv": cfg.cv, **cv.describe(), **metrics(y, pred, emotions, cfg.seed)}

    test_report: dict[str, dict] = {}
    model_rows = {r.name: {"best_params": _jsonable(r.best_params), "cv_uar": r.cv_uar,
                           "search_s": r.seconds, "test_uar": {}} for r in results}
    check_rows: list[np.ndarray] = []
    fusion: dict[str, dict] = {}

    def predict(r: SearchResult, part: CorpusData, mode: str, X: np.ndarray) -> np.ndarray:
        if rnn is not None and r is rnn.result:  # reads the corpus's frames, not X
            return rnn.predict_proba(part.name, mode).argmax(axis=1)
        return r.estimator.predict(X)

    for part in test_parts:
        Xt = normalise_adaptive(part, cfg.norm, prior)
        Xs = normalise_streaming(part, cfg.norm, prior, cfg.seed)
        check_rows.append(Xt)
        for r in results:
            model_rows[r.name]["test_uar"][part.name] = uar(part.y,
                                                           predict(r, part, "adaptive", Xt))
        block = metrics(part.y, predict(best, part, "adaptive", Xt), emotions, cfg.seed)
        stream = metrics(part.y, predict(best, part, "streaming", Xs), emotions, cfg.seed)
        if rnn is not None and len(results) > 1:
            fusion[part.name] = late_fusion(rnn, results, part, {"adaptive": Xt, "streaming": Xs},
                                            prior, emotions, cfg.seed)
        block["streaming"] = {k: stream[k] for k in
                              ("uar", "accuracy", "macro_f1", "uar_ci95", "per_class_recall")}
        block["uar_streaming"] = stream["uar"]
        if prior is not None and not (rnn is not None and best is rnn.result):
            block["sessions"] = evaluate_sessions(
                best.estimator, part.X_scope[part.sel], part.y, speakers([part]), prior,
                emotions, cfg.seed)
        if rnn is not None and rnn.prior is not None:
            rnn_sessions = session_blocks(
                lambda s: rnn.predict_sessions(part.name, s).argmax(axis=1),  # noqa: B023
                part.y, speakers([part]), emotions, cfg.seed)
            model_rows[RNN].setdefault("sessions", {})[part.name] = rnn_sessions
            if best is rnn.result:
                block["sessions"] = rnn_sessions
        block["n_unreadable"] = part.n_failed
        test_report[part.name] = block

    report = {
        "train": list(cfg.train), "test": list(cfg.test), "emotions": emotions,
        "features": {**cfg.features.to_dict(), "n_features": len(feature_names(cfg.features))},
        "normalisation": {"method": cfg.norm, "scope": cfg.norm_scope,
                          "prior_weight": cfg.prior_weight, "robust_weight": cfg.robust_weight,
                          "anchored_groups": list(ANCHORED_GROUPS) if anchored else []},
        "search": {**asdict(cfg.search), **folds.describe(), "folds_requested": cfg.search.folds,
                   "scoring": "uar"},
        "augment": list(cfg.augment),
        "best_model": best.name,
        "best_params": _jsonable(best.best_params),
        "best_cv_uar": best.cv_uar,
        "models": model_rows,
        "results": test_report,
        "within_corpus": within,
        **({"fusion": fusion} if fusion else {}),
        "n_train": int(len(y)),
        "n_train_per_emotion": {e: int(np.sum(y == i)) for i, e in enumerate(emotions)},
        "n_unreadable": {p.name: p.n_failed for p in train_parts + test_parts},
        "n_skipped_names": {p.name: len(p.problems) for p in train_parts + test_parts},
        **extra,
    }
    if cfg.export:
        t2 = time.perf_counter()
        check_X = np.vstack(check_rows) if check_rows else X
        if rnn is not None and best is rnn.result:
            from training.rnn.export import export_rnn

            report["export"] = export_rnn(cfg, best.estimator, rnn.prior, report,
                                          rnn.check_seqs, train_parts)
        else:
            report["export"] = export_model(cfg, best, prior, report, check_X, train_parts)
        timings["export_s"] = time.perf_counter() - t2
    timings["total_s"] = time.perf_counter() - t0
    report["timings"] = timings
    return report


def late_fusion(rnn: RnnRun, results: list[SearchResult], part: CorpusData,
                inputs: dict[str, np.ndarray], prior: Prior | None, emotions: list[str],
                seed: int) -> dict:
    """Test UAR of the mean of the RNN's and the best other model's probabilities, also
    per session kind (evaluation only: the exported model is one of the two)."""
    other = max((r for r in results if r is not rnn.result), key=lambda r: r.cv_uar)
    out: dict = {"members": [other.name, RNN]}
    for mode, X in inputs.items():
        proba = rnn.predict_proba(part.name, mode) + other.estimator.predict_proba(X)
        out[f"uar_{mode}"] = uar(part.y, proba.argmax(axis=1))
    if prior is not None and rnn.prior is not None:
        X = part.X_scope[part.sel]
        out["sessions"] = session_blocks(
            lambda s: (rnn.predict_sessions(part.name, s) + other.estimator.predict_proba(
                stream_sessions(X, s, prior))).argmax(axis=1),
            part.y, speakers([part]), emotions, seed)
    return out


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)

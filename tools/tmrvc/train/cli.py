"""``python -m tmrvc.train <command> --size smoke|full [--resume]``

Commands:

* ``data``     -- synthesise the corpus (:mod:`tmrvc.data.corpus`) and cache features
                  (:mod:`tmrvc.data.features`) as configured for the size;
* one stage    -- ``speaker_encoder``, ``content_encoder``, ``ir_estimator``, ``vocoder``,
                  ``teacher``, ``distill``, ``dmd``, ``joint``, ``adapt``, ``vocoder_gta`` (see
                  :mod:`tmrvc.train.stages`);
* ``export``   -- trained weights -> ONNX through :func:`tmrvc.export.export_all`
                  (into ``export.out``, never ``weights/`` unless asked explicitly) and a
                  contract check against the committed ``weights/models.json``;
* ``all``      -- data, every stage in order, export; with ``--resume`` finished stages
                  (``final.pt``) are skipped and an interrupted one continues; ``--jobs 2``
                  trains ir_estimator + vocoder in a second process (``lane``) meanwhile,
                  and ``vocoder_gta`` (it needs the converter and the vocoder) runs last;
* ``seed``     -- ``--models DIR``: the final.pt of every stage that an exported model comes
                  from, read back from DIR's ONNX files (:mod:`tmrvc.models.from_onnx`), plus
                  the speaker embeddings; later stages (``vocoder_gta``, ``adapt``, ...) then
                  continue from those weights instead of retraining the chain;
* ``summary``  -- print the stage summaries as JSON.

Configs: ``configs/train_student.yaml``, ``configs/train_teacher.yaml``,
``configs/export.yaml`` (``--config-dir``); ``--set key.path=value`` overrides.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from tmrvc.train.config import CONFIG_DIR, REPO_ROOT, load_config, stage_config


def _setup_threads(n: int) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", str(n))
    import torch

    torch.set_num_threads(n)


def run_data(cfg: dict, log=print, jobs: int = 1) -> dict:
    """Corpus synthesis and the feature cache for ``cfg``'s size, in ``jobs`` processes."""
    from tmrvc.data import corpus as corpus_mod
    from tmrvc.data import features

    d = cfg.get("data", {})
    root = Path(cfg["paths"]["corpus"])
    t0 = time.time()
    corpus_mod.build(root, d.get("voices") or None, d.get("sentences") or None, log=log,
                     extra_sentences=int(d.get("extra_sentences", 0)),
                     lexicon_sentences=int(d.get("lexicon_sentences", 0)), jobs=jobs,
                     asr_max_cer=d.get("asr_max_cer"))
    t1 = time.time()
    index = features.build(root, int(d.get("n_aug", 2)), int(d.get("seed", 0)),
                           use_resemblyzer=bool(d.get("resemblyzer", True)), rir_method=d.get("rir", "synthetic"),
                           whisper=bool(d.get("whisper", False)), jobs=jobs, log=log)
    t2 = time.time()
    summary = {"clips": index["n_clips"], "speakers": len(index["speakers"]), "corpus_seconds": round(t1 - t0, 2),
               "feature_seconds": round(t2 - t1, 2), "resemblyzer": index["resemblyzer"],
               "whisper": index.get("whisper", False), "jobs": jobs}
    ck = Path(cfg["paths"]["checkpoints"])
    ck.mkdir(parents=True, exist_ok=True)
    (ck / "data_summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def run_export(cfg: dict, out: Path | None = None, log=print) -> dict:
    import torch

    from tmrvc import export as E
    from tmrvc.models import build_model
    from tmrvc.train.stages import export_sources
    from tmrvc.train.trainer import load_final

    ecfg = cfg.get("export", {})
    root = Path(cfg["paths"]["checkpoints"])
    out = Path(str(out or ecfg.get("out") or "{checkpoints}/export").format(size=cfg["size"], checkpoints=root))
    if not out.is_absolute():
        out = REPO_ROOT / out
    if out.resolve() == (REPO_ROOT / "weights").resolve() and not ecfg.get("allow_weights_dir", False):
        raise SystemExit("refusing to overwrite weights/: set export.allow_weights_dir=true for a real release")
    models, sources = {}, export_sources(cfg)
    for name, stage in sources.items():
        try:
            m = build_model(name)
            m.load_state_dict(load_final(root, stage)["models"][name])
            models[name] = m
        except FileNotFoundError as exc:
            fallback = ecfg.get("fallback_onnx")
            if fallback:
                from tmrvc.models.from_onnx import load_from_onnx

                path = Path(fallback) if Path(fallback).is_absolute() else REPO_ROOT / fallback
                models[name] = load_from_onnx(name, path / f"{name}.onnx")
                log(f"export: {exc}; {name} read back from {path / (name + '.onnx')}")
            elif ecfg.get("require_all", True):
                raise
            else:
                log(f"export: {exc}; {name} keeps its seed weights")
    t0 = time.time()
    with torch.no_grad():
        info = E.export_all(out, seed=0, verbose=True, check=bool(ecfg.get("check", True)),
                            models=models, source=str(root))
    problems = check_contract(out, REPO_ROOT / "weights" / E.MODELS_JSON)
    if problems:
        raise SystemExit("export breaks the ONNX contract:\n  " + "\n  ".join(problems))
    log(f"export: {len(models)} trained models -> {out} ({time.time() - t0:.1f} s); I/O matches weights/models.json")
    return {"out": str(out), "trained": sorted(models), "sources": sources, "seconds": round(time.time() - t0, 2),
            "sha256": {k: v["sha256"] for k, v in info["models"].items()}}


def check_contract(out_dir: Path, reference_json: Path) -> list[str]:
    """Inputs/outputs (names, shapes, dtypes), state layout and op types vs the reference."""
    from tmrvc import onnx_utils as U

    ref = json.loads(Path(reference_json).read_text())["models"]
    problems = []
    for name, r in ref.items():
        path = Path(out_dir) / r["file"]
        if not path.exists():
            problems.append(f"{name}: {path} missing")
            continue
        spec = U.io_spec(U.make_session(path))
        for key in ("inputs", "outputs"):
            if spec[key] != r[key]:
                problems.append(f"{name}: {key} differ: {spec[key]} vs {r[key]}")
        got = json.loads((Path(out_dir) / "models.json").read_text())["models"][name]
        for key in ("op_types", "states", "params"):
            if got.get(key) != r.get(key):
                problems.append(f"{name}: {key} differ")
    return problems


def run_seed(cfg: dict, models: Path, log=print) -> dict:
    """Writes ``<checkpoints>/<stage>/final.pt`` for each exported model from the ONNX file
    in ``models`` (the base stage of :data:`tmrvc.train.stages.EXPORT_SOURCES`: the vocoder goes to
    ``vocoder``, so ``vocoder_gta`` can fine-tune it, the converter to ``distill``), and the
    speaker_encoder stage's ``embeddings.npz`` computed with the read-back encoder.  Returns
    {stage: source file}; a stage folder that already holds a final.pt is refused."""
    from tmrvc.models.from_onnx import onnx_state_dict
    from tmrvc.train.stages import EXPORT_SOURCES as sources
    from tmrvc.train.stages import STAGES
    from tmrvc.train.trainer import _atomic_save

    root = Path(cfg["paths"]["checkpoints"])
    taken = [s for s in sources.values() if (root / s / "final.pt").exists()]
    if taken:
        raise SystemExit(f"seed: {root} already has final.pt for {', '.join(taken)}; use an empty --checkpoints folder")
    missing = [str(Path(models) / f"{name}.onnx") for name in sources if not (Path(models) / f"{name}.onnx").exists()]
    if missing:                       # checked before anything is written
        raise SystemExit(f"seed: missing {', '.join(missing)}")
    done, weights = {}, {}
    for name, stage in sources.items():
        path = Path(models) / f"{name}.onnx"
        (root / stage).mkdir(parents=True, exist_ok=True)
        summary = {"seeded_from": str(path)}
        weights[name] = onnx_state_dict(name, path)
        _atomic_save({"models": {name: weights[name]}, "stage": stage, "summary": summary}, root / stage / "final.pt")
        (root / stage / "summary.json").write_text(json.dumps(summary, indent=1))
        done[stage] = str(path)
        log(f"seed: {stage}/final.pt <- {path}")
    enc = STAGES["speaker_encoder"](cfg, stage_config(cfg, "speaker_encoder"))
    enc.setup()
    enc.modules["speaker_encoder"].load_state_dict(weights["speaker_encoder"])
    enc.modules["speaker_encoder"].eval()
    enc.finish(root / sources["speaker_encoder"])
    log(f"seed: {sources['speaker_encoder']}/embeddings.npz from the corpus")
    return done


# Stages that need no other stage's output; ``all --jobs 2`` trains them in a second process
# while the dependent chain (speaker/content encoders -> teacher -> distill -> dmd -> adapt) runs.
INDEPENDENT_STAGES = ("ir_estimator", "vocoder")
# Stages that need both lanes' results (the converter and the vocoder); they run last.
AFTER_LANE_STAGES = ("vocoder_gta",)


def stage_runs(cfg: dict, name: str, root: Path) -> list[tuple[dict, Path]]:
    """(stage config, checkpoint folder) per run of ``name``: one, except for ``adapt`` with a
    ``speakers`` list, which gets one run (and one .tmrvc_speaker) per listed speaker in
    ``adapt/<speaker>``."""
    scfg = stage_config(cfg, name)
    speakers = scfg["speakers"] if name == "adapt" else None
    if not speakers:
        return [(scfg, root / name)]
    return [({**scfg, "speaker": spk}, root / name / spk) for spk in speakers]


def run_stages(cfg: dict, names, root: Path, resume: bool, timings: dict) -> None:
    from tmrvc.train.stages import STAGES
    from tmrvc.train.trainer import run_stage

    for name in names:
        t = time.time()
        for scfg, folder in stage_runs(cfg, name, root):
            if int(scfg["steps"]) <= 0:
                print(f"[{name}] steps 0 in the config: skipped")
                continue
            if resume and (folder / "final.pt").exists():
                print(f"[{name}] {folder.relative_to(root)} already finished, skipped (--resume)")
                continue
            run_stage(STAGES[name](cfg, scfg), folder, resume=resume)
        timings[name] = round(time.time() - t, 2)


def main(argv: list[str] | None = None) -> int:
    from tmrvc.train.stages import STAGE_ORDER, STAGES, summaries
    from tmrvc.train.trainer import Interrupted, run_stage

    p = argparse.ArgumentParser(prog="python -m tmrvc.train", description=__doc__.split("\n\n")[0])
    p.add_argument("command", choices=("data", *STAGE_ORDER, "export", "all", "summary", "lane", "seed"))
    p.add_argument("--size", default="smoke", help="config size (smoke | full)")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint")
    p.add_argument("--config-dir", type=Path, default=CONFIG_DIR)
    p.add_argument("--corpus", type=Path, help="override paths.corpus")
    p.add_argument("--checkpoints", type=Path, help="override paths.checkpoints")
    p.add_argument("--models", type=Path, help="seed: folder of exported ONNX files (e.g. ../weights)")
    p.add_argument("--out", type=Path, help="export folder (default export.out, relative to the repository)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    p.add_argument("--threads", type=int, default=1, help="torch threads per process (default 1)")
    p.add_argument("--jobs", type=int, choices=(1, 2), default=1,
                   help="data, all: 2 = synthesise and extract features in two processes; all: also "
                        "train ir_estimator and vocoder in a second process alongside the dependent "
                        "chain, then the last stages with twice --threads (use on a machine with 2+ cores)")
    a = p.parse_args(argv)
    _setup_threads(a.threads)
    cfg = load_config(a.size, a.config_dir, a.set)
    if a.corpus:
        cfg["paths"]["corpus"] = str(a.corpus.resolve())
    if a.checkpoints:
        cfg["paths"]["checkpoints"] = str(a.checkpoints.resolve())
    if a.out:                  # a command-line path is relative to the working directory, like
        a.out = a.out.resolve()  # --corpus/--checkpoints; export.out in a config is relative to the repo
    root = Path(cfg["paths"]["checkpoints"])
    root.mkdir(parents=True, exist_ok=True)
    try:
        if a.command == "summary":
            print(json.dumps(summaries(root), indent=1))
            return 0
        if a.command == "data":
            run_data(cfg, jobs=a.jobs)
            return 0
        if a.command == "export":
            run_export(cfg, a.out)
            return 0
        if a.command == "seed":
            if a.models is None:
                p.error("seed needs --models DIR")
            run_seed(cfg, a.models.resolve())
            return 0
        if a.command in STAGES:
            run_stages(cfg, [a.command], root, a.resume, {})
            return 0
        if a.command == "lane":          # the second process of `all --jobs 2`
            lane_timings: dict = {}
            run_stages(cfg, INDEPENDENT_STAGES, root, a.resume, lane_timings)
            (root / "side_lane.json").write_text(json.dumps(lane_timings))
            return 0
        # all
        t0 = time.time()
        timings = {}
        if not (a.resume and (root / "data_summary.json").exists()):
            run_data(cfg, jobs=a.jobs)
        timings["data"] = round(time.time() - t0, 2)
        side = None
        chain = [n for n in STAGE_ORDER if n not in AFTER_LANE_STAGES]
        if a.jobs == 2:
            chain = [n for n in chain if n not in INDEPENDENT_STAGES]
            side = _spawn_side_lane(a, root)
        try:
            run_stages(cfg, chain, root, a.resume, timings)
        except BaseException:
            if side is not None:        # it checkpoints on SIGTERM, so --resume continues it too
                side.terminate()
                side.wait()
            raise
        if side is not None:
            rc = side.wait()
            if rc != 0:
                print(f"side lane ({', '.join(INDEPENDENT_STAGES)}) failed with exit code {rc}; "
                      f"log: {root / 'side_lane.log'}")
                return rc
            timings["side_lane"] = json.loads((root / "side_lane.json").read_text())
        if a.jobs == 2:                 # the side lane is done: its core goes to the last stages
            _setup_threads(2 * a.threads)
        run_stages(cfg, AFTER_LANE_STAGES, root, a.resume, timings)   # they need the side lane's vocoder
        t = time.time()
        exp = run_export(cfg, a.out)
        timings["export"] = round(time.time() - t, 2)
        timings["total"] = round(time.time() - t0, 2)
        report = {"size": a.size, "timings_s": timings, "export": exp, "stages": summaries(root)}
        (root / "report.json").write_text(json.dumps(report, indent=1))
        print(f"all done in {timings['total']:.1f} s; report: {root / 'report.json'}")
        return 0
    except Interrupted as exc:
        return int(exc.code)


def _spawn_side_lane(a: argparse.Namespace, root: Path):
    """Start ``python -m tmrvc.train lane`` for INDEPENDENT_STAGES in a child process with
    the same options; its output goes to <checkpoints>/side_lane.log."""
    import subprocess

    args = [sys.executable, "-m", "tmrvc.train", "lane", "--size", a.size, "--threads", str(a.threads),
            "--config-dir", str(a.config_dir), "--checkpoints", str(root)]
    if a.resume:
        args.append("--resume")
    if a.corpus:
        args += ["--corpus", str(a.corpus)]
    for kv in a.set:
        args += ["--set", kv]
    log = open(root / "side_lane.log", "w")
    print(f"side lane: {' '.join(INDEPENDENT_STAGES)} in a second process (log {root / 'side_lane.log'})")
    return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[2])


if __name__ == "__main__":
    sys.exit(main())

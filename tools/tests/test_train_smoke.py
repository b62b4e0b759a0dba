"""Smoke test of the training pipeline (marker ``train_smoke``; about 40 s on one CPU thread).

Synthesises a tiny parallel corpus with flite/espeak-ng into a temp dir, runs the whole
chain (``python -m tmrvc.train all --size smoke``), and checks that every stage's losses
fall, that an interrupted stage (SIGTERM) resumes at the saved step and ends exactly
where an uninterrupted run ends, and that the exported ONNX files load in ONNX Runtime
with the contract's inputs/outputs.  Deselect with ``-m "not train_smoke"``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tmrvc import onnx_utils as U

pytestmark = pytest.mark.train_smoke

TOOLS = Path(__file__).resolve().parents[1]
REPO = TOOLS.parent


def _voices() -> list[str]:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    if shutil.which("flite"):
        return ["flite_awb", "flite_slt", "flite_rms", "espeak_us"]
    return ["espeak_us", "espeak_us_f3", "espeak_gb_m3", "espeak_rp_f2"]


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    pytest.importorskip("librosa")
    root = tmp_path_factory.mktemp("train_smoke")
    corpus, ck = root / "corpus", root / "ck"
    voices = _voices()
    args = ["--size", "smoke", "--corpus", str(corpus), "--checkpoints", str(ck),
            "--set", f"data.voices={json.dumps(voices)}"]
    from tmrvc.train.cli import main

    # two lanes (ir_estimator + vocoder in a second process) and two adapted speakers
    assert main(["all", *args, "--jobs", "2", "--set", f"stages.adapt.speakers={json.dumps(voices[1:3])}"]) == 0
    return {"root": root, "corpus": corpus, "ck": ck, "args": args,
            "report": json.loads((ck / "report.json").read_text())}


def test_corpus_and_features(chain):
    lines = (chain["corpus"] / "manifest.jsonl").read_text().splitlines()
    entries = [json.loads(x) for x in lines]
    assert len(entries) == 16 and len({e["speaker"] for e in entries}) == 4
    assert {e["split"] for e in entries} >= {"train", "eval_sent"}
    for e in entries:
        assert {"speaker", "sid", "text", "path", "duration"} <= set(e)
        z = np.load(chain["corpus"] / "features" / e["speaker"] / f"{e['sid']}.npz")
        T = z["mel"].shape[1]
        assert z["mel"].shape == (80, T) and z["pitch"].shape == (2, T) and z["content_target"].shape == (80, T)
        assert z["mel_aug"].shape == (1, 80, T) and z["ir_aug"].shape == (1, 24)
        assert abs(T * 0.01 - e["duration"]) < 0.011


def test_data_stage_in_one_process_writes_the_same_files(chain, tmp_path):
    """The chain built its data with --jobs 2 (two processes); one process gives identical clips
    and feature caches."""
    from tmrvc.train.cli import run_data
    from tmrvc.train.config import load_config

    sets = [a for a in chain["args"][chain["args"].index("--set"):] if a != "--set"]
    cfg = load_config("smoke", overrides=sets)
    cfg["paths"]["corpus"], cfg["paths"]["checkpoints"] = str(tmp_path / "corpus"), str(tmp_path / "ck")
    assert run_data(cfg, log=lambda *_: None, jobs=1)["jobs"] == 1
    entries = [json.loads(x) for x in (chain["corpus"] / "manifest.jsonl").read_text().splitlines()]
    assert (tmp_path / "corpus" / "manifest.jsonl").read_text() == (chain["corpus"] / "manifest.jsonl").read_text()
    for e in entries:
        assert (tmp_path / "corpus" / e["path"]).read_bytes() == (chain["corpus"] / e["path"]).read_bytes()
        rel = Path("features") / e["speaker"] / f"{e['sid']}.npz"
        with np.load(chain["corpus"] / rel) as two, np.load(tmp_path / "corpus" / rel) as one:
            assert sorted(two.files) == sorted(one.files)
            for k in two.files:
                np.testing.assert_array_equal(two[k], one[k], err_msg=f"{rel}: {k}")
    assert not list((chain["corpus"]).rglob("*.tmp"))


def test_asr_screen_rejects_a_misread_clip(chain, tmp_path):
    """data.asr_max_cer: Whisper-base transcribes each clip; a clip whose text does not match what
    was said is left out, the transcripts are cached, and a rerun transcribes nothing."""
    pytest.importorskip("faster_whisper")
    from tmrvc.data import asr_screen

    entries = [json.loads(x) for x in (chain["corpus"] / "manifest.jsonl").read_text().splitlines()]
    good = next(e for e in entries if e["speaker"] == "flite_awb" or e["speaker"] == "espeak_us")
    other = next(e for e in entries if e["sid"] != good["sid"])
    wrong = {**good, "sid": good["sid"] + "x", "text": other["text"], "path": good["path"]}
    shutil.copytree(chain["corpus"] / "wav", tmp_path / "wav")
    logs: list[str] = []
    kept = asr_screen.screen(tmp_path, [good, wrong], max_cer=0.5, log=logs.append)
    assert kept == [good], logs
    rejected = [json.loads(x) for x in (tmp_path / asr_screen.REJECTED).read_text().splitlines()]
    assert [r["sid"] for r in rejected] == [wrong["sid"]] and rejected[0]["cer"] > 0.5
    assert json.loads(asr_screen.cache_path(tmp_path, good).read_text())["cer"] <= 0.5
    logs.clear()
    assert asr_screen.screen(tmp_path, [good, wrong], max_cer=0.5, log=logs.append) == [good]
    assert not any("transcribing" in x for x in logs), logs


def test_losses_fall(chain):
    stages = chain["report"]["stages"]
    adapted = [f"adapt/{v}" for v in _voices()[1:3]]
    assert set(stages) == {"speaker_encoder", "content_encoder", "ir_estimator", "vocoder", "teacher",
                           "distill", "dmd", "joint", "vocoder_gta", *adapted}
    assert set(chain["report"]["timings_s"]["side_lane"]) == {"ir_estimator", "vocoder"}
    for name, s in stages.items():
        if name in ("dmd", "joint"):
            continue                  # their own checks below
        assert s["loss_last"] < s["loss_first"], (name, s["loss_first"], s["loss_last"])
        assert s["eval_after"]["loss"] < s["eval_before"]["loss"], (name, s["eval_before"], s["eval_after"])
    # conversion pairs (another speaker's aligned reading as the target) improve too
    d = stages["distill"]
    assert d["eval_after"]["cross_l1"] < d["eval_before"]["cross_l1"]
    # DMD (phase B): the fake score network learns the student's outputs, and the phase-A
    # regulariser keeps the student near its distilled result while the DMD term moves it
    m = stages["dmd"]
    assert m["eval_after"]["fake_v"] < m["eval_before"]["fake_v"], m
    assert m["eval_after"]["loss"] < 1.5 * m["eval_before"]["loss"], m
    # the end-to-end fine-tune starts from dmd's converter and the content stage's encoder, and
    # both exported models come from it
    j = stages["joint"]
    # (its anchor term starts at 0 by construction, so the reconstruction and conversion terms are compared)
    assert j["loss_last"] < j["loss_first"] and j["eval_before"]["anchor"] == 0.0, j
    assert j["eval_after"]["rec"] < j["eval_before"]["rec"], j
    assert j["eval_after"]["cross_l1"] < j["eval_before"]["cross_l1"], j
    assert j["params"] == {"content_encoder": stages["content_encoder"]["params"]["content_encoder"],
                           "converter": stages["distill"]["params"]["converter"]}
    assert {k: chain["report"]["export"]["sources"][k] for k in ("content_encoder", "converter")} == \
        {"content_encoder": "joint", "converter": "joint"}
    # the vocoder fine-tuned on the converter's reconstructions is the exported one, and it
    # starts from the vocoder stage's weights (same size), scored on both kinds of input
    g = stages["vocoder_gta"]
    assert chain["report"]["export"]["sources"]["vocoder"] == "vocoder_gta"
    assert g["params"] == stages["vocoder"]["params"]
    assert g["eval_after"]["loss_real_mel"] < g["eval_before"]["loss_real_mel"], g
    assert m["params"] == {"converter": stages["distill"]["params"]["converter"],
                           "fake_score": stages["teacher"]["params"]["teacher"]}
    # the adapted LoRA beats no adaptation on the speaker's held-out sentences
    for name in adapted:
        a = stages[name]["eval_after"]
        assert a["loss"] < a["loss_zero_delta"], name


def test_speaker_file(chain):
    from tmrvc.speaker_file import SpeakerProfile

    for v in _voices()[1:3]:
        path = Path(chain["report"]["stages"][f"adapt/{v}"]["speaker_file"])
        assert path.name == f"{v}.tmrvc_speaker"
        prof = SpeakerProfile.read(path)
        assert abs(np.linalg.norm(prof.embedding) - 1) < 1e-4
        assert np.abs(prof.lora_delta).max() > 0 and prof.voice_source_preset is not None


def test_export_loads_in_ort_with_contract_io(chain):
    out = Path(chain["report"]["export"]["out"])
    assert out.is_relative_to(chain["root"])              # nothing is written into the repo
    ref = json.loads((REPO / "weights" / "models.json").read_text())["models"]
    info = json.loads((out / "models.json").read_text())
    assert sorted(info["trained_models"]) == sorted(ref)
    rng = np.random.default_rng(0)
    for name, r in ref.items():
        sess = U.make_session(out / r["file"])
        spec = U.io_spec(sess)
        assert spec["inputs"] == r["inputs"] and spec["outputs"] == r["outputs"], name
        feeds = {}
        for v in r["inputs"]:
            shape = [5 if d == "T" else d for d in v["shape"]]
            feeds[v["name"]] = (np.zeros(shape) if v["name"].startswith("state_in_")
                                else rng.standard_normal(shape) * 0.5 - (3.0 if "mel" in v["name"] else 0.0)
                                ).astype(np.float32)
        for o in sess.run(None, feeds):
            assert np.all(np.isfinite(o)), name
    # the shipped weights were not touched
    assert U.sha256_file(REPO / "weights" / "vocoder.onnx") == ref["vocoder"]["sha256"]


def test_seed_from_onnx_round_trips(chain, tmp_path):
    """``seed --models DIR`` turns exported ONNX files back into the stages' final.pt: exporting
    from the seeded checkpoints gives byte-identical files (the converter goes to ``distill`` and
    the vocoder to ``vocoder``, so dmd, joint and vocoder_gta are switched off for the re-export), and
    the speaker embeddings are there for the stages that follow (an adapt run on the seeded
    weights works).  A folder that already holds results is refused."""
    from tmrvc.train.cli import main

    src = Path(chain["report"]["export"]["out"])
    ck = tmp_path / "seeded"
    args = [a if a != str(chain["ck"]) else str(ck) for a in chain["args"]]
    assert main(["seed", *args, "--models", str(src)]) == 0
    assert (ck / "speaker_encoder" / "embeddings.npz").exists()
    off = ["--set", "stages.dmd.steps=0", "--set", "stages.joint.steps=0", "--set", "stages.vocoder_gta.steps=0"]
    assert main(["export", *args, *off, "--out", str(tmp_path / "again")]) == 0
    ref = json.loads((REPO / "weights" / "models.json").read_text())["models"]
    for r in ref.values():
        assert (tmp_path / "again" / r["file"]).read_bytes() == (src / r["file"]).read_bytes(), r["file"]
    assert main(["adapt", *args, *off, "--set", "stages.adapt.steps=4"]) == 0
    with pytest.raises(SystemExit, match="already has final.pt"):
        main(["seed", *args, "--models", str(src)])
    empty = [a if a != str(ck) else str(tmp_path / "other") for a in args]
    with pytest.raises(SystemExit, match="missing .*vocoder.onnx"):
        main(["seed", *empty, "--models", str(tmp_path / "again" / "nothing")])
    assert not (tmp_path / "other" / "distill").exists()


def test_joint_with_warped_inputs_and_a_speaker_adversary(chain, tmp_path):
    """The joint stage's speaker-independence options (issue 19) on seeded smoke weights: every
    encoder input frequency-warped and a gradient-reversed speaker classifier; the classifier is
    trained and saved beside the two models, its cross-entropy and accuracy and the warped-input
    reconstruction are evaluated, and the exported content encoder is the fine-tuned one."""
    import onnx
    from tmrvc.train.cli import main

    src = Path(chain["report"]["export"]["out"])
    ck = tmp_path / "seeded"
    args = [a if a != str(chain["ck"]) else str(ck) for a in chain["args"]]
    assert main(["seed", *args, "--models", str(src)]) == 0
    opts = ["--set", "stages.dmd.steps=0", "--set", "stages.vocoder_gta.steps=0", "--set", "stages.joint.p_warp=1.0",
            "--set", "stages.joint.warp=0.15", "--set", "stages.joint.adv_weight=0.5"]
    assert main(["joint", *args, *opts]) == 0
    s = json.loads((ck / "joint" / "summary.json").read_text())
    assert set(s["params"]) == {"content_encoder", "converter", "speaker_adversary"}, s["params"]
    for ev in (s["eval_before"], s["eval_after"]):
        assert {"rec", "anchor", "adv_ce", "adv_acc", "cross_l1", "warped_rec"} <= set(ev), ev
        assert all(np.isfinite(v) for v in ev.values()) and 0.0 <= ev["adv_acc"] <= 1.0, ev
    assert s["eval_before"]["adv_ce"] > 0.0
    assert main(["export", *args, *opts, "--out", str(tmp_path / "out")]) == 0
    new = {i.name: i for i in onnx.load(str(tmp_path / "out" / "content_encoder.onnx")).graph.initializer}
    old = {i.name: i for i in onnx.load(str(src / "content_encoder.onnx")).graph.initializer}
    assert new.keys() == old.keys() and any(new[k].raw_data != old[k].raw_data for k in new)


def test_sigterm_then_resume_matches_uninterrupted(chain, tmp_path):
    steps = 24
    args = chain["args"] + ["--set", f"stages.content_encoder.steps={steps}", "--set", "common.log_every=1",
                            "--set", "common.save_every=1000"]
    ck = tmp_path / "ck"
    args_i = [a if a != str(chain["ck"]) else str(ck) for a in args]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TOOLS), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "tmrvc.train", "content_encoder", *args_i]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=TOOLS)
    for line in p.stdout:
        if "step 5/" in line:
            p.send_signal(signal.SIGTERM)
            break
    rest = p.communicate(timeout=120)[0]
    assert p.returncode == 128 + signal.SIGTERM, rest
    saved = (ck / "content_encoder" / "latest.txt").read_text().strip()
    k = int(saved.split("_")[1].split(".")[0])
    assert 5 <= k < steps
    assert not (ck / "content_encoder" / "final.pt").exists()
    r = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, env=env, cwd=TOOLS, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"step {k + 1}/{steps}" in r.stdout and f"step {k}/{steps}" not in r.stdout
    resumed = json.loads((ck / "content_encoder" / "summary.json").read_text())
    assert resumed["resumed_from"] == k and resumed["steps"] == steps
    # the same run without interruption ends at the same weights / losses
    from tmrvc.train.cli import main

    ck2 = tmp_path / "ck2"
    assert main(["content_encoder", *[a if a != str(ck) else str(ck2) for a in args_i]]) == 0
    plain = json.loads((ck2 / "content_encoder" / "summary.json").read_text())
    assert plain["eval_after"]["loss"] == pytest.approx(resumed["eval_after"]["loss"], rel=1e-5)
    assert plain["loss_last"] == pytest.approx(resumed["loss_last"], rel=1e-5)


@pytest.fixture(scope="module")
def corpus_eval(chain, tmp_path_factory):
    """The evaluation of the smoke export on 1 held-out sentence, with plots (shared by the two
    evaluation tests: it is the slowest step of this module)."""
    pytest.importorskip("faster_whisper")
    pytest.importorskip("resemblyzer")
    pytest.importorskip("speechmos")
    from tmrvc.evaluation.run import evaluate

    out = tmp_path_factory.mktemp("eval")
    r = evaluate(Path(chain["report"]["export"]["out"]), chain["ck"] / "speakers", chain["corpus"], out,
                 max_sentences=1)
    return {"result": r, "out": out}


def test_evaluation_on_the_smoke_models(chain, corpus_eval, tmp_path):
    """The evaluation command end to end on the smoke export (1 held-out sentence): every
    system is measured, the references behave as references (Whisper reads the clean target
    recording, Resemblyzer finds it closer to its speaker than the sources are), and the
    plots and the markdown are written."""
    from tmrvc.evaluation.run import SYSTEMS, evaluate, write_doc

    r, out = corpus_eval["result"], corpus_eval["out"]
    s = r["summary"]
    assert set(s) == {*SYSTEMS, "target", "target, vocoded"}
    assert s["target"]["wer"] <= 25.0, r["rows"]
    assert s["target"]["sim_target"] > s["source"]["sim_target"] + 0.05
    assert s["source"]["f0_corr"] == pytest.approx(1.0)
    assert s["source"]["vuv_agree"] == pytest.approx(1.0) and s["source"]["voiced_src"] == s["source"]["voiced"]
    for system in SYSTEMS[1:]:
        assert np.isfinite(s[system]["mcd"]) and s[system]["mcd"] > 0 and 0 <= s[system]["wer"] <= 100 * 3
    for system in (*SYSTEMS, "target", "target, vocoded"):
        assert 1.0 <= s[system]["dnsmos_ovrl"] <= 5.0 and 0.0 <= s[system]["voiced"] <= 1.0
        if system != "target":
            assert 0.0 <= s[system]["vuv_agree"] <= 1.0
    assert list(out.glob("*.png")) and (out / "results.json").exists()
    doc = tmp_path / "quality.md"
    write_doc(r, doc, "python -m tmrvc.evaluation (test)")
    text = doc.read_text()
    assert "| tmrvc |" in text and text.index("| target | bar |") < text.index("## All targets")
    # The same evaluation spread over two worker processes (one target each) gives the same rows.
    r2 = evaluate(Path(chain["report"]["export"]["out"]), chain["ck"] / "speakers", chain["corpus"], tmp_path / "eval2",
                  max_sentences=1, plots=False, jobs=2)
    assert [(x["target"], x["system"], x["source"], x["sid"]) for x in r2["rows"]] == \
        [(x["target"], x["system"], x["source"], x["sid"]) for x in r["rows"]]
    for a, b in zip(r["rows"], r2["rows"]):
        assert b["transcript"] == a["transcript"] and b["word_errors"] == a["word_errors"]
        assert b.get("mcd", 0.0) == pytest.approx(a.get("mcd", 0.0), rel=1e-3, abs=1e-3)
    assert json.loads((tmp_path / "eval2" / "results.json").read_text())["summary"].keys() == s.keys()


def test_unseen_voices_evaluation_on_the_smoke_models(chain, corpus_eval, tmp_path):
    """The --unseen section end to end on the smoke export with two unseen clips (the installed
    real recordings / Pico voices), into the adapted speakers and into an 'enrolled' target (one
    of the smoke speaker files, so no few-shot fit runs here): rows for every system, the
    enrolled voice's own recordings as its references, and the section in the markdown."""
    pytest.importorskip("faster_whisper")
    pytest.importorskip("resemblyzer")
    pytest.importorskip("speechmos")
    from tmrvc.evaluation import unseen as U
    from tmrvc.evaluation.run import SYSTEMS, _select, evaluate_unseen, write_doc

    if not any(c.voice == U.ENROLLED_VOICE for c in U.human_clips()):
        pytest.skip("the real recordings are not installed (tools/setup.sh: pocketsphinx-testdata)")
    models, speakers = Path(chain["report"]["export"]["out"]), chain["ck"] / "speakers"
    enrolled = sorted(speakers.glob("*.tmrvc_speaker"))[0]
    u = evaluate_unseen(models, speakers, chain["corpus"], tmp_path / "eval", max_clips=2, max_sentences=1,
                        plots=False, enrolled=str(enrolled))
    held_out_targets = _select(chain["corpus"], speakers, None, None)[0]      # adapted held-out speakers
    assert len(u["clips"]) == 2 and len(u["targets"]) == len(held_out_targets) + 1   # + the enrolled voice
    for system in SYSTEMS:
        assert u["summary"][system]["n"] >= 2 and 1.0 <= u["summary"][system]["dnsmos_ovrl"] <= 5.0
    assert u["summary"]["source"]["vuv_agree"] == pytest.approx(1.0)
    own = [r for r in u["rows"] if r["system"] == "target"]
    assert own and {r["voice"] for r in own} == {U.ENROLLED_VOICE}
    assert not any(r["voice"] == U.ENROLLED_VOICE for r in u["rows"]
                   if r["target"].endswith("(enrolled)") and r["system"] in SYSTEMS)
    assert all("mcd" not in r for r in u["rows"])
    r = dict(corpus_eval["result"], unseen=u)
    write_doc(r, tmp_path / "quality.md", "python -m tmrvc.evaluation --unseen (test)")
    text = (tmp_path / "quality.md").read_text()
    head = next(line for line in text.splitlines() if line.startswith("| target | bar |"))
    assert "## Unseen voices" in text and "unseen voices" in head


def test_asr_fallback_is_reproducible(chain):
    """The ASR judge gives the same transcript for the same audio, also on its sampled fallback
    path: with a loop threshold of 0.1 every decode counts as a repetition loop and goes through
    all the seeded sampling temperatures, twice over (about 20 s)."""
    pytest.importorskip("faster_whisper")
    from tmrvc.data.corpus import load_clip, read_manifest
    from tmrvc.speech_models import WhisperASR

    entry = read_manifest(chain["corpus"])[0]
    x = load_clip(chain["corpus"], entry)
    asr = WhisperASR(loop_ratio=0.1)
    first = asr.transcribe(x)
    assert first and asr.transcribe(x) == first


def test_whisper_content_features(chain):
    """Whisper-base encoder features on the engine's frame grid: [512, T] float16 for a clip of
    T mel frames, finite, each 20 ms frame on two 10 ms frames, and the short encoding (speech +
    10 s of the padded tail) close to the full 30 s window Whisper was trained on."""
    pytest.importorskip("faster_whisper")
    from tmrvc.data.corpus import load_clip, read_manifest
    from tmrvc.data.whisper_content import WHISPER_FRAME, WhisperEncoder

    x = load_clip(chain["corpus"], read_manifest(chain["corpus"])[0])
    enc = WhisperEncoder()
    w = enc.encode(x)
    t = len(x) // 240
    assert w.shape == (512, t) and w.dtype == np.float16 and np.isfinite(w).all()
    assert np.array_equal(w[:, 0], w[:, 1]) and not np.array_equal(w[:, 1], w[:, 2])
    full = enc._encode_window(enc.to_16k(x))[: len(enc.to_16k(x)) // WHISPER_FRAME]
    short = w[:, ::2].T.astype(np.float32)[: len(full)]
    assert np.corrcoef(short.ravel(), full[: len(short)].ravel())[0, 1] > 0.97


def test_torchrun_two_processes(chain, tmp_path):
    """The vocoder stage under ``torchrun`` with 2 CPU processes (gloo): both ranks train, the
    gradients are averaged, only rank 0 writes metrics, checkpoints and final.pt."""
    steps = 4
    ck = tmp_path / "ck"
    args = [a if a != str(chain["ck"]) else str(ck) for a in chain["args"]]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TOOLS), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "tmrvc.train", "vocoder", *args, "--set", f"stages.vocoder.steps={steps}",
           "--set", "common.log_every=1"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=TOOLS, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 processes" in r.stdout, r.stdout
    lines = [json.loads(x) for x in (ck / "vocoder" / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == list(range(1, steps + 1))          # one writer
    assert all(np.isfinite(x["loss"]) for x in lines)
    summary = json.loads((ck / "vocoder" / "summary.json").read_text())
    assert summary["steps"] == steps and np.isfinite(summary["eval_after"]["loss"])
    assert (ck / "vocoder" / "final.pt").exists()


def test_feature_cache_redoes_pitch_of_another_estimator(chain, tmp_path):
    """A cached clip whose pitch came from another F0 estimator (its ``pitch_version`` differs)
    gets its pitch and voice source redone by the next feature build; the rest is reused."""
    from tmrvc.data import features as F
    from tmrvc.data.corpus import read_manifest
    from tmrvc.pitch import estimator_version

    corpus = tmp_path / "corpus"
    shutil.copytree(chain["corpus"], corpus)
    e = read_manifest(corpus)[0]
    f = F.load_features(corpus, e)
    good = {k: f[k].copy() for k in ("pitch", "voice_source", "mel_aug")}
    assert str(f["pitch_version"]) == estimator_version()
    f["pitch"], f["pitch_version"] = np.zeros_like(good["pitch"]), np.array("another estimator")
    F._save(F.feature_path(corpus, e), f)
    logs: list[str] = []
    F.build(corpus, use_resemblyzer=False, log=logs.append)
    assert any("pitch of 1 cached clips" in x for x in logs), logs
    redone = F.load_features(corpus, e)
    assert str(redone["pitch_version"]) == estimator_version()
    for k, v in good.items():
        np.testing.assert_array_equal(redone[k], v, err_msg=k)

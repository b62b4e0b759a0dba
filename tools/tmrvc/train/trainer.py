"""Generic resumable training loop shared by every stage.

Checkpoint layout (``<checkpoints>/<stage>/``)::

    step_00000100.pt   full training state: step, trained modules, optimiser, scheduler,
                       loss history, config (the newest ``keep_checkpoints`` are kept)
    latest.txt         name of the newest step checkpoint (written atomically)
    final.pt           trained module weights only ({"models": {name: state_dict}, ...})
    summary.json       losses (first/last training steps, eval before/after), runtime
    metrics.jsonl      one line per ``log_every`` steps

A checkpoint is written every ``save_every`` steps and when the process gets SIGINT
or SIGTERM (then it exits with 128 + signal number).  ``resume=True`` continues from
``latest.txt``; the batch and noise of step ``k`` are drawn from generators seeded by
``(seed, stage, k)``, so a resumed run sees exactly the batches an uninterrupted run
would have seen.

Data parallel: launched by ``torchrun`` (``WORLD_SIZE`` > 1 in the environment) the loop joins
a ``torch.distributed`` process group (NCCL when CUDA is available, else gloo), every rank draws
its own batch (generators seeded by ``(seed, stage, k, rank)``, so the effective batch is
``world_size * batch``), the gradients are averaged over the ranks with one all-reduce per step,
and only rank 0 evaluates and writes checkpoints, metrics and ``final.pt``.  One process (no
``torchrun``) is the documented default and keeps its seeds unchanged.
"""

from __future__ import annotations

import json
import math
import signal
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import torch

from tmrvc.atomic import replacing


class _Group:
    """The torch.distributed process group of a ``torchrun`` launch (a no-op in one process)."""

    def __init__(self) -> None:
        import os

        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.dist = None
        if self.world > 1:
            import torch.distributed as dist

            if not dist.is_initialized():
                dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
            self.dist = dist

    @property
    def main(self) -> bool:
        return self.rank == 0

    def seed_key(self, *key: int) -> list[int]:
        """Generator seed of one step: the rank is appended only when there are several."""
        return [*key, self.rank] if self.world > 1 else list(key)

    def broadcast_parameters(self, modules) -> None:
        if self.dist is not None:
            for m in modules:
                for t in list(m.parameters()) + list(m.buffers()):
                    self.dist.broadcast(t.data, src=0)

    def average_gradients(self, params: list[torch.Tensor]) -> None:
        """Mean gradient over the ranks (missing gradients count as zeros), one all-reduce."""
        if self.dist is None or not params:
            return
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads])
        self.dist.all_reduce(flat)
        flat /= self.world
        offset = 0
        for p in params:
            n = p.numel()
            p.grad = flat[offset:offset + n].view_as(p).clone()
            offset += n

    def barrier(self) -> None:
        if self.dist is not None:
            self.dist.barrier()


class Interrupted(SystemExit):
    pass


class Stage:
    """A training stage; subclasses fill in the hooks."""

    name = "stage"

    def __init__(self, cfg: dict, scfg: dict) -> None:
        self.cfg, self.scfg = cfg, scfg
        self.modules: dict[str, torch.nn.Module] = {}     # trained and checkpointed

    def setup(self) -> None:
        raise NotImplementedError

    def parameters(self):
        for m in self.modules.values():
            yield from (p for p in m.parameters() if p.requires_grad)

    def train_step(self, step: int, rng: np.random.Generator, gen: torch.Generator) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        return {}

    def finish(self, ckpt_dir: Path) -> dict:
        return {}


def _atomic_write(path: Path, data: bytes) -> None:
    with replacing(path) as tmp:
        tmp.write_bytes(data)


def _atomic_save(obj, path: Path) -> None:
    with replacing(path) as tmp:
        torch.save(obj, tmp)


def latest_checkpoint(ckpt_dir: Path) -> Path | None:
    f = Path(ckpt_dir) / "latest.txt"
    if not f.exists():
        return None
    p = Path(ckpt_dir) / f.read_text().strip()
    return p if p.exists() else None


class _Progress:
    """tqdm bar on a terminal (a plain one-line bar when tqdm is missing); silent otherwise
    (the ``log_every`` lines on stdout are the progress report in logs and CI)."""

    def __init__(self, total: int, initial: int, desc: str, quiet: bool = False) -> None:
        self.bar = None
        self.plain = False
        self.total, self.n, self.desc, self.t0 = total, initial, desc, time.time()
        if sys.stderr.isatty() and not quiet:
            try:
                from tqdm import tqdm

                self.bar = tqdm(total=total, initial=initial, desc=desc, dynamic_ncols=True)
            except ImportError:
                self.plain = True

    def update(self, loss: float) -> None:
        self.n += 1
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{loss:.4f}")
        elif self.plain:
            done = int(30 * self.n / max(1, self.total))
            sys.stderr.write(f"\r{self.desc} [{'#' * done}{'.' * (30 - done)}] {self.n}/{self.total} "
                             f"loss={loss:.4f} {time.time() - self.t0:.0f}s")
            sys.stderr.flush()

    def write(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line)
        elif self.plain:
            sys.stderr.write("\r" + " " * 100 + "\r")
            print(line, flush=True)
        else:
            print(line, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.plain:
            sys.stderr.write("\n")


def _lr_factor(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    frac = (step - warmup) / max(1, total - warmup)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac)))


def run_stage(stage: Stage, ckpt_dir: Path, resume: bool = False, log=print) -> dict:
    """Train ``stage`` to ``scfg['steps']``; returns the summary dict."""
    scfg = stage.scfg
    ckpt_dir = Path(ckpt_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    total = int(scfg["steps"])
    seed = int(scfg["seed"])
    save_every = int(scfg["save_every"])
    log_every = int(scfg["log_every"])
    keep = int(scfg["keep_checkpoints"])
    stage_key = zlib.crc32(stage.name.encode())
    group = _Group()
    if not group.main:
        log = lambda *a, **k: None  # noqa: E731  (rank 0 reports)
    t_setup = time.time()
    stage.setup()
    params = list(stage.parameters())
    opt = torch.optim.AdamW(params, lr=float(scfg["lr"]), betas=(0.8, 0.99),
                            weight_decay=float(scfg["weight_decay"]))
    warmup = int(scfg["warmup"]) if scfg["warmup"] is not None else max(1, total // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_factor(s, total, warmup))
    state = {"step": 0, "losses": [], "eval_before": None, "resumed_from": None, "train_seconds": 0.0}
    latest = latest_checkpoint(ckpt_dir) if resume else None
    if latest is not None:
        ck = torch.load(latest, map_location="cpu", weights_only=False)
        for k, m in stage.modules.items():
            m.load_state_dict(ck["models"][k])
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        state.update(ck["state"])
        state["resumed_from"] = ck["state"]["step"]
        log(f"[{stage.name}] resumed from {latest.name} (step {state['step']})")
    elif group.main:
        if not resume:
            for old in ckpt_dir.glob("step_*.pt"):
                old.unlink()
            for f in ("latest.txt", "final.pt", "summary.json", "metrics.jsonl"):
                (ckpt_dir / f).unlink(missing_ok=True)
        for m in stage.modules.values():
            m.eval()
        state["eval_before"] = stage.evaluate()
        log(f"[{stage.name}] eval before: {_fmt(state['eval_before'])}")
    group.barrier()                              # rank 0 has cleared an old run's files
    group.broadcast_parameters(stage.modules.values())
    setup_s = time.time() - t_setup

    def save(step: int) -> None:
        if not group.main:
            return
        name = f"step_{step:08d}.pt"
        _atomic_save({"models": {k: m.state_dict() for k, m in stage.modules.items()},
                      "opt": opt.state_dict(), "sched": sched.state_dict(), "state": state,
                      "stage": stage.name, "config": scfg}, ckpt_dir / name)
        _atomic_write(ckpt_dir / "latest.txt", name.encode())
        for old in sorted(ckpt_dir.glob("step_*.pt"))[:-keep]:
            old.unlink()

    got_signal: list[int] = []

    def handler(signum, frame):  # noqa: ARG001
        got_signal.append(signum)

    old_handlers = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    bar = _Progress(total, state["step"], stage.name, quiet=not group.main)
    metrics = open(ckpt_dir / "metrics.jsonl", "a") if group.main else None
    try:
        for m in stage.modules.values():
            m.train()
        while state["step"] < total:
            step = state["step"] + 1
            t0 = time.time()
            rng = np.random.default_rng(group.seed_key(seed, stage_key, step))
            gen = torch.Generator().manual_seed((seed * 1_000_003 + stage_key * 7919 + step + 104_729 * group.rank) % (2 ** 63))
            losses = stage.train_step(step, rng, gen)
            loss = losses["loss"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            group.average_gradients(params)
            gnorm = torch.nn.utils.clip_grad_norm_(params, float(scfg["grad_clip"]))
            opt.step()
            sched.step()
            state["step"] = step
            state["train_seconds"] += time.time() - t0
            vals = {k: float(v.detach()) for k, v in losses.items()}
            state["losses"].append(vals["loss"])
            bar.update(vals["loss"])
            if group.main and (step % log_every == 0 or step == total):
                line = {"step": step, **{k: round(v, 5) for k, v in vals.items()},
                        "grad_norm": round(float(gnorm), 4), "lr": sched.get_last_lr()[0],
                        "s_per_step": round(state["train_seconds"] / step, 4)}
                metrics.write(json.dumps(line) + "\n")
                metrics.flush()
                bar.write(f"[{stage.name}] step {step}/{total} " + _fmt(vals))
            if step % save_every == 0 and step < total:
                save(step)
            if got_signal:
                save(step)
                log(f"[{stage.name}] interrupted (signal {got_signal[0]}) at step {step}: checkpoint saved, "
                    f"continue with --resume")
                raise Interrupted(128 + got_signal[0])
    finally:
        bar.close()
        if metrics is not None:
            metrics.close()
        for s, h in old_handlers.items():
            signal.signal(s, h)
    save(total)
    for m in stage.modules.values():
        m.eval()
    if not group.main:                           # rank 0 evaluates and writes the results
        group.barrier()
        return {}
    eval_after = stage.evaluate()
    log(f"[{stage.name}] eval after:  {_fmt(eval_after)}")
    n = max(1, min(10, len(state["losses"]) // 4))
    summary = {"stage": stage.name, "steps": total, "resumed_from": state["resumed_from"],
               "loss_first": float(np.mean(state["losses"][:n])), "loss_last": float(np.mean(state["losses"][-n:])),
               "eval_before": state["eval_before"], "eval_after": eval_after,
               "train_seconds": round(state["train_seconds"], 2), "setup_seconds": round(setup_s, 2),
               "s_per_step": round(state["train_seconds"] / max(1, total), 4),
               "params": {k: sum(p.numel() for p in m.parameters()) for k, m in stage.modules.items()}}
    summary.update(stage.finish(ckpt_dir) or {})
    _atomic_save({"models": {k: m.state_dict() for k, m in stage.modules.items()}, "stage": stage.name,
                  "summary": summary}, ckpt_dir / "final.pt")
    (ckpt_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    log(f"[{stage.name}] done: loss {summary['loss_first']:.4f} -> {summary['loss_last']:.4f} "
        f"({summary['train_seconds']:.1f} s training)" + (f", {group.world} processes" if group.world > 1 else ""))
    group.barrier()
    return summary


def _fmt(d: dict | None) -> str:
    return " ".join(f"{k}={v:.4f}" for k, v in (d or {}).items())


def load_final(ckpt_root: Path, stage: str) -> dict:
    path = Path(ckpt_root) / stage / "final.pt"
    if not path.exists():
        raise FileNotFoundError(f"{path} missing: run the '{stage}' stage first")
    return torch.load(path, map_location="cpu", weights_only=False)

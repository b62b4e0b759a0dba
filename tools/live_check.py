"""`tmrvc live` in a real JACK graph, checked sample by sample against `tmrvc convert`.

Starts its own `jackd` (dummy backend, no audio hardware, a private server name), a player client
that streams speech into tmrvc:in and a recorder client on tmrvc:out (Tests/Live/jack_io.c), runs
`tmrvc live` for --seconds, then reconstructs exactly what tmrvc received (JACK frame times of
the player's first sample and of tmrvc's first period) and converts that stream offline. Checks:
the recording equals `tmrvc convert` of the same stream after the reported latency (<= 1e-5; an
xrun drops a period, after which the streams differ, so this is checked on runs without xruns),
finite and non-silent output, clean exit on SIGINT; prints the xruns (--max-xruns to fail on them).

    .venv/bin/python tools/live_check.py --tmrvc .build/release/tmrvc [--seconds 60]
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

ROOT = Path(__file__).resolve().parent.parent
RATE = 48000
SERVER = f"tmrvc-live-check-{os.getpid()}"


def speech(seconds: float) -> np.ndarray:
    """Shipped and fixture recordings, resampled to 48 kHz, repeated with short pauses."""
    clips = []
    for p in sorted((ROOT / "Tests/Fixtures/audio").glob("*.wav")) + [ROOT / "weights/examples/flite_awb_s055.wav"]:
        x, sr = sf.read(p, dtype="float32", always_2d=True)
        x = x.mean(axis=1)
        g = np.gcd(RATE, sr)
        clips.append(resample_poly(x, RATE // g, sr // g).astype(np.float32))
        clips.append(np.zeros(RATE // 4, np.float32))
    one = np.concatenate(clips)
    n = int(seconds * RATE)
    return np.tile(one, n // len(one) + 1)[:n]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tmrvc", default=str(ROOT / ".build/release/tmrvc"))
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--period", type=int, default=256)
    ap.add_argument("--max-xruns", type=int, default=1 << 30,
                    help="fail above this many xruns (default: report only; JACK counts xruns of the whole graph, and on a "
                         "shared 2-vCPU VM the dummy driver's timing alone produces some)")
    ap.add_argument("--fp16", action="store_true", help="float16 weights (tmrvc live and convert --fp16)")
    ap.add_argument("--speaker", default=str(ROOT / "weights/speakers/flite_rms.tmrvc_speaker"))
    args = ap.parse_args()
    env = dict(os.environ, JACK_DEFAULT_SERVER=SERVER, JACK_NO_AUDIO_RESERVATION="1")
    tmp = tempfile.TemporaryDirectory()
    io_client = f"{tmp.name}/jack_io"
    subprocess.run(["cc", "-O2", "-Wall", "-Werror", str(ROOT / "Tests/Live/jack_io.c"), "-ljack", "-lsndfile", "-o", io_client],
                   check=True)
    jackd = subprocess.Popen(["jackd", "-n", SERVER, *os.environ.get("LIVE_CHECK_JACKD", "--no-realtime").split(), "-d", "dummy", "-r", str(RATE), "-p", str(args.period)],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    live = io = None
    try:
        x = speech(args.seconds - 4)
        sf.write(f"{tmp.name}/x.wav", x, RATE, subtype="FLOAT")
        # The test clients (C: Python callbacks caused xruns of their own), then tmrvc between them.
        for attempt in range(100):
            io = subprocess.Popen([io_client, f"{tmp.name}/x.wav", f"{tmp.name}/rec.wav", str(args.seconds)],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            if io.stdout.readline().strip() == "ready":
                break
            io.wait()
            time.sleep(0.2)   # the server is still starting
        else:
            raise SystemExit(f"live_check: the test clients could not connect to jackd:\n{io.stderr.read()}")
        live = subprocess.Popen([args.tmrvc, "live", "--speaker", args.speaker, "--q", "0", "--name", "tmrvc",
                                 "--in", "player:out", "--out", "player:in",
                                 "--interval", os.environ.get("LIVE_CHECK_INTERVAL", "10")] + (["--fp16"] if args.fp16 else []),
                                cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        live.stdin.write("stats\n")
        live.stdin.flush()
        io_out, io_err = io.communicate(timeout=args.seconds + 90)
        if io.returncode != 0:
            raise SystemExit(f"live_check: test clients failed:\n{io_err}")
        live.send_signal(signal.SIGINT)   # the clean-shutdown path
        out, err = live.communicate(timeout=30)
        print(out.strip())
        if live.returncode != 0:
            raise SystemExit(f"live_check: tmrvc live exited with {live.returncode}:\n{err}")
        summary = re.search(r"(\d+) periods from JACK frame (\d+), (\d+) xruns", out)
        if not summary:
            raise SystemExit(f"live_check: no summary in tmrvc's output:\n{out}\n{err}")
        latency = int(re.search(r"engine latency (\d+) samples", out).group(1))
        periods, first_frame, xruns = map(int, summary.groups())
        play_from, n_rec, rec_from = map(int, re.search(r"played from frame (\d+), recorded (\d+) samples from frame (\d+)", io_out).groups())
        recorded, _ = sf.read(f"{tmp.name}/rec.wav", dtype="float32")

        # What tmrvc received, from its first period on: zeros, then x from the player's first frame.
        total = (rec_from + n_rec) - first_frame
        stream = np.zeros(total, np.float32)
        lead = play_from - first_frame
        assert lead >= 0, (play_from, first_frame)
        m = min(len(x), total - lead)
        stream[lead:lead + m] = x[:m]
        sf.write(f"{tmp.name}/in.wav", stream, RATE, subtype="FLOAT")
        subprocess.run([args.tmrvc, "convert", f"{tmp.name}/in.wav", "-o", f"{tmp.name}/out.wav", "--speaker", args.speaker,
                        "--q", "0", "--float"] + (["--fp16"] if args.fp16 else []), cwd=ROOT, check=True, capture_output=True)
        aligned, _ = sf.read(f"{tmp.name}/out.wav", dtype="float32")
        # Raw engine output sample k (k = frame - first_frame) is aligned[k - latency]; the graph is
        # a cycle (player -> tmrvc -> player), so the recording lags by 0 or 1 period: take the better.
        best = None
        for cycle_lag in (0, args.period):
            k = np.arange(n_rec) + (rec_from - first_frame) - cycle_lag
            expected = np.where(k - latency >= 0, aligned[np.clip(k - latency, 0, len(aligned) - 1)], 0)
            valid = (k >= 0) & (k < min(total, periods * args.period))   # while tmrvc was running
            error = np.abs(recorded[:n_rec][valid] - expected[valid])
            if best is None or np.max(error) < np.max(best[1]):
                best = (cycle_lag, error)
        cycle_lag, error = best
        diff = float(np.max(error))
        if diff > 1e-5:
            bad = np.nonzero(error > 1e-5)[0]
            print(f"live_check: {len(bad)} samples differ, first at recorded sample {bad[0]} "
                  f"({bad[0] / RATE:.3f} s; tmrvc input starts {lead} samples before the player), last at {bad[-1]}")
        peak = float(np.max(np.abs(recorded[:n_rec])))
        print(f"live_check: {n_rec / RATE:.1f} s recorded through jackd (dummy, {RATE} Hz, period {args.period}); "
              f"{periods} periods, xruns {xruns}; latency {latency} samples (+ {cycle_lag} of the graph's cycle); "
              f"max |live - convert| {diff:.2e}; peak {peak:.3f}")
        failures = []
        if xruns > args.max_xruns:
            failures.append(f"{xruns} xruns (allowed {args.max_xruns})")
        if diff > 1e-5 and xruns == 0:
            failures.append(f"live output differs from tmrvc convert by {diff:.2e} (> 1e-5) without an xrun")
        if not np.all(np.isfinite(recorded)):
            failures.append("non-finite samples in the recording")
        if peak < 0.01:
            failures.append("the recording is silent")
        if failures:
            print("live_check: FAILED: " + "; ".join(failures), file=sys.stderr)
            return 1
        print("live_check: OK")
        return 0
    finally:
        for p in (live, io):
            if p is not None and p.poll() is None:
                p.kill()
        jackd.send_signal(signal.SIGTERM)
        try:
            jackd.wait(timeout=10)
        except subprocess.TimeoutExpired:
            jackd.kill()
        tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())

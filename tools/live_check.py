"""`tmrvc live` in a real JACK graph, checked sample by sample against `tmrvc convert`.

Starts its own `jackd` (dummy backend, no audio hardware, a private server name), a player client
that streams speech into tmrvc:in and a recorder client on tmrvc:out (Tests/Live/jack_io.c), runs
`tmrvc live` for --seconds, then reconstructs exactly what tmrvc received (JACK frame times of
the player's first sample and of tmrvc's first period) and converts that stream offline. Checks:
the recording equals `tmrvc convert` of the same stream after the reported latency (<= 1e-5; an
xrun drops a period, after which the streams differ, so this is checked on runs without xruns),
finite and non-silent output, clean exit on SIGINT; prints the xruns (--max-xruns to fail on them) and,
with --baseline-seconds, those of the same graph with jackd2's pass-through client in tmrvc's place.
The reference is `tmrvc convert --streaming` (the models hop by hop, the very path tmrvc live runs;
batched conversion matches it within ~1e-6 with fp32 weights, ~1e-4 with int8).

jackd runs with real-time scheduling (-R: its driver thread and every client's process thread
SCHED_FIFO, as an audio setup would) where the process may use it (root, or rtprio in limits.conf),
else --no-realtime; LIVE_CHECK_JACKD replaces these options. The choice is printed.

    .venv/bin/python tools/live_check.py --tmrvc .build/release/tmrvc [--seconds 60] [--precision int8]

With --standalone PATH the plugin's Standalone (JUCE, built with JACK) takes tmrvc live's place, headless
under Xvfb: its saved device setup (a private $HOME) selects JACK with the player client as input and
output, so it connects itself. Its first processed frame is not observable from outside, and the engine's
output depends on where the speech starts relative to its hops, so the check is on the sound rather than
the samples: the Standalone keeps running, the recording is finite and non-silent, its loudness contour
follows `tmrvc convert` of the same speech (10 ms log-RMS correlation >= 0.9) and it is not the dry input
(waveform correlation < 0.5); xruns are reported. With --jalv DIR the plugin's LV2 (DIR holds TMRVC.lv2)
runs in jalv, the LV2 host of the lilv authors, as a JACK client; the player feeds both of its inputs (the plugin
averages its input channels: one input left open halves the level) and the same sound checks apply, plus the
level within 1.5 dB of `tmrvc convert`'s.
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
LV2_URI = "https://github.com/tmrvc/tmrvc"   # JucePlugin_LV2URI in plugin/CMakeLists.txt


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


STANDALONE_SETTINGS = """<?xml version="1.0" encoding="UTF-8"?>
<PROPERTIES>
  <VALUE name="audioSetup">
    <DEVICESETUP deviceType="JACK" audioOutputDeviceName="player" audioInputDeviceName="player"
                 audioDeviceRate="{rate}.0" audioDeviceBufferSize="{period}"/>
  </VALUE>
  <VALUE name="shouldMuteInput" val="0"/>
</PROPERTIES>
"""


def start_clients(io_client: str, tmp: str, seconds: float, env: dict) -> subprocess.Popen:
    """The player/recorder client, once jackd accepts clients."""
    for attempt in range(100):
        io = subprocess.Popen([io_client, f"{tmp}/x.wav", f"{tmp}/rec.wav", str(seconds)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if io.stdout.readline().strip() == "ready":
            return io
        io.wait()
        time.sleep(0.2)   # the server is still starting
    raise SystemExit(f"live_check: the test clients could not connect to jackd:\n{io.stderr.read()}")


def log_rms(x: np.ndarray, hop: int = RATE // 100) -> np.ndarray:
    n = len(x) // hop
    return 10 * np.log10(np.mean(x[:n * hop].reshape(n, hop) ** 2, axis=1) + 1e-8)


def wait_for_port(env: dict, port: str) -> None:
    for _ in range(300):
        if port in subprocess.run(["jack_lsp"], env=env, capture_output=True, text=True).stdout.split():
            return
        time.sleep(0.1)
    raise SystemExit(f"live_check: no JACK port {port} after 30 s")


def check_plugin(args, env: dict, tmp: str, io_client: str, x: np.ndarray) -> int:
    """The plugin in place of tmrvc live: its Standalone (--standalone, connects itself) or its LV2
    in jalv (--jalv; the player feeds both of its inputs, output 1 goes to the recorder)."""
    io = start_clients(io_client, tmp, args.seconds, env)
    if args.standalone:
        home = Path(tmp) / "home"
        (home / ".config").mkdir(parents=True)
        (home / ".config/TMRVC.settings").write_text(STANDALONE_SETTINGS.format(rate=RATE, period=args.period))
        label = f"Standalone ({args.standalone}) in jackd (dummy, {RATE} Hz, period {args.period}) under Xvfb"
        app = subprocess.Popen(["xvfb-run", "-a", args.standalone], env=dict(env, HOME=str(home)), start_new_session=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    else:
        label = f"LV2 ({args.jalv}) in jalv, jackd (dummy, {RATE} Hz, period {args.period})"
        app = subprocess.Popen(["jalv", "-i", "-x", "-n", "tmrvc_lv2", LV2_URI], env=dict(env, LV2_PATH=str(Path(args.jalv).resolve())),
                               start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            wait_for_port(env, "tmrvc_lv2:audio_out_1")
            for a, b in (("player:out", "tmrvc_lv2:audio_in_1"), ("player:out", "tmrvc_lv2:audio_in_2"),
                         ("tmrvc_lv2:audio_out_1", "player:in")):
                subprocess.run(["jack_connect", a, b], env=env, check=True)
        except BaseException:
            os.killpg(app.pid, signal.SIGKILL)
            io.kill()
            print(app.communicate()[0], file=sys.stderr)
            raise
    try:
        io_out, io_err = io.communicate(timeout=args.seconds + 90)
    finally:
        running = app.poll() is None
        if running:
            os.killpg(app.pid, signal.SIGTERM)
        try:
            app_out = app.communicate(timeout=20)[0]
        except subprocess.TimeoutExpired:
            os.killpg(app.pid, signal.SIGKILL)
            app_out = app.communicate()[0]
    if io.returncode != 0:
        raise SystemExit(f"live_check: test clients failed (did the plugin connect?):\n{io_err}\n{app_out}")
    play_from, n_rec, rec_from, xruns = map(int, re.search(
        r"played from frame (\d+), recorded (\d+) samples from frame (\d+), (\d+) xruns", io_out).groups())
    recorded, _ = sf.read(f"{tmp}/rec.wav", dtype="float32")
    # tmrvc convert of the same speech with the plugin's defaults (bundled speakers sorted: index 0)
    speaker = ROOT / "weights/speakers/fest_ked.tmrvc_speaker"
    subprocess.run([args.tmrvc, "convert", f"{tmp}/x.wav", "-o", f"{tmp}/ref.wav", "--speaker", str(speaker),
                    "--q", "0", "--float"], cwd=ROOT, check=True, capture_output=True)
    reference, _ = sf.read(f"{tmp}/ref.wav", dtype="float32")
    start = play_from - rec_from            # recorded index of the first played sample
    assert start >= 0, (play_from, rec_from)
    hop = RATE // 100
    ref_env = log_rms(reference)
    rec_env = log_rms(recorded[start:])
    best_env = max(float(np.corrcoef(ref_env[:len(rec_env) - lag][:len(ref_env)],
                                     rec_env[lag:lag + len(ref_env)][:len(rec_env) - lag])[0, 1]) for lag in range(0, 30))
    # the dry input would come back with the latency (a few periods) in the recording
    seg = recorded[start:start + len(x)]
    best_dry = max(abs(float(np.corrcoef(x[:len(seg) - lag], seg[lag:])[0, 1])) for lag in range(0, 30 * hop, 16))
    # the plugin averages its input channels: one input left unconnected would halve the level (-6 dB)
    level_db = 20 * np.log10(np.sqrt(np.mean(seg[:len(reference)] ** 2)) / np.sqrt(np.mean(reference ** 2)))
    peak = float(np.max(np.abs(recorded)))
    print(f"live_check: {label}: {n_rec / RATE:.1f} s recorded, xruns {xruns}; loudness contour vs tmrvc convert "
          f"r = {best_env:.3f}, level {level_db:+.2f} dB; waveform vs the dry input |r| <= {best_dry:.3f}; peak {peak:.3f}; "
          f"still running at the end: {running}")
    failures = []
    if not running:
        failures.append(f"the plugin's host exited early:\n{app_out}")
    if xruns > args.max_xruns:
        failures.append(f"{xruns} xruns (allowed {args.max_xruns})")
    if not np.all(np.isfinite(recorded)):
        failures.append("non-finite samples in the recording")
    if peak < 0.01:
        failures.append("the recording is silent")
    if best_env < 0.9:
        failures.append(f"the loudness contour does not follow tmrvc convert (r = {best_env:.3f} < 0.9)")
    if abs(level_db) > 1.5:
        failures.append(f"the level differs from tmrvc convert by {level_db:+.2f} dB (> 1.5)")
    if best_dry >= 0.5:
        failures.append(f"the output looks like the dry input (r = {best_dry:.3f})")
    if failures:
        print("live_check: FAILED: " + "; ".join(failures), file=sys.stderr)
        return 1
    print("live_check: OK")
    return 0


def baseline_xruns(args, env: dict, tmp: str, io_client: str) -> int:
    """The graph's xruns with jackd2's own pass-through client (jack_thru) in tmrvc's place for
    --baseline-seconds: what the server, the test clients and the machine give without the engine."""
    x = speech(args.baseline_seconds)
    sf.write(f"{tmp}/x.wav", x, RATE, subtype="FLOAT")
    io = start_clients(io_client, tmp, args.baseline_seconds, env)
    thru = subprocess.Popen(["jack_thru"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(env, "jack_thru:output_1")
        for a, b in (("player:out", "jack_thru:input_1"), ("jack_thru:output_1", "player:in")):
            subprocess.run(["jack_connect", a, b], env=env, check=True)
        io_out, io_err = io.communicate(timeout=args.baseline_seconds + 90)
        if io.returncode != 0:
            raise SystemExit(f"live_check: test clients failed with jack_thru:\n{io_err}")
    finally:
        for p in (io, thru):
            if p.poll() is None:
                p.kill()
                p.wait()
    return int(re.search(r"(\d+) xruns", io_out).group(1))


def realtime_allowed() -> bool:
    """Whether this process may schedule threads SCHED_FIFO (what jackd -R and its clients do)."""
    try:
        return subprocess.run(["chrt", "-f", "1", "true"], capture_output=True).returncode == 0
    except OSError:
        return False


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tmrvc", default=str(ROOT / ".build/release/tmrvc"))
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--period", type=int, default=256)
    ap.add_argument("--max-xruns", type=int, default=1 << 30,
                    help="fail above this many xruns (default: report only; JACK counts xruns of the whole graph, and on a "
                         "shared 2-vCPU VM the dummy driver's timing alone produces some)")
    ap.add_argument("--precision", choices=("fp32", "fp16", "int8"),
                    help="weight storage of tmrvc live (default: its own default, read from its banner); "
                         "the tmrvc convert it is compared with uses the same")
    ap.add_argument("--speaker", default=str(ROOT / "weights/speakers/flite_rms.tmrvc_speaker"))
    ap.add_argument("--baseline-seconds", type=float, default=0.0,
                    help="first run the same graph with jackd2's pass-through client (jack_thru) in tmrvc's place "
                         "for this long and report its xruns: the server's and the machine's own share")
    plugin = ap.add_mutually_exclusive_group()
    plugin.add_argument("--standalone", help="check the plugin's Standalone (a JUCE build with JACK) instead of tmrvc live")
    plugin.add_argument("--jalv", metavar="LV2_DIR",
                        help="check the plugin's LV2 (the folder holding TMRVC.lv2) in jalv instead of tmrvc live")
    args = ap.parse_args()
    env = dict(os.environ, JACK_DEFAULT_SERVER=SERVER, JACK_NO_AUDIO_RESERVATION="1")
    tmp = tempfile.TemporaryDirectory()
    io_client = f"{tmp.name}/jack_io"
    subprocess.run(["cc", "-O2", "-Wall", "-Werror", str(ROOT / "Tests/Live/jack_io.c"), "-ljack", "-lsndfile", "-o", io_client],
                   check=True)
    jackd_options = os.environ.get("LIVE_CHECK_JACKD") or ("-R" if realtime_allowed() else "--no-realtime")
    print(f"live_check: jackd {jackd_options}")
    jackd = subprocess.Popen(["jackd", "-n", SERVER, *jackd_options.split(), "-d", "dummy", "-r", str(RATE), "-p", str(args.period)],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    live = io = None
    try:
        notes = ""
        if args.baseline_seconds > 0 and not (args.standalone or args.jalv):
            n = baseline_xruns(args, env, tmp.name, io_client)
            notes = f"; the same graph with jack_thru in tmrvc's place: {n} xruns in {args.baseline_seconds:.0f} s"
        x = speech(args.seconds - 4)
        sf.write(f"{tmp.name}/x.wav", x, RATE, subtype="FLOAT")
        if args.standalone or args.jalv:
            return check_plugin(args, env, tmp.name, io_client, x)
        # The test clients (C: Python callbacks caused xruns of their own), then tmrvc between them.
        io = start_clients(io_client, tmp.name, args.seconds, env)
        live = subprocess.Popen([args.tmrvc, "live", "--speaker", args.speaker, "--q", "0", "--name", "tmrvc",
                                 "--in", "player:out", "--out", "player:in",
                                 "--interval", os.environ.get("LIVE_CHECK_INTERVAL", "10")] + (["--precision", args.precision] if args.precision else []),
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
        precision = re.search(r"; (fp32|fp16|int8) weights,", out).group(1)
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
                        "--q", "0", "--float", "--streaming", "--precision", precision], cwd=ROOT, check=True, capture_output=True)
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
        if xruns and diff <= 1e-5:
            notes += "; the xruns cost tmrvc no period (its recording still equals convert)"
        print(f"live_check: {n_rec / RATE:.1f} s recorded through jackd (dummy, {RATE} Hz, period {args.period}); "
              f"{precision} weights; {periods} periods, xruns {xruns}; latency {latency} samples (+ {cycle_lag} of the graph's cycle); "
              f"max |live - convert| {diff:.2e}; peak {peak:.3f}{notes}")
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

#!/usr/bin/env python3
"""Drive peakscope's terminal UI as a user would, in a pseudo-terminal, and time it.

    python3 benches/scale/drive.py --config PROJECT.toml --bin target/release/peakscope \
        [--baseline OLD_PEAKSCOPE] [--cols 160 --rows 50] [--keys 12] [--pans 1000] [--json out.json]

Runs each binary (the baseline first) on the same project, one after the other, on the same
machine, and prints one table with both. The screen is a VT emulator (pyte, installed into
the running Python if missing) fed by the pty, so a "frame" is what a user would see:

* first frame: launch → the header names the locus and the first track row has signal
  (first launch: a fresh peak index folder; second launch: the one the first wrote);
* key → correct frame, p95 over --keys keys, at 10 kb, 41 Mb, 82 Mb and the whole
  chromosome, uncached (panning into new ground, or zooming to a width not seen) and cached
  (panning back over it): the time from the key to the first frame whose header names the
  new locus without "loading" and whose first track row differs from before the key (the
  baseline draws the new label before its data, so the row change is what marks its
  correct frame); then the same at 10 kb and the whole chromosome while an evaluation runs;
* RSS after --pans screen pans (`L`) at 100 kb (the UI process; for the new binary also the
  UI with its model and evaluation processes);
* peak list at the whole chromosome: `r` (sort) and `j`/`k` (scroll), key → the list redrawn.

Timings are of the real binaries on a shared machine: compare the two columns of one run.
"""
import argparse
import fcntl
import json
import os
import pty
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time


def ensure_pyte():
    try:
        import pyte  # noqa: F401
    except ImportError:
        subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "pyte"])


ensure_pyte()
import pyte  # noqa: E402

BLOCKS = set("▁▂▃▄▅▆▇█")


class Term:
    """A program in a pty, its screen emulated."""

    def __init__(self, argv, env, cols, rows):
        self.cols, self.rows = cols, rows
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.cond = threading.Condition()
        self.changed_at = time.monotonic()
        self.version = 0
        self.t0 = time.monotonic()
        pid, fd = pty.fork()
        if pid == 0:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
            os.execvpe(argv[0], argv, env)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.alive = True
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while True:
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                data = b""
            now = time.monotonic()
            with self.cond:
                if not data:
                    self.alive = False
                    self.cond.notify_all()
                    return
                self.stream.feed(data)
                self.version += 1
                self.changed_at = now
                self.cond.notify_all()

    def send(self, keys):
        os.write(self.fd, keys.encode())

    def lines(self):
        with self.cond:
            return list(self.screen.display)

    def wait(self, pred, timeout=30.0):
        """Wait until pred(lines) holds; the time the screen got into that state, or None."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                lines = list(self.screen.display)
                if pred(lines):
                    return self.changed_at
                left = deadline - time.monotonic()
                if left <= 0 or not self.alive:
                    return None
                self.cond.wait(left)

    def rss_mb(self, children=False):
        def rss(pid):
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            return int(line.split()[1]) / 1024
            except OSError:
                return 0.0
            return 0.0

        def kids(pid):
            out = []
            try:
                for t in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{t}/children") as f:
                        out += [int(x) for x in f.read().split()]
            except OSError:
                pass
            return out

        total = rss(self.pid)
        if children:
            stack = kids(self.pid)
            while stack:
                p = stack.pop()
                total += rss(p)
                stack += kids(p)
        return total

    def quit(self):
        try:
            self.send("q")
        except OSError:
            pass
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return
            time.sleep(0.05)
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)


def header(lines):
    return lines[0]


def locus_of(lines):
    """The locus the header names, and whether it says loading."""
    h = header(lines)
    parts = h.split("│")
    return (parts[1].strip() if len(parts) > 1 else ""), ("loading" in h)


def track_row(lines):
    return lines[2][12:] if len(lines) > 2 else ""


def has_signal(lines):
    return any(c in BLOCKS for c in track_row(lines))


def p95(xs):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))]


def key_to_frame(t, key, timeout=30.0):
    """Send a key; ms until the new locus is on screen with its data (see the module doc)."""
    before = t.lines()
    old_locus = locus_of(before)[0]
    old_row = track_row(before)
    t_key = time.monotonic()
    t.send(key)

    def ok(lines):
        loc, loading = locus_of(lines)
        return loc != old_locus and not loading and track_row(lines) != old_row and has_signal(lines)

    at = t.wait(ok, timeout)
    return None if at is None else (at - t_key) * 1000


def settle(t, quiet=0.5, limit=20.0):
    """Wait until the screen has not changed for `quiet` seconds (at most `limit`)."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        with t.cond:
            since = time.monotonic() - t.changed_at
        if since >= quiet:
            return
        time.sleep(min(quiet - since, 0.1) + 0.01)


def goto(t, where, timeout=60.0):
    before = locus_of(t.lines())[0]
    t.send(":" + where + "\r")
    t.wait(lambda l: locus_of(l)[0] != before and not locus_of(l)[1] and has_signal(l), timeout)
    settle(t)


def run_binary(name, binary, cfg, args, index_dir):
    env = dict(os.environ)
    home = tempfile.mkdtemp(prefix="drive-home-")
    env.update({"HOME": home, "PEAKSCOPE_CACHE": os.path.join(home, "cache"), "TERM": "xterm-256color", "PEAKSCOPE_INDEX_DIR": index_dir})
    res = {}

    def launch():
        t = Term([binary, cfg], env, args.cols, args.rows)
        at = t.wait(lambda l: "peakscope" in header(l) and has_signal(l), 120)
        return t, (None if at is None else (at - t.t0) * 1000)

    # first launch: an empty index folder; second: the one it wrote (the baseline has none)
    t, ms = launch()
    res["first_frame_first_ms"] = ms
    # let the index finish so that the second launch finds it
    t.wait(lambda l: "index:" not in header(l), args.index_timeout)
    t.quit()
    t, ms = launch()
    res["first_frame_second_ms"] = ms
    res["rss_start_mb"] = t.rss_mb()
    zooms = [("10 kb", None), ("41 Mb", "chr1:1-41,000,000"), ("82 Mb", "chr1:1-82,000,000"), ("150 Mb", "chr1")]
    keys = {}
    for label, where in zooms:
        if where:
            goto(t, where)
        else:
            goto(t, "chr1:50,000,001-50,010,000")
        if label == "150 Mb":
            # the whole chromosome cannot pan: zoom in and out (new widths), then again (cached)
            unc = [key_to_frame(t, k) for _ in range(max(1, args.keys // 2)) for k in ("z", "o")]
            cac = [key_to_frame(t, k) for _ in range(max(1, args.keys // 2)) for k in ("z", "o")]
        else:
            unc = [key_to_frame(t, "l") for _ in range(args.keys)]
            cac = [key_to_frame(t, "h") for _ in range(args.keys)]
        keys[label] = {"uncached_p95_ms": p95([x for x in unc if x is not None]), "cached_p95_ms": p95([x for x in cac if x is not None]),
                       "missed": sum(x is None for x in unc + cac)}
    res["keys"] = keys
    # peak list at the whole chromosome
    goto(t, "chr1")
    for _ in range(3):
        t.send("\t")
        time.sleep(0.3)
    t.wait(lambda l: any("sorted by" in x for x in l), 60)
    time.sleep(1.0)

    def list_header(l):
        return next((x for x in l if x.startswith("─ peaks")), "")

    def cursor_line(l):
        return next((i for i, x in enumerate(l) if x.startswith("▶")), -1)

    sort_ms, scroll_ms = [], []
    for _ in range(5):
        before = list_header(t.lines())
        tk = time.monotonic()
        t.send("r")
        at = t.wait(lambda l: list_header(l) != before, 30)
        if at is not None:
            sort_ms.append((at - tk) * 1000)
    for k in ["j"] * 10 + ["k"] * 10:
        before = cursor_line(t.lines()), [x for x in t.lines() if x.startswith("▶")]
        tk = time.monotonic()
        t.send(k)
        at = t.wait(lambda l: (cursor_line(l), [x for x in l if x.startswith("▶")]) != before, 30)
        if at is not None:
            scroll_ms.append((at - tk) * 1000)
    res["list_sort_p95_ms"] = p95(sort_ms)
    res["list_scroll_p95_ms"] = p95(scroll_ms)
    t.send("\t")  # close the list
    time.sleep(0.5)
    # while an evaluation runs
    t.send("e")
    time.sleep(3.0)
    ev = {}
    # the 10-kb locus measured before (a frame counts once the first track row shows signal,
    # and not every 10 kb has some)
    goto(t, "chr1:50,000,001-50,010,000")
    ev["10 kb"] = p95([x for x in (key_to_frame(t, "l") for _ in range(args.keys)) if x is not None])
    goto(t, "chr1")
    ev["150 Mb"] = p95([x for x in (key_to_frame(t, k) for _ in range(max(1, args.keys // 2)) for k in ("z", "o")) if x is not None])
    res["during_eval_p95_ms"] = ev
    res["rss_eval_mb"] = t.rss_mb(children=True)
    t.send("e")  # stop it
    time.sleep(3.0)
    res["rss_after_eval_stopped_mb"] = t.rss_mb(children=True)
    # RSS after many screen pans at 100 kb
    goto(t, "chr1:10,000,001-10,100,000")
    for _ in range(args.pans):
        before = locus_of(t.lines())[0]
        t.send("L")
        t.wait(lambda l: locus_of(l)[0] != before, 10)
    time.sleep(1.0)
    res["rss_after_pans_mb"] = t.rss_mb()
    res["rss_after_pans_with_children_mb"] = t.rss_mb(children=True)
    t.quit()
    return res


def fmt(x):
    if x is None:
        return "—"
    if isinstance(x, float):
        return "nan" if x != x else f"{x:,.0f}"
    return str(x)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--bin", required=True, help="the peakscope to measure")
    ap.add_argument("--baseline", help="a peakscope to compare with, measured first in the same run")
    ap.add_argument("--cols", type=int, default=160)
    ap.add_argument("--rows", type=int, default=50)
    ap.add_argument("--keys", type=int, default=12, help="keys per measurement")
    ap.add_argument("--pans", type=int, default=1000)
    ap.add_argument("--index-timeout", type=float, default=900, help="seconds to wait for the peak index after the first launch")
    ap.add_argument("--json", help="write the results here too")
    args = ap.parse_args()
    cfg = os.path.abspath(args.config)
    runs = []
    for name, b in ([("baseline", args.baseline)] if args.baseline else []) + [("new", args.bin)]:
        idx = tempfile.mkdtemp(prefix=f"drive-index-{name}-")
        print(f"[drive] {name}: {b}", file=sys.stderr, flush=True)
        t = time.time()
        r = run_binary(name, os.path.abspath(b), cfg, args, idx)
        print(f"[drive] {name} done in {time.time() - t:.0f} s", file=sys.stderr, flush=True)
        runs.append((name, r))
    names = [n for n, _ in runs]
    rows = [("first frame, first launch (ms)", lambda r: r["first_frame_first_ms"], "≤ 1000"),
            ("first frame, second launch (ms)", lambda r: r["first_frame_second_ms"], "≤ 500")]
    for z in ["10 kb", "41 Mb", "82 Mb", "150 Mb"]:
        rows.append((f"key → frame p95 at {z}, uncached (ms)", lambda r, z=z: r["keys"][z]["uncached_p95_ms"], "≤ 250"))
        rows.append((f"key → frame p95 at {z}, cached (ms)", lambda r, z=z: r["keys"][z]["cached_p95_ms"], "≤ 100"))
    for z in ["10 kb", "150 Mb"]:
        rows.append((f"key → frame p95 at {z}, evaluation running (ms)", lambda r, z=z: r["during_eval_p95_ms"][z], "≤ 250"))
    rows += [("peak list sort `r` p95 (ms)", lambda r: r["list_sort_p95_ms"], "≤ 50"),
             ("peak list scroll `j`/`k` p95 (ms)", lambda r: r["list_scroll_p95_ms"], "≤ 50"),
             ("RSS at start, UI process (MB)", lambda r: r["rss_start_mb"], ""),
             ("RSS while evaluating, with child processes (MB)", lambda r: r["rss_eval_mb"], ""),
             ("RSS after the evaluation stopped, with children (MB)", lambda r: r["rss_after_eval_stopped_mb"], ""),
             (f"RSS after {args.pans} screen pans, UI process (MB)", lambda r: r["rss_after_pans_mb"], "≤ 1024"),
             (f"RSS after {args.pans} screen pans, with children (MB)", lambda r: r["rss_after_pans_with_children_mb"], "")]
    print(f"\n{args.cols}×{args.rows}, {cfg}\n")
    print("| measure | " + " | ".join(names) + " | budget |")
    print("|---|" + "---|" * len(names) + "---|")
    for label, get, budget in rows:
        vals = []
        for _, r in runs:
            try:
                vals.append(fmt(get(r)))
            except (KeyError, TypeError):
                vals.append("—")
        print(f"| {label} | " + " | ".join(vals) + f" | {budget} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(runs), f, indent=1)


if __name__ == "__main__":
    main()

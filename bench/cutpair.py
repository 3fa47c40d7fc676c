#!/usr/bin/env python3
"""mkpair.py for an edited fg: fg["pieces"] = [[start, end], ...] in source seconds, cut together in that order
(a scene taken out, scenes reordered), and for a speed change: "pick_fps" in bg or fg picks the source frames at
that rate and labels them with "fps" (film picked at 24 and run at 25 for PAL). Truth as mkpair.py writes it: for
each fg frame, the bg frames showing the nearest source moment.
usage: cutpair.py CASE_JSON OUTDIR (run from the repository's root, as bench/pairs.sh does)
"""
from fractions import Fraction
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "tools"))
import mkpair  # noqa: E402  (../shared/tools, outside the repository)


def main():
    case = json.load(open(sys.argv[1]))
    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    raw = os.path.join(out, "master.yuv")
    src_fps, n_src, frame_bytes = mkpair.decode_master(case, raw)
    def picked(spec):  # the source frames, at pick_fps where given; the rate they are labelled with
        _, frames = mkpair.pick(src_fps, n_src, dict(spec, fps=spec.get("pick_fps", spec["fps"])))
        return Fraction(spec["fps"]), frames

    bg_fps, bg_frames = picked(case["bg"])
    fg_fps, fg_frames = None, []
    for start, end in case["fg"].get("pieces", [[case["fg"].get("start"), case["fg"].get("end")]]):
        fg_fps, frames = picked(dict(case["fg"], start=start, end=end))
        fg_frames += frames
    mkpair.encode(raw, frame_bytes, case["master"], bg_fps, bg_frames, case["bg"], os.path.join(out, "bg.mp4"), False)
    mkpair.encode(raw, frame_bytes, case["master"], fg_fps, fg_frames, case["fg"], os.path.join(out, "fg.mp4"), False)
    os.remove(raw)
    best = []
    for s in fg_frames:
        d = [abs(b - s) for b in bg_frames]
        best.append([j for j, dj in enumerate(d) if dj == min(d)])
    x, y, cw, ch = case["fg"].get("crop", [0, 0] + list(case["master"]))
    fw, fh = case["fg"].get("size", [cw, ch])
    truth = {
        "spatial": {"x": x, "y": y, "w": cw, "h": ch, "scale": cw / fw},
        "bg": {"fps": str(bg_fps), "frames": len(bg_frames), "size": case["master"]},
        "fg": {"fps": str(fg_fps), "frames": len(fg_frames), "size": [fw, fh]},
        "temporal": {"best": best, "fg_src": fg_frames, "bg_src": bg_frames},
    }
    json.dump(truth, open(os.path.join(out, "truth.json"), "w"))


if __name__ == "__main__":
    main()

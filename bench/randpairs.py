#!/usr/bin/env python3
# Draws random bg/fg cases for mkpair.py from the clips in ../shared/media: one clip, both frame rates (10-60 fps,
# NTSC rates among them), start and end times, a crop on even offsets (ffmpeg's crop rounds odd ones down for
# 4:2:0), a scale of 0.5-2 one time in three, CRF 18-32 for each. Seeded, so a set can be drawn again; the
# random10_* to random14_* pairs of bench/pairs are seeds 10 to 14, 20 cases each.
# Usage: bench/randpairs.py SEED COUNT OUTDIR   (writes OUTDIR/randomSEED_I.json)
import json
import random
import sys

CLIPS = [("../shared/media/bbb_opening.webm", [1280, 720], 20),
         ("../shared/media/cockatoo.mp4", [1280, 720], 14),
         ("../shared/media/dog_log_jump.mp4", [848, 464], 3.2)]
RATES = ["10", "12.5", "15", "20", "23.976", "24", "25", "29.97", "30", "48", "50", "59.94", "60"]
EXACT = {"23.976": "24000/1001", "29.97": "30000/1001", "59.94": "60000/1001"}


def draw(rng):
    src, (w, h), secs = rng.choice(CLIPS)
    bs = round(rng.uniform(0, secs * 0.3), 2)
    be = round(rng.uniform(secs * 0.6, secs), 2)
    fs = round(rng.uniform(bs - 0.5 if bs > 0.5 else 0, secs * 0.5), 2)
    fe = round(rng.uniform(max(fs + 1.0, secs * 0.55), secs), 2)
    cw = rng.randrange(w // 4, w + 1) // 2 * 2
    ch = rng.randrange(h // 4, h + 1) // 2 * 2
    cx = rng.randrange(0, w - cw + 1) // 2 * 2
    cy = rng.randrange(0, h - ch + 1) // 2 * 2
    scale = rng.choice([1, 1, rng.uniform(0.5, 2)])
    fg = {"fps": EXACT.get(r := rng.choice(RATES), r), "start": fs, "end": fe, "crf": rng.randrange(18, 33),
          "crop": [cx, cy, cw, ch]}
    if scale != 1:
        fw = max(16, int(cw / scale) // 2 * 2)
        fg["size"] = [fw, max(16, int(round(fw * ch / cw)) // 2 * 2)]
    bg = {"fps": EXACT.get(r := rng.choice(RATES), r), "start": bs, "end": be, "crf": rng.randrange(18, 33)}
    return {"src": src, "master": [w, h], "src_secs": secs, "bg": bg, "fg": fg}


def main():
    seed, count, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    rng = random.Random(seed)
    for i in range(count):
        with open(f"{out}/random{seed}_{i}.json", "w") as f:
            json.dump(draw(rng), f)
            f.write("\n")


if __name__ == "__main__":
    main()

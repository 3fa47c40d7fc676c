#!/usr/bin/python3
# Measures how well embedders find the exact bg frame: recall@1 and recall@5 of FAISS inner-product search
# (IndexFlatIP, as vidkompy runs it) for every fg frame of pairs with known truth (../shared/tools/mkpair.py
# makes them). Each picture is cut as vidkompy cuts it: the overlap region of bg (the truth placement) and the
# whole fg, area-resized to 96 x 96 RGB in [0, 1]. Compared: TorchScript models given with --model NAME=PATH,
# a plain baseline of 32 x 32 gray thumbnails (mean removed, L2-normalised) and, with --untrained, the recipe's
# architecture untrained: its projection starts at zero, which makes it the bundled network, so it is
# measured with that projection randomly initialised instead (PyTorch's default initialisation, seed 1).
# Usage: models/evaluate.py --model shipped=models/vidkompy-embedder.pt [--untrained] PAIR_DIR...
# (needs python3-faiss)
import argparse
import json
import os
import subprocess
import sys

import faiss
import numpy as np
import torch
import torch.nn.functional as F

SIZE = 96


def frames(path, vf):
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-vf", vf + f",scale={SIZE}:{SIZE}:flags=area",
           "-pix_fmt", "rgb24", "-f", "rawvideo", "-"]
    raw = subprocess.run(cmd, check=True, stdout=subprocess.PIPE).stdout
    x = torch.from_numpy(np.frombuffer(raw, np.uint8).reshape(-1, SIZE, SIZE, 3).copy())
    return x.permute(0, 3, 1, 2).float() / 255


def thumbs32(x):
    g = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)
    v = F.adaptive_avg_pool2d(g, 32).flatten(1)
    return F.normalize(v - v.mean(1, keepdim=True), dim=1)


def embedder(path):
    m = torch.jit.load(path).eval()

    @torch.no_grad()
    def run(x):
        return F.normalize(torch.cat([m(x[i:i + 64]) for i in range(0, len(x), 64)]).float().flatten(1), dim=1)
    return run


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", action="append", default=[], help="NAME=PATH of a TorchScript embedder")
    p.add_argument("--untrained", action="store_true", help="also the recipe's network, untrained")
    p.add_argument("pairs", nargs="+", help="folders with bg.mp4, fg.mp4 and truth.json")
    a = p.parse_args()
    torch.set_num_threads(2)
    methods = {"thumb32": thumbs32}
    for spec in a.model:
        name, path = spec.split("=", 1)
        methods[name] = embedder(path)
    if a.untrained:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from train_embedder import Embedder
        torch.manual_seed(1)
        net = Embedder().eval()
        net.proj.reset_parameters()
        methods["untrained"] = lambda x: torch.cat([net(x[i:i + 64]) for i in range(0, len(x), 64)]).detach()
    totals = {m: [0, 0, 0] for m in methods}
    print("| pair | fg frames | " + " | ".join(f"{m} R@1 | {m} R@5" for m in methods) + " |")
    print("|---" * (2 + 2 * len(methods)) + "|")
    for d in a.pairs:
        t = json.load(open(os.path.join(d, "truth.json")))
        s = t["spatial"]
        W, H = t["bg"]["size"]
        x0, y0 = max(0, int(s["x"])), max(0, int(s["y"]))
        x1, y1 = min(W, int(s["x"]) + s["w"]), min(H, int(s["y"]) + s["h"])
        fw, fh = t["fg"]["size"]
        # The fg part that bg shows (all of it, unless it hangs over bg's edge).
        fx0, fy0 = (x0 - s["x"]) / s["scale"], (y0 - s["y"]) / s["scale"]
        fcw, fch = (x1 - x0) / s["scale"], (y1 - y0) / s["scale"]
        bg = frames(os.path.join(d, "bg.mp4"), f"crop={x1 - x0}:{y1 - y0}:{x0}:{y0}")
        fg = frames(os.path.join(d, "fg.mp4"), f"crop={fcw:.0f}:{fch:.0f}:{fx0:.0f}:{fy0:.0f}")
        best = t["temporal"]["best"]
        src_f, src_b = t["temporal"]["fg_src"], t["temporal"]["bg_src"]
        # Only fg frames whose moment bg shows (the others are clamped to bg's first or last frame).
        keep = [i for i in range(min(len(fg), len(best))) if src_b[0] <= src_f[i] <= src_b[-1]]
        row = []
        for name, f in methods.items():
            eb, ef = f(bg).numpy().astype(np.float32), f(fg).numpy().astype(np.float32)
            index = faiss.IndexFlatIP(eb.shape[1])
            index.add(np.ascontiguousarray(eb))
            _, nn = index.search(np.ascontiguousarray(ef[keep]), 5)
            r1 = sum(int(nn[q, 0]) in best[i] for q, i in enumerate(keep))
            r5 = sum(any(int(j) in best[i] for j in nn[q]) for q, i in enumerate(keep))
            totals[name][0] += r1
            totals[name][1] += r5
            totals[name][2] += len(keep)
            row += [f"{r1 / len(keep):.3f}", f"{r5 / len(keep):.3f}"]
        print(f"| {os.path.basename(os.path.normpath(d))} | {len(keep)} | " + " | ".join(row) + " |", flush=True)
    row = []
    for name in methods:
        r1, r5, n = totals[name]
        row += [f"**{r1 / n:.3f}**", f"**{r5 / n:.3f}**"]
    print(f"| all | {totals[next(iter(methods))][2]} | " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()

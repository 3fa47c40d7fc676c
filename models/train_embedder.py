#!/usr/bin/python3
# Trains vidkompy's frame embedder: the first four blocks of MobileNetV3-Small turned into a learned 16 x 16
# "thumbnail" (256-d), taught by contrastive learning (InfoNCE) that the same frame after re-encoding, rescaling,
# crop jitter and colour shifts is one moment, and that its neighbours 1-3 frames away are not. Training frames
# come from ffmpeg lavfi sources, camera moves over photographs from Debian's plasma-workspace-wallpapers and any
# clips given with --clip. Run it through models/train.sh, which installs Debian's python3-torch (and the rest)
# and sets the allocator that makes CPU training several times faster. Exports
# TorchScript: N x 3 x 96 x 96 floats (the size vidkompy hands it), RGB in [0, 1] -> N x 256, L2-normalised.
import argparse
import glob
import math
import os
import random
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

SIDE = 160  # frames are cached at this size; views are cut from them and resized to INPUT
INPUT = 128  # training views are rendered at this size, then box-filtered to INNER by the network
INNER = 96  # the network runs at this size (vidkompy's kEmbedInput): ~1 ms a frame on one core here

# Generated footage: each entry is a lavfi graph that ends in SIDE x SIDE frames. Pans over large stills, zooms,
# growth and flow give the kinds of motion real footage has (slow and fast); colour and texture vary.
S = SIDE
SOURCES = [
    f"mandelbrot=s=640x640:rate=25:start_scale=3:end_scale=0.3,scale={S}:{S}:flags=area",
    f"mandelbrot=s=480x480:rate=25:start_x=-0.743643887037151:start_y=0.13182590420533:start_scale=0.02:end_scale=0.0001:inner=period,scale={S}:{S}:flags=area",
    f"life=s=320x320:mold=10:rate=25:ratio=0.12:seed=2:death_color=#C83232:life_color=#00ff00:mold_color=#203080,scale={S}:{S}:flags=area",
    f"life=s={S}x{S}:mold=40:rate=25:ratio=0.3:seed=7:life_color=#ffd040:mold_color=#401060",
    f"cellauto=s=320x320:rule=30:rate=25:random_fill_ratio=0.5:seed=3,scale={S}:{S}:flags=bicubic",
    f"cellauto=s={S}x{S}:rule=110:rate=25:scroll=1:random_fill_ratio=0.3:seed=5,hue=h=120",
    f"cellauto=s=640x{S}:rule=90:rate=25:seed=9,crop={S}:{S}:x='mod(t*40,480)':y=0,hue=h=240:s=2",
    f"testsrc2=s=320x240:rate=25,crop={S}:{S}:x='80+60*sin(t*0.7)':y='40+30*cos(t*0.5)'",
    f"testsrc2=s={S}x{S}:rate=25,hue=H=t*0.5",
    # gradients: colours and points given, since its seed option does not make it repeatable (FFmpeg 5.1).
    f"gradients=s={S}x{S}:rate=25:speed=0.03:n=5:c0=0x3050e0:c1=0xe0a020:c2=0x20c060:c3=0xc02040:c4=0xf0f0f0:"
    "x0=10:y0=20:x1=150:y1=130",
    "gradients=s=320x320:rate=25:speed=0.01:n=8:c0=0x101010:c1=0xff4000:c2=0x00ff80:c3=0x4040ff:c4=0xffff00:"
    f"c5=0xff00ff:c6=0x00ffff:c7=0x808080:x0=300:y0=40:x1=30:y1=280,scale={S}:{S}:flags=area,noise=alls=12:allf=p:all_seed=13",
    f"sierpinski=s=480x480:rate=25:type=carpet:seed=4,scale={S}:{S}:flags=area",
    f"sierpinski=s=320x320:rate=25:type=triangle:seed=6,crop={S}:{S}:x='80+70*sin(t*0.3)':y='80+70*sin(t*0.4)'",
    f"rgbtestsrc=s=64x64:rate=25,scale=1280:1280:flags=neighbor,rotate=a=t*0.4:ow={S}:oh={S}",
    f"mandelbrot=s=1280x720:rate=25:end_scale=0.6:start_scale=1.2,crop=480:480:x='400+300*sin(t*0.2)':y='120',scale={S}:{S}:flags=area,eq=gamma=1.4:saturation=1.6",
    f"life=s=640x640:mold=25:rate=25:ratio=0.3:seed=21:life_color=#e0e0e0:death_color=#101010,crop=320:320:x='t*9':y='t*5',scale={S}:{S}:flags=area",
]
# Photographs (Debian's plasma-workspace-wallpapers, which models/train.sh installs), filmed the way a camera
# moves over a scene: slow and fast pans, a zoom, a drift with rotation, a slow fade. Natural texture that the
# lavfi sources lack; which motion a photo gets follows its sorted position. Each graph reads a 1280 px copy.
PHOTO_GLOB = "/usr/share/wallpapers/*/contents/images/*.jpg"
PHOTO_MOTIONS = [
    f"crop=480:480:x='mod(t*24,iw-480)':y='(ih-480)/2',scale={S}:{S}:flags=area",
    f"crop=320:320:x='(iw-320)/2+300*sin(t*0.5)':y='(ih-320)/2+100*cos(t*0.7)',scale={S}:{S}:flags=area",
    f"zoompan=z='1+0.002*on':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)':d=1:s={S}x{S}:fps=25",
    f"crop=640:640:x='mod(t*90,iw-640)':y='(ih-640)/2',scale={S}:{S}:flags=area",
    f"rotate=a=t*0.05,crop=400:400:x='(iw-400)/2+t*6':y='(ih-400)/2',scale={S}:{S}:flags=area",
    f"crop=560:560:x='(iw-560)/2-t*12':y='(ih-560)/2+t*4',scale={S}:{S}:flags=area,fade=in:st=0:d=20",
]


def photos():
    """One jpg per wallpaper (its largest landscape one), sorted: the recipe's photo list."""
    best = {}
    for f in sorted(glob.glob(PHOTO_GLOB)):
        w, h = map(int, os.path.splitext(os.path.basename(f))[0].split("x"))
        key = f.split("/")[-4]
        if w > h and (key not in best or w > best[key][0]):
            best[key] = (w, f)
    return [f for _, f in sorted(best.values(), key=lambda v: v[1])]


def read_photo(path, motion, frames):
    """`frames` frames of a camera move over a still photograph, as read_frames returns them."""
    with tempfile.TemporaryDirectory() as tmp:
        small = os.path.join(tmp, "photo.png")  # decoded once: the looped input reads it every frame
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-vf", "scale=1280:-2:flags=area", small], check=True)
        cmd = ["ffmpeg", "-nostdin", "-v", "error", "-loop", "1", "-framerate", "25", "-i", small, "-vf", motion,
               "-frames:v", str(frames), "-pix_fmt", "rgb24", "-f", "rawvideo", "-"]
        raw = subprocess.run(cmd, check=True, stdout=subprocess.PIPE).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, SIDE, SIDE, 3)


# Held out for the metrics: never trained on.
HELD_OUT = [
    f"mandelbrot=s=640x640:rate=25:start_x=-0.1011:start_y=0.9563:start_scale=0.5:end_scale=0.01,scale={S}:{S}:flags=area",
    f"testsrc2=s=480x480:rate=25,rotate=a=t*0.2:ow={S}:oh={S},eq=contrast=1.3",
]


def read_frames(graph, frames, clip=None):
    """Decodes `frames` frames of a lavfi graph (or a clip, centre-cropped square) as uint8 N x SIDE x SIDE x 3."""
    if clip:
        cmd = ["ffmpeg", "-v", "error", "-i", clip, "-frames:v", str(frames), "-vf",
               f"crop='min(iw,ih)':'min(iw,ih)',scale={SIDE}:{SIDE}:flags=area"]
    else:
        cmd = ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", graph, "-frames:v", str(frames)]
    cmd += ["-pix_fmt", "rgb24", "-f", "rawvideo", "-"]
    raw = subprocess.run(cmd, check=True, stdout=subprocess.PIPE).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, SIDE, SIDE, 3)


def rank_gray(g):
    """Each pixel's rank among its picture's pixels, in (0, 1): the same for any increasing change of brightness
    (gamma, gain, contrast), which the gray picture itself is not. Half of each is the network's fixed base: a
    second rendition graded with gamma 1.25 otherwise reads as an earlier moment of a fade."""
    flat = g.flatten(1).contiguous()
    s = flat.sort(1).values
    # Equal pixels share their mean rank: a flat area stays flat instead of becoming a ramp in scan order.
    lo = torch.searchsorted(s, flat, right=False)
    hi = torch.searchsorted(s, flat, right=True)
    return ((lo + hi).to(g.dtype) * (0.5 / flat.shape[1])).view_as(g)


class Embedder(nn.Module):
    """A learned 16 x 16 "thumbnail": the first four blocks of MobileNetV3-Small (strides 4 and 8, 16 and 24
    channels) read the picture, a 1 x 1 convolution turns them into one map at 24 x 24 that is added to the
    bundled network's picture (gray, half of it ranks), and the sum is box-averaged to 16 x 16, mean removed and
    L2-normalised (256-d). The convolution starts at zero, so the untrained network is exactly the bundled one
    (tools/make_stand_in_model.cpp); training teaches it what to add so that a
    frame and its re-encoded, rescaled, colour-shifted copy agree and neighbouring frames differ. The output keeps
    the picture's layout, which is what tells neighbouring frames apart."""

    def __init__(self):
        super().__init__()
        net = torchvision.models.mobilenet_v3_small()
        self.fine = net.features[:2]     # 16 channels at 24 x 24
        self.coarse = net.features[2:4]  # 24 channels at 12 x 12
        self.proj = nn.Conv2d(16 + 24, 1, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, x):
        return self.parts(x)[0]

    def parts(self, x):
        """The embedding and the learned part that was added to the gray picture (for the penalty on it)."""
        if x.shape[-2:] != (INNER, INNER):  # training views; the export is traced at vidkompy's 96 px
            x = F.adaptive_avg_pool2d(x, INNER)
        # The base is the bundled network (tools/make_stand_in_model.cpp): the gray picture at 32 x 32, half of it
        # replaced by its ranks, averaged down to 16 x 16.
        t = F.adaptive_avg_pool2d((0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1), 32)
        t = 0.5 * t + 0.5 * rank_gray(t)
        a = self.fine((x - self.mean) / self.std)
        b = F.interpolate(self.coarse(a), scale_factor=2.0, mode="bilinear", align_corners=False)
        extra = self.proj(torch.cat([a, b], 1))
        m = (F.adaptive_avg_pool2d(t, 16) + F.adaptive_avg_pool2d(extra, 16)).flatten(1)
        return F.normalize(m - m.mean(1, keepdim=True), dim=1), extra


def degrade(x, gen):
    """The changes a frame meets between two renditions, applied per view: crop jitter and scale (affine
    resampling), lost resolution (down and up again), blur, block artefacts and noise (a stand-in for H.264 at
    CRF 18-40), gamma, gain and saturation shifts. x: B x 3 x SIDE x SIDE in [0, 1]; returns B x 3 x INPUT x INPUT."""
    b = x.shape[0]
    r = lambda lo, hi: lo + (hi - lo) * torch.rand(b, generator=gen)
    # A few pixels of crop jitter, no more: vidkompy cuts both regions from a placement good to a pixel, and a
    # larger jitter would teach the network to ignore the very motion that tells neighbouring frames apart.
    s = r(0.96, 1.0)  # zoom in up to 4% (2.5 px at each edge of 128), up to 1.3 px of shift, 1% aspect
    ax = s * r(0.99, 1.01)
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0], theta[:, 1, 1] = ax, s
    theta[:, 0, 2], theta[:, 1, 2] = r(-0.02, 0.02), r(-0.02, 0.02)
    grid = F.affine_grid(theta, (b, 3, INPUT, INPUT), align_corners=False)
    y = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    # Lost resolution: half the views go down to 35-100% and back up (an upscaled smaller rendition).
    f = float(r(0.35, 1.0)[0])
    if torch.rand(1, generator=gen).item() < 0.5 and f < 0.95:
        small = max(16, int(INPUT * f))
        y = F.interpolate(F.interpolate(y, size=small, mode="area"), size=INPUT, mode="bilinear", align_corners=False)
    # Blur with a per-batch sigma in [0, 1.2].
    sigma = float(r(0.0, 1.2)[0])
    if sigma > 0.3:
        k = torch.arange(-2, 3, dtype=torch.float32)
        k = torch.exp(-0.5 * (k / sigma) ** 2)
        k = (k / k.sum()).view(1, 1, 1, 5).repeat(3, 1, 1, 1)
        y = F.conv2d(F.pad(y, (2, 2, 0, 0), mode="replicate"), k, groups=3)
        y = F.conv2d(F.pad(y, (0, 0, 2, 2), mode="replicate"), k.transpose(2, 3), groups=3)
    # Blocking: pull each 8x8 block towards its mean (coarse quantisation of the low frequencies).
    a = r(0.0, 0.35).view(b, 1, 1, 1)
    blocks = F.interpolate(F.avg_pool2d(y, 8), scale_factor=8, mode="nearest")
    y = y + a * (blocks - y)
    y = y + r(0.0, 0.03).view(b, 1, 1, 1) * torch.randn(y.shape, generator=gen)
    # Colour: gamma, per-channel gain, offset, saturation.
    y = y.clamp(0, 1) ** r(0.8, 1.25).view(b, 1, 1, 1)
    y = y * (1 + 0.06 * (2 * torch.rand(b, 3, 1, 1, generator=gen) - 1)) + r(-0.04, 0.04).view(b, 1, 1, 1)
    gray = y.mean(1, keepdim=True)
    y = gray + r(0.75, 1.25).view(b, 1, 1, 1) * (y - gray)
    return y.clamp(0, 1)


def batch_indices(clips, pairs, gen):
    """`pairs` anchor frames, each with a neighbour 1-3 frames away, so every anchor meets its hardest negatives
    in the same batch."""
    out = []
    for _ in range(pairs):
        c = int(torch.randint(len(clips), (1,), generator=gen))
        n = len(clips[c])
        d = int(torch.randint(1, 4, (1,), generator=gen))
        t = int(torch.randint(0, n - d, (1,), generator=gen))
        out += [(c, t), (c, t + d)]
    return out


def to_tensor(clips, idx):
    return torch.from_numpy(np.stack([clips[c][t] for c, t in idx])).permute(0, 3, 1, 2).float() / 255


@torch.no_grad()
def evaluate(model, clips, gen, views=1):
    """Top-1 retrieval of the exact frame (and within +-1) among all frames of the same clip, degraded query
    against degraded key."""
    was_training = model.training
    model.eval()
    exact = near = total = 0
    for frames in clips:
        idx = [(0, t) for t in range(len(frames))]
        x = to_tensor([frames], idx)
        keys = torch.cat([model(degrade(x[i:i + 128], gen).contiguous(memory_format=torch.channels_last))
                          for i in range(0, len(x), 128)])
        for _ in range(views):
            q = torch.cat([model(degrade(x[i:i + 128], gen).contiguous(memory_format=torch.channels_last))
                           for i in range(0, len(x), 128)])
            best = (q @ keys.T).argmax(1)
            truth = torch.arange(len(x))
            exact += int((best == truth).sum())
            near += int(((best - truth).abs() <= 1).sum())
            total += len(x)
    model.train(was_training)
    return exact / total, near / total


def stand_in(x):
    """The plain gray thumbnail (the bundled network until session 10): 16 x 16 box average, mean removed,
    L2-normalised."""
    g = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)
    g = F.adaptive_avg_pool2d(g, 16).flatten(1)
    return F.normalize(g - g.mean(1, keepdim=True), dim=1)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", default="embedder.pt",
                   help="where to write the model (not models/vidkompy-embedder.pt: see models/README.md)")
    p.add_argument("--steps", type=int, default=500,
                   help="training steps; the schedule follows them, so a run repeats exactly (same machine)")
    p.add_argument("--minutes", type=float, default=0,
                   help="train for this long instead (wall clock): any machine finishes on time, not repeatable")
    p.add_argument("--frames", type=int, default=500, help="frames decoded from each source")
    p.add_argument("--clip", action="append", default=[], help="also train on this video (repeatable)")
    p.add_argument("--pairs", type=int, default=64, help="anchor/neighbour pairs per batch (x2 frames, x2 views)")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--penalty", type=float, default=0.0, help="weight of the mean square of the learned part")
    p.add_argument("--temperature", type=float, default=0.07)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    a = p.parse_args()

    torch.manual_seed(a.seed)
    random.seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    dev = "cuda" if torch.cuda.is_available() else "cpu"

    t0 = time.time()
    clips = [read_frames(g, a.frames) for g in SOURCES] + [read_frames(None, a.frames * 4, c) for c in a.clip]
    clips += [read_photo(f, PHOTO_MOTIONS[i % len(PHOTO_MOTIONS)], a.frames) for i, f in enumerate(photos())]
    held = [read_frames(g, 300) for g in HELD_OUT]
    clips = [c for c in clips if len(c) > 8]
    print(f"data: {sum(len(c) for c in clips)} frames from {len(clips)} sources in {time.time() - t0:.0f} s",
          flush=True)

    model = Embedder().to(dev).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.02)
    budget = a.minutes * 60
    start = time.time()
    step = 0
    seen = 0
    while True:
        elapsed = time.time() - start
        frac = elapsed / budget if a.minutes > 0 else step / a.steps
        if frac >= 1:
            break
        # Warm-up for 3% of the run, then cosine decay to zero (over the steps, or the clock with --minutes).
        lr = a.lr * min(1.0, frac / 0.03) * 0.5 * (1 + math.cos(math.pi * min(1.0, frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        x = to_tensor(clips, batch_indices(clips, a.pairs, gen))
        v1 = degrade(x, gen).to(dev).contiguous(memory_format=torch.channels_last)
        v2 = degrade(x, gen).to(dev).contiguous(memory_format=torch.channels_last)
        z, extra = model.parts(torch.cat([v1, v2]))
        n = x.shape[0]
        # Symmetric InfoNCE: each view's positive is the other view of its frame; every other frame of the batch,
        # its 1-3-frame neighbour included, is a negative.
        sim = z @ z.T / a.temperature
        sim.fill_diagonal_(-1e9)
        target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(dev)
        loss = F.cross_entropy(sim, target)
        # What the network adds to the gray picture is held small: free, it drifts towards the generated textures
        # and loses real footage (models/README.md).
        loss = loss + a.penalty * extra.pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        seen += 2 * n
        if step % 100 == 0:
            print(f"step {step} {elapsed / 60:.1f} min loss {loss.item():.3f} lr {lr:.2e} "
                  f"{seen / max(elapsed, 1e-9):.0f} views/s", flush=True)
        if step % 1000 == 0:
            print("held-out exact / within 1: %.3f / %.3f" % evaluate(model, held, gen), flush=True)

    model = model.cpu().eval()
    e_gen = torch.Generator().manual_seed(12345)
    ex, nr = evaluate(model, held, e_gen, views=3)
    # Baseline on the same degraded views.
    e_gen = torch.Generator().manual_seed(12345)
    sx = sn = st = 0
    for frames in held:
        x = to_tensor([frames], [(0, t) for t in range(len(frames))])
        keys = stand_in(degrade(x, e_gen))
        for _ in range(3):
            best = (stand_in(degrade(x, e_gen)) @ keys.T).argmax(1)
            truth = torch.arange(len(x))
            sx += int((best == truth).sum()); sn += int(((best - truth).abs() <= 1).sum()); st += len(x)
    print(f"final: {step} steps, {seen} views, {(time.time() - start) / 60:.1f} min; held-out top-1 exact {ex:.3f}, "
          f"within 1 {nr:.3f} (stand-in: {sx / st:.3f}, {sn / st:.3f})", flush=True)

    example = torch.rand(2, 3, INNER, INNER)
    traced = torch.jit.trace(model.to(memory_format=torch.contiguous_format), example)
    traced = torch.jit.freeze(traced.eval())
    traced.save(a.out)
    back = torch.jit.load(a.out)
    err = (back(example) - model(example)).abs().max().item()
    assert err < 1e-4, err
    print(f"wrote {a.out} ({os.path.getsize(a.out) / 1e6:.1f} MB)", flush=True)


if __name__ == "__main__":
    sys.exit(main())

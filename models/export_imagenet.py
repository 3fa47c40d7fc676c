#!/usr/bin/python3
# For users with internet access: exports torchvision's ImageNet-trained MobileNetV3-Small as a vidkompy
# embedder (TorchScript, N x 3 x 96 x 96 RGB in [0, 1] -> N x 576 pooled features), to try with
# `vidkompy --model imagenet.pt`. torchvision downloads the weights on first use (to ~/.cache/torch); machines
# without internet can run it with --no-weights, which only checks that the export works.
# Usage: models/export_imagenet.py [--out imagenet.pt] [--no-weights]
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision


class ImageNetEmbedder(nn.Module):
    def __init__(self, weights):
        super().__init__()
        self.features = torchvision.models.mobilenet_v3_small(weights=weights).features
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, x):
        # ImageNet features are learnt at 224 px; vidkompy hands over 96 px pictures.
        x = F.interpolate(x, size=224, mode="bilinear", align_corners=False)
        return self.features((x - self.mean) / self.std).mean((2, 3))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="imagenet.pt")
    p.add_argument("--no-weights", action="store_true", help="random weights: only checks the export")
    a = p.parse_args()
    weights = None if a.no_weights else torchvision.models.MobileNet_V3_Small_Weights.DEFAULT
    model = ImageNetEmbedder(weights).eval()
    example = torch.rand(2, 3, 96, 96)
    with torch.no_grad():
        traced = torch.jit.freeze(torch.jit.trace(model, example).eval())
    traced.save(a.out)
    print(f"wrote {a.out}: N x 3 x 96 x 96 -> N x {traced(example).shape[1]}")


if __name__ == "__main__":
    main()

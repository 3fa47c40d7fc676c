// Writes a fixed (untrained, not random) TorchScript embedder: a picture (sides divisible by 8) becomes its 8x8
// gray thumbnail, mean-removed and L2-normalised (64-d). It was the bundled model until the trained MobileNetV3
// replaced it; the tests now use it to check that --model takes any embedder, whatever its output size.
// Usage: make_stand_in_model OUT.pt
#include <torch/script.h>

#include <iostream>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_stand_in_model OUT.pt\n";
    return 1;
  }
  torch::jit::Module m("VidkompyThumbnailEmbedder");
  m.define(R"(
def forward(self, x):
    g = x[:, 0:1] * 0.299 + x[:, 1:2] * 0.587 + x[:, 2:3] * 0.114
    t = torch.mean(torch.reshape(g, [g.size(0), 8, g.size(2) // 8, 8, g.size(3) // 8]), [2, 4])
    v = torch.flatten(t, 1)
    v = v - torch.mean(v, 1, True)
    return v / (torch.norm(v, 2, 1, True) + 1e-6)
)");
  m.save(argv[1]);
  std::cout << "wrote " << argv[1] << "\n";
  return 0;
}

// Writes a fixed (untrained, not random) TorchScript embedder: a picture (sides divisible by 2 GRID) becomes its
// GRID x GRID thumbnail, mean-removed and L2-normalised (GRID² values), of a gray picture that is half brightness
// and half each pixel's rank among the picture's pixels. The rank half does not change with gamma, gain or
// contrast, so a regraded copy of a fade still finds its moment (models/README.md). With GRID 16 (the default)
// it is the bundled models/vidkompy-embedder.pt; the tests build an 8 x 8 one to check that --model takes any
// embedder.
// Usage: make_stand_in_model OUT.pt [GRID]
#include <torch/script.h>

#include <iostream>
#include <string>

int main(int argc, char** argv) {
  const int grid = argc == 3 ? std::atoi(argv[2]) : 16;
  if (argc < 2 || argc > 3 || grid < 1 || grid > 48) {
    std::cerr << "usage: make_stand_in_model OUT.pt [GRID]\n";
    return 1;
  }
  const std::string n = std::to_string(grid);
  torch::jit::Module m("VidkompyThumbnailEmbedder");
  // The ranks are taken at twice the grid (32 x 32 for 16): at 96 x 96 they cost 0.6 ms a frame in LibTorch on
  // one thread, and found the right frame about as often (models/README.md).
  const std::string r = std::to_string(2 * grid);
  m.define(R"(
def forward(self, x):
    g = x[:, 0:1] * 0.299 + x[:, 1:2] * 0.587 + x[:, 2:3] * 0.114
    t = torch.mean(torch.reshape(g, [g.size(0), )" + r + ", g.size(2) // " + r + ", " + r + ", g.size(3) // " + r + R"(]), [2, 4])
    f = torch.flatten(t, 1).contiguous()
    s, _ = torch.sort(f, 1)
    k = (torch.searchsorted(s, f) + torch.searchsorted(s, f, right=True)).to(f.dtype) * (0.5 / f.size(1))
    t = t * 0.5 + torch.reshape(k, t.size()) * 0.5
    t = torch.mean(torch.reshape(t, [t.size(0), )" + n + ", 2, " + n + R"(, 2]), [2, 4])
    v = torch.flatten(t, 1)
    v = v - torch.mean(v, 1, True)
    return v / (torch.norm(v, 2, 1, True) + 1e-6)
)");
  m.save(argv[1]);
  std::cout << "wrote " << argv[1] << "\n";
  return 0;
}

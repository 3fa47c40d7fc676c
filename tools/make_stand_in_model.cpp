// Writes a fixed (untrained, not random) TorchScript embedder: a picture (sides divisible by GRID) becomes its
// GRID x GRID gray thumbnail, mean-removed and L2-normalised (GRID² values). With GRID 16 (the default) it is the
// bundled models/vidkompy-embedder.pt; the tests build an 8 x 8 one to check that --model takes any embedder.
// Usage: make_stand_in_model OUT.pt [GRID]
#include <torch/script.h>

#include <iostream>
#include <string>

int main(int argc, char** argv) {
  const int grid = argc == 3 ? std::atoi(argv[2]) : 16;
  if (argc < 2 || argc > 3 || grid < 1 || grid > 96) {
    std::cerr << "usage: make_stand_in_model OUT.pt [GRID]\n";
    return 1;
  }
  const std::string n = std::to_string(grid);
  torch::jit::Module m("VidkompyThumbnailEmbedder");
  m.define(R"(
def forward(self, x):
    g = x[:, 0:1] * 0.299 + x[:, 1:2] * 0.587 + x[:, 2:3] * 0.114
    t = torch.mean(torch.reshape(g, [g.size(0), )" + n + ", g.size(2) // " + n + ", " + n + ", g.size(3) // " + n + R"(]), [2, 4])
    v = torch.flatten(t, 1)
    v = v - torch.mean(v, 1, True)
    return v / (torch.norm(v, 2, 1, True) + 1e-6)
)");
  m.save(argv[1]);
  std::cout << "wrote " << argv[1] << "\n";
  return 0;
}

// The error model's two helpers. Messages are one line each; main prefixes "vidkompy: error: ".
#include "vidkompy/types.hpp"

namespace vidkompy {

Status Status::Fail(int code, const std::string& file, const std::string& why) {
  Status s;
  s.code = code;
  std::string line = file.empty() ? why : file + ": " + why;
  for (char& c : line)
    if (c == '\n' || c == '\r') c = ' ';
  s.errors.push_back(std::move(line));
  return s;
}

Status& Status::merge(const Status& other) {
  if (other.ok()) return *this;
  if (ok()) code = other.code;
  errors.insert(errors.end(), other.errors.begin(), other.errors.end());
  return *this;
}

}  // namespace vidkompy

// The device checks load the plugins as the product does (dlopen, one entry point): PLUGIN from the command line,
// else `name` beside the check's binary. Returns the entry point `symbol`, or null after saying why on stderr.
#pragma once
#include <dlfcn.h>

#include <cstdio>
#include <string>

inline void* check_plugin_entry(int argc, char** argv, const char* name, const char* symbol) {
  std::string plugin = argc > 1 ? argv[1] : "";
  if (plugin.empty()) {
    const std::string self = argv[0];
    plugin = self.substr(0, self.find_last_of('/') + 1) + name;
  }
  void* handle = dlopen(plugin.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) return std::fprintf(stderr, "cannot load %s: %s\n", plugin.c_str(), dlerror()), nullptr;
  void* entry = dlsym(handle, symbol);
  if (!entry) std::fprintf(stderr, "%s: not a vidkompy plugin (no %s)\n", plugin.c_str(), symbol);
  return entry;
}

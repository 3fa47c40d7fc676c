#!/usr/bin/env python3
# Writes OUT_DIR/<soname of LIB>: a stub exporting every dynamic symbol LIB exports, with its soname and symbol
# versions; functions return "" (ffmpeg's banner compares
# libavdevice's configuration string) and objects are zero. Debian's FFmpeg is linked with BIND_NOW, so a library it
# needs must load even where no feature we use calls it (scripts/device_bundle.sh). Usage: stub_lib.py LIB OUT_DIR
import os, re, subprocess, sys, tempfile

lib, out = sys.argv[1], sys.argv[2]
dyn = subprocess.run(["readelf", "-d", lib], capture_output=True, text=True, check=True).stdout
soname = re.search(r"\(SONAME\)\s+Library soname: \[(.*)\]", dyn).group(1)
code, versions, seen = [], {}, set()
table = subprocess.run(["objdump", "-T", lib], capture_output=True, text=True, check=True).stdout
for line in table.splitlines():
    m = re.match(r"^[0-9a-f]{16} (.{7}) (.*)$", line)
    if not m:
        continue
    flags, parts = m.group(1), [p for p in m.group(2).split() if p not in (".protected", ".hidden", ".internal")]
    if len(parts) == 4:
        section, size, version, name = parts
    elif len(parts) == 3:
        (section, size, name), version = parts, ""
    else:
        continue
    if section in ("*UND*", "*ABS*") or ("g" not in flags and "w" not in flags) or name in ("_init", "_fini"):
        continue
    hidden, version = version.startswith("("), version.strip("()")
    versions.setdefault("" if version == "Base" else version, [])
    if hidden or name in seen:  # an older version of a symbol: its node must exist, the default serves callers
        continue
    seen.add(name)
    i = len(code)
    if "O" in flags:  # in .bss: the stub stays small however large the real object is
        code.append(f'char o{i}[{max(int(size, 16), 8)}] __asm__("{name}");')
    else:
        code.append(f'const char* f{i}(void) __asm__("{name}"); const char* f{i}(void) {{ return ""; }}')
    versions["" if version == "Base" else version].append(name)
with tempfile.TemporaryDirectory() as tmp:
    with open(f"{tmp}/s.c", "w") as f:
        f.write("\n".join(code) + "\n")
    args = ["gcc", "-shared", "-fPIC", "-o", f"{out}/{soname}", f"-Wl,-soname,{soname}", f"{tmp}/s.c"]
    named = [v for v in versions if v]
    if named:
        nodes = [f"{v} {{ global: {'; '.join(sorted(versions[v]))}; }};" if versions[v] else f"{v} {{ }};"
                 for v in named]
        if versions.get(""):
            nodes.insert(0, f"STUB_BASE {{ global: {'; '.join(versions[''])}; }};")
        with open(f"{tmp}/v.map", "w") as f:
            f.write("\n".join(nodes) + "\n")
        args.append(f"-Wl,--version-script={tmp}/v.map")
    subprocess.run(args, check=True)

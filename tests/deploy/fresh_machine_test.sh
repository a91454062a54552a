#!/usr/bin/env bash
# Would a bare Debian 12 machine have everything this build and its tests used? Each check maps
# what was used to the Debian package that owns it and fails unless scripts/install-deps.sh's
# lists pull that package in through Depends alone (it installs with --no-install-recommends, so
# a Recommends or a package installed by hand does not count).
#
#   tests/deploy/fresh_machine_test.sh SOURCE_DIR BUILD_DIR CHECK
#     build     every file under /usr that the CMake configure resolved (CMakeCache.txt: libraries,
#               include dirs, config files), every system header the compiler read (ninja's
#               deps log) and every header and library of the clang fuzz builds belongs to the
#               closure of BUILD_PACKAGES
#     runtime   every library `ldd` reports for bottleneckd and bottleneck belongs to the closure
#               of RUNTIME_PACKAGES, and the Dockerfile installs with the script in both stages
#     python    every module the Python tests import resolves, with /usr/bin/python3, to a file
#               owned by a package in the closure of BUILD_PACKAGES (or to the project itself)
#     datasets  every npm dataset the tests and engine read is in NPM_DATASETS and its directory
#               was unpacked by install-deps.sh (it records the npm spec it fetched)
#     node      the Node.js client's node_modules (BN_NODE_CLIENT_DIR) are exactly what
#               client/node/package-lock.json pins (each package's version and npm's integrity
#               hash, nothing more or less), installed by install-deps.sh from the current
#               lockfile; package.json pins exact versions; node and npm come from Debian
#               packages (nodejs, npm) and node is at least 18 (Debian 12's)
# Prints one line per problem, naming the file and the package; exit 1 if there is any.
set -euo pipefail
src="$(cd "$1" && pwd)"
build="$(cd "$2" && pwd)"
check="$3"
script="$src/scripts/install-deps.sh"
problems=0
fail() { echo "FAIL: $*"; problems=$((problems + 1)); }

# The packages a bare machine has after `apt-get install --no-install-recommends LIST`: LIST's
# Depends closure, plus the base system (Essential and Priority: required packages, which every
# Debian image has and which packages need not declare).
closure_of() {
  {
    # shellcheck disable=SC2046  # the list is words
    apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
      --no-replaces --no-enhances $(bash "$script" "$1") 2>/dev/null | grep -v '^ '
    dpkg-query -W -f='${Package} ${Essential} ${Priority}\n' |
      awk '$2 == "yes" || $3 == "required" {print $1}'
  } | sed 's/:amd64$//' | sort -u
}

# Reads paths on stdin; prints "PATH<TAB>OWNER1, OWNER2" for each existing one (no owners: no
# package has it). Reads dpkg's file lists once. A path no package lists is looked up as its
# merged-/usr twin (a package may list /lib/x.so for /usr/lib/x.so), then as its symlink target
# (alternatives such as /usr/bin/c++).
owners_of() {
  /usr/bin/python3 -c '
import glob, os, sys
owners = {}
for lst in glob.glob("/var/lib/dpkg/info/*.list"):
    pkg = os.path.basename(lst)[:-5].split(":")[0]
    with open(lst, errors="replace") as f:
        for line in f:
            owners.setdefault(line.rstrip("\n"), []).append(pkg)
for path in sys.stdin.read().split():
    if not os.path.exists(path):
        continue
    found = []  # owners of the first of: path, its /usr twin, its target, the target twin
    for p in (path, os.path.realpath(path)):
        for q in (p, p[4:] if p.startswith("/usr/") else "/usr" + p):
            found = found or owners.get(q, [])
    print(path + "\t" + ", ".join(found))
'
}

# Checks PATH<TAB>OWNERS lines on stdin against the closure in $1; $2 names what was used.
check_owners() {
  local closure="$1" what="$2" path owners owner ok n=0
  while IFS=$'\t' read -r path owners; do
    n=$((n + 1))
    if [ -z "$owners" ]; then
      # A directory no package lists (e.g. /usr/local) is part of the base layout; the files
      # found in it are checked one by one.
      [ -d "$path" ] && continue
      fail "$what $path belongs to no Debian package (installed by hand?)"
      continue
    fi
    ok=0
    IFS=', ' read -r -a list <<<"$owners"
    for owner in "${list[@]}"; do
      owner="${owner%%:*}"
      if grep -qxF "$owner" <<<"$closure"; then ok=1; break; fi
    done
    [ "$ok" = 1 ] || fail "$what $path comes from '$owners', which install-deps.sh does not" \
      "install on a bare machine (add it to its list; a Recommends is not installed)"
  done
  echo "checked $n $what paths"
}

case "$check" in
  build)
    # BUILD_PACKAGES, and Debian's nodejs and npm, which install-deps.sh installs on a machine
    # without Node.js (the configure finds node for the Node.js client's test).
    closure="$({ closure_of --print-build; closure_of --print-node-packages; } | sort -u)"
    [ -n "$closure" ] || { echo "FAIL: cannot compute the closure of BUILD_PACKAGES"; exit 1; }
    # Values of the configure's cache entries that are paths under /usr (lists split at ';').
    check_owners "$closure" "configure" < <(grep -oE '=/usr/[^;]*(;/usr/[^;]*)*' \
      "$build/CMakeCache.txt" | cut -c2- | tr ';' '\n' | sort -u | owners_of)
    # Every system header any object of the build read (ninja records them from -MD).
    if [ -f "$build/.ninja_deps" ]; then
      check_owners "$closure" "header" < <(ninja -C "$build" -t deps 2>/dev/null |
        sed -n 's/^ *\(\/usr\/[^ ]*\)$/\1/p' | sort -u | owners_of)
    else
      fail "no ninja deps log in $build: build with -G Ninja first"
    fi
    # The fuzz targets are compiled and linked by clang outside CMake (tests/fuzz/run_fuzzers.sh
    # leaves -MD dependency files and the linker's --trace in $build/fuzz/obj).
    if compgen -G "$build/fuzz/obj/*.d" >/dev/null; then
      check_owners "$closure" "fuzz build" < <(cat "$build"/fuzz/obj/*.d \
        "$build"/fuzz/obj/*.link-inputs 2>/dev/null | tr ' ()' '\n\n\n' |
        grep -oE '^/usr/[^:]+' | sort -u | owners_of)
    fi
    ;;
  runtime)
    closure="$(closure_of --print-runtime)"
    for binary in "$build/server/bottleneckd" "$build/client/bottleneck"; do
      check_owners "$closure" "library of $(basename "$binary"):" < <(ldd "$binary" |
        awk '/=>/ {print $3}' | owners_of)
    done
    grep -q 'scripts/install-deps.sh --runtime' "$src/Dockerfile" ||
      fail "the Dockerfile's runtime stage does not use install-deps.sh --runtime"
    grep -q 'bash scripts/install-deps.sh' "$src/Dockerfile" ||
      fail "the Dockerfile's build stage does not use install-deps.sh"
    ;;
  python)
    closure="$(closure_of --print-build)"
    check_owners "$closure" "interpreter" < <(owners_of <<<"/usr/bin/python3")
    # Top-level modules imported by the tests' Python files and by `python3 -c` snippets in
    # C++ tests; project modules (under the source or build tree) are the project's own.
    modules="$(/usr/bin/python3 - "$src" <<'EOF'
import ast, pathlib, re, sys
src = pathlib.Path(sys.argv[1])
files = [p for d in ("tests", "client/python") for p in (src / d).rglob("*.py")]
names = set()
for path in files:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "importorskip"
              and node.args and isinstance(node.args[0], ast.Constant)):
            names.add(node.args[0].value.split(".")[0])  # pytest.importorskip("scipy.sparse")
for path in (src / "tests").rglob("*.cc"):
    for snippet in re.findall(r'python3 -c[^;]*?import ([\w., ]+)', path.read_text()):
        names.update(n.strip().split(".")[0] for n in snippet.split(",") if n.strip())
print("\n".join(sorted(names)))
EOF
)"
    [ -n "$modules" ] || fail "found no imports in the Python tests (the scan is broken)"
    # The client package and the tests' conftest resolve to the project's own sources.
    origins="$(PYTHONPATH="$build/python:$src/client/python:$src/client/python/tests" \
      /usr/bin/python3 - "$src" "$build" $modules <<'EOF'
import importlib.util, sys
src, build = sys.argv[1], sys.argv[2]
for name in sys.argv[3:]:
    spec = importlib.util.find_spec(name)
    if spec is None:
        print(f"MISSING\t{name}")
    elif spec.origin in (None, "built-in", "frozen") or not spec.has_location:
        continue  # compiled into the interpreter
    elif spec.origin.startswith((src + "/", build + "/")):
        continue  # the project's own (e.g. the generated API stubs)
    else:
        print(spec.origin)
EOF
)"
    while IFS=$'\t' read -r tag name; do
      [ "$tag" = MISSING ] && fail "module '$name' is imported by a test but not installed"
    done < <(grep '^MISSING' <<<"$origins" || true)
    check_owners "$closure" "python module" < <(grep -v '^MISSING' <<<"$origins" | owners_of)
    echo "modules: $(tr '\n' ' ' <<<"$modules")"
    ;;
  datasets)
    datasets="$(sed -n 's/^BN_DATASETS_DIR:PATH=//p' "$build/CMakeCache.txt")"
    listed="$(bash "$script" --print-datasets)"
    # Directory names read under the datasets directory by tests, the engine and benchmarks.
    used="$(grep -rhoE '(BN_DATASETS_DIR\)?|datasets_dir) *\+ *"/[A-Za-z0-9._-]+' \
      "$src/tests" "$src/engine" "$src/bench" | sed 's/.*"\///' | sort -u)"
    [ -n "$used" ] || fail "found no dataset directory in the sources (the scan is broken)"
    for dir in $used; do
      spec="$(awk -v d="$dir" '$2 == d {print $1}' <<<"$listed")"
      if [ -z "$spec" ]; then
        fail "dataset '$dir' is read by the code but install-deps.sh's NPM_DATASETS lacks it"
      elif [ "$(cat "$datasets/$dir/.bottleneck-npm-source" 2>/dev/null)" != "$spec" ]; then
        fail "$datasets/$dir was not unpacked by install-deps.sh from $spec (copied by hand?)"
      else
        echo "dataset $dir: $spec"
      fi
    done
    ;;
  node)
    dir="$(sed -n 's/^BN_NODE_CLIENT_DIR:PATH=//p' "$build/CMakeCache.txt")"
    lock="$src/client/node/package-lock.json"
    [ -n "$dir" ] || fail "no BN_NODE_CLIENT_DIR in $build/CMakeCache.txt"
    for tool in node npm; do
      path="$(command -v "$tool" || true)"
      if [ -z "$path" ]; then
        fail "$tool is not installed (install-deps.sh installs Debian's nodejs and npm)"
        continue
      fi
      owners="$(owners_of <<<"$path" | cut -f2)"
      case ", $owners," in
        *", nodejs,"* | *", npm,"*) echo "$tool: $path from $owners" ;;
        *) fail "$tool ($path) comes from '${owners:-no package}', not Debian's nodejs/npm" ;;
      esac
    done
    major="$(node --version 2>/dev/null | sed 's/^v\([0-9]*\).*/\1/')"
    [ "${major:-0}" -ge 18 ] || fail "node $(node --version 2>/dev/null) is older than Debian 12's 18"
    [ "$(cat "$dir/.bottleneck-lock-sha256" 2>/dev/null)" = "$(sha256sum "$lock" | cut -d' ' -f1)" ] ||
      fail "$dir was not installed by install-deps.sh from the current $lock (run it again)"
    # Compares the installed tree with the lockfile; prints one line per difference.
    while IFS= read -r problem; do fail "$problem"; done < <(/usr/bin/python3 - "$src" "$dir" <<'PY'
import json, pathlib, re, sys
src, target = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
manifest = json.loads((src / "client/node/package.json").read_text())
for name, spec in manifest.get("dependencies", {}).items():
    if not re.fullmatch(r"\d+\.\d+\.\d+", spec):
        print(f"client/node/package.json: {name} is '{spec}', not an exact version")
lock = {k: v for k, v in json.loads((src / "client/node/package-lock.json").read_text())
        ["packages"].items() if k}
for path, entry in lock.items():
    if not entry.get("integrity", "").startswith("sha512-"):
        print(f"package-lock.json: {path} has no sha512 integrity hash")
modules = target / "node_modules"
installed = {}
for package in modules.rglob("package.json"):
    relative = package.parent.relative_to(target).as_posix()
    # A package directory is node_modules/NAME or node_modules/@SCOPE/NAME (possibly nested).
    if re.fullmatch(r"node_modules/(@[^/]+/)?[^/@]+(/node_modules/(@[^/]+/)?[^/@]+)*", relative):
        installed[relative] = json.loads(package.read_text()).get("version")
hidden_file = modules / ".package-lock.json"  # npm ci's record of what it installed
hidden = json.loads(hidden_file.read_text())["packages"] if hidden_file.is_file() else {}
for path, entry in lock.items():
    if path not in installed:
        print(f"{target}/{path} ({entry['version']}) is in the lockfile but not installed")
    elif installed[path] != entry["version"]:
        print(f"{target}/{path} is {installed[path]}, the lockfile pins {entry['version']}")
    elif hidden.get(path, {}).get("integrity") != entry.get("integrity"):
        print(f"{target}/{path}: npm's record of its integrity differs from the lockfile's")
for path in sorted(set(installed) - set(lock)):
    print(f"{target}/{path} ({installed[path]}) is installed but not in the lockfile")
PY
)
    echo "node $(node --version); $(grep -c '"node_modules/' "$lock") locked packages in $dir"
    ;;
  *)
    echo "usage: $0 SOURCE_DIR BUILD_DIR build|runtime|python|datasets|node" >&2
    exit 2
    ;;
esac
if [ "$problems" -ne 0 ]; then
  echo "$problems problem(s): a bare Debian 12 machine running scripts/install-deps.sh would lack these"
  exit 1
fi
echo "OK: everything $check uses comes from install-deps.sh"

"""The quick start of client/python/README.md (the same as the top README's) and example.py run
as written against a live server."""
import os
import pathlib
import re
import subprocess
import sys

from conftest import FASHION_MNIST

HERE = pathlib.Path(__file__).resolve().parent
PACKAGE_README = HERE.parent / "README.md"
TOP_README = HERE.parent.parent.parent / "README.md"


def quick_start(readme):
    """The first python block after the '## Quick start' heading (or '### Python')."""
    text = readme.read_text()
    heading = re.search(r"^#+ (Quick start|Python)\b.*$", text, re.MULTILINE)
    assert heading, f"no quick start heading in {readme}"
    block = re.search(r"```python\n(.*?)```", text[heading.end():], re.DOTALL)
    assert block, f"no python block in {readme}"
    return block.group(1)


def run(script, server, cwd):
    script = script.replace('"127.0.0.1:50051"', f'"{server.address}"')
    script = script.replace("/usr/share/datasets/fashion-mnist/", FASHION_MNIST.rstrip("/") + "/")
    return subprocess.run([sys.executable, "-c", script], cwd=cwd, capture_output=True,
                          text=True, timeout=600)


def test_the_quick_start_runs_and_both_readmes_show_it(server, tmp_path):
    code = quick_start(PACKAGE_README)
    assert quick_start(TOP_README) == code
    assert len([line for line in code.splitlines() if line.strip()]) <= 15
    result = run(code, server, tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "state='SUCCEEDED'" in lines[-3], result.stdout  # The last progress update.
    error = re.search(r"^error (\S+) PCA (\S+)$", result.stdout, re.MULTILINE)
    assert error and 0 < float(error.group(1)) < float(error.group(2)), result.stdout
    hits = lines[-1]
    assert hits.startswith("[SearchHit(id=") and hits.count("SearchHit(") == 5, hits


def test_example_runs(server, tmp_path):
    # -P: not the script's directory first on sys.path, so it imports the installed package.
    result = subprocess.run([sys.executable, "-P", str(HERE.parent / "example.py"), "--server",
                             server.address], cwd=tmp_path, capture_output=True, text=True,
                            timeout=600, env=dict(os.environ))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith("ok"), result.stdout
    assert "as expected: NOT_FOUND" in result.stdout

"""Fixtures: a live bottleneckd on a free loopback port ($BOTTLENECKD, as CTest sets it), clients
and synthetic data. Run through client/python/run_tests.sh, which installs the package into a
venv first."""
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request

import numpy as np
import pytest

from bottleneck_client import Client, RetryPolicy

BOTTLENECKD = os.environ.get("BOTTLENECKD", "")
FASHION_MNIST = os.environ.get("BN_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
# Retries off unless a test wants them: a refusal must show, not be retried away.
NO_RETRY = RetryPolicy(max_attempts=1)


class Server:
    """bottleneckd as a child process with its own data directory (removed by stop())."""

    def __init__(self, *flags, listen="127.0.0.1:0"):
        if not os.access(BOTTLENECKD, os.X_OK):
            raise RuntimeError(f"set BOTTLENECKD to the server binary (got {BOTTLENECKD!r})")
        self.dir = tempfile.mkdtemp(prefix="bn-pytest-")
        self.stdout = open(os.path.join(self.dir, "stdout"), "w+")
        self.stderr = open(os.path.join(self.dir, "stderr"), "w+")
        # Background work at normal priority, as the C++ integration tests run it: on a loaded
        # machine SCHED_IDLE training could starve.
        self.process = subprocess.Popen(
            [BOTTLENECKD, f"--listen={listen}", f"--data-dir={self.dir}/data",
             "--training-nice=0", "--ingest-nice=0", "--background-nice=0", *flags],
            stdout=self.stdout, stderr=self.stderr)
        banner = ""
        deadline = time.monotonic() + 60
        while "listening on" not in banner:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"bottleneckd did not start: {self.log()}")
            time.sleep(0.05)
            self.stdout.seek(0)
            banner = self.stdout.read()
        self.banner = banner
        self.address = re.search(r"listening on (\S+) ", banner).group(1)
        metrics = re.search(r"http://(\S+)/metrics", banner)
        self.metrics_url = f"http://{metrics.group(1)}/metrics" if metrics else None

    def log(self):
        self.stderr.seek(0)
        return self.stderr.read()[-4000:]

    def metric(self, name, **labels):
        """A sample's value from the Prometheus endpoint (--metrics-listen)."""
        with urllib.request.urlopen(self.metrics_url, timeout=10) as response:
            text = response.read().decode()
        selector = ",".join(f'{k}="{v}"' for k, v in labels.items())
        pattern = re.escape(name + (f"{{{selector}}}" if selector else "")) + r" (\S+)"
        match = re.search(pattern, text)
        return float(match.group(1)) if match else None

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.stdout.close()
        self.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class ExternalServer:
    """A server started elsewhere ($BOTTLENECK_SERVER_ADDRESS: scripts/build-image.sh runs the
    tests against the container image's bottleneckd)."""

    def __init__(self, address):
        self.address = address
        self.metrics_url = None

    def log(self):
        return ""


@pytest.fixture(scope="session")
def server():
    if os.environ.get("BOTTLENECK_SERVER_ADDRESS"):
        yield ExternalServer(os.environ["BOTTLENECK_SERVER_ADDRESS"])
        return
    s = Server()
    yield s
    s.stop()


@pytest.fixture
def client(server):
    with Client(server.address, retry=NO_RETRY) as c:
        yield c


@pytest.fixture
def name(request):
    """A collection name unique to the test."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", request.node.name)[:64]


def synthetic_images(labels, seed=0, size=8):
    """size x size uint8 images: the left or right half bright by label parity, brightness by
    label, plus noise. Four labels separate well with a code of 2-4 values."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    images = np.full((len(labels), size, size), 20, dtype=np.int32)
    for i, label in enumerate(labels):
        half = slice(0, size // 2) if label % 2 == 0 else slice(size // 2, size)
        images[i, :, half] = 40 + 60 * int(label)
    images += rng.integers(-15, 16, size=images.shape)
    return np.clip(images, 0, 255).astype(np.uint8)


@pytest.fixture
def served(client, name):
    """An 8x8 grey collection with a 'train' dataset of 400 images and a promoted PCA-4 model;
    returns its name."""
    labels = np.arange(400) % 4
    client.create_collection(name, image=(8, 8, 1))
    client.upload_dataset(name, "train", images=synthetic_images(labels), labels=labels)
    client.train(name, "train", pca=4, promote=True)
    return name


def fashion_mnist(kind, count):
    """The first `count` Fashion-MNIST images (Nx28x28 uint8) and labels of 'train' or 't10k'
    (Debian's dataset-fashion-mnist)."""
    import gzip
    path = pathlib.Path(FASHION_MNIST)
    with gzip.open(path / f"{kind}-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)[:count]
    with gzip.open(path / f"{kind}-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)[:count]
    return images, labels

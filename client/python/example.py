#!/usr/bin/python3
"""The bottleneck_client package end to end on synthetic images (no dataset needed): create a
collection, upload a dataset, train a small dense auto-encoder with a progress line, promote it,
upsert items with metadata, search (plainly and with a filter), list the matching items, encode
and decode, then delete the collection.

    pip install --no-build-isolation --no-deps ./client/python   # once (see README.md)
    python3 client/python/example.py --server 127.0.0.1:50051

The images are 8x8 grey: four classes of brightness patterns plus noise.
"""
import argparse
import sys

import numpy as np

from bottleneck_client import BottleneckError, Client, F


def synthetic_images(labels, rng):
    """Nx8x8 uint8 images whose left or right half is bright, by label."""
    images = np.full((len(labels), 8, 8), 20, dtype=np.int32)
    for i, label in enumerate(labels):
        half = slice(0, 4) if label % 2 == 0 else slice(4, 8)
        images[i, :, half] = 40 + 60 * label
    images += rng.integers(-15, 16, size=images.shape)
    return np.clip(images, 0, 255).astype(np.uint8)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="127.0.0.1:50051")
    parser.add_argument("--token", default=None, help="an admin token, if the server has them")
    parser.add_argument("--tls-ca", default=None, help="PEM CA file, if the server uses TLS")
    parser.add_argument("--collection", default="python-example")
    args = parser.parse_args()
    rng = np.random.default_rng(7)

    with Client(args.server, token=args.token, tls_ca=args.tls_ca) as client:
        # "n" is declared numeric so that filters may take ranges on it.
        client.create_collection(args.collection, image=(8, 8, 1), numeric_metadata_keys=["n"])
        labels = np.arange(400) % 4
        dataset = client.upload_dataset(args.collection, "train",
                                        images=synthetic_images(labels, rng), labels=labels)
        print(f"uploaded {dataset.example_count} examples ({dataset.labelled_count} labelled)")

        def progress(p):
            eta = "?" if p.eta_seconds is None else f"{p.eta_seconds:.0f} s"
            print(f"  {p.state} {p.phase} {p.phase_index}/{p.phase_count} epoch "
                  f"{p.epoch}/{p.epochs} loss {p.loss:.4f} ETA {eta}")

        model = client.train(args.collection, "train", dense=[32], code_size=4, epochs=30,
                             learning_rate=0.01, seed=1, promote=True, on_progress=progress)
        print(f"model v{model.version} ({model.kind}): validation error "
              f"{model.report.reconstruction_error:.2f} vs PCA "
              f"{model.report.pca_reconstruction_error:.2f}; serving")

        test_labels = np.arange(100) % 4
        result = client.upsert(args.collection, [f"img-{i}" for i in range(100)],
                               images=synthetic_images(test_labels, rng), labels=test_labels,
                               metadata=[{"n": str(i)} for i in range(100)])
        print(f"upserted {result.upserted} items")

        hits = client.search(args.collection, image=synthetic_images([2], rng)[0], k=5)
        print("neighbours:", [(h.id, round(h.distance, 3), h.label) for h in hits])
        if [h.label for h in hits].count("2") < 4:
            sys.exit(f"expected mostly label 2, got {[h.label for h in hits]}")
        # Only items labelled 1 or 3 with n < 50: the server filters during the index walk,
        # so 5 hits come back (25 items match).
        wanted = F.label.in_(["1", "3"]) & (F.meta("n") < 50)
        hits = client.search(args.collection, image=synthetic_images([3], rng)[0], k=5,
                             filter=wanted)
        print("filtered:", [(h.id, h.label, h.metadata["n"]) for h in hits])
        if len(hits) != 5 or any(h.label not in "13" or int(h.metadata["n"]) >= 50
                                 for h in hits):
            sys.exit("the filtered search returned items outside the filter")
        listed = [item.id for item in client.list_items(args.collection, filter=wanted,
                                                        page_size=10)]
        print(f"listed {len(listed)} matching items in pages of 10; count_items says "
              f"{client.count_items(args.collection, wanted)}")
        codes = client.encode(args.collection, images=synthetic_images([0, 1], rng))
        images = client.decode(args.collection, codes)
        print(f"codes {codes.shape} {codes.dtype} -> images {images.shape} {images.dtype}")
        try:
            client.search("no-such-collection", item_id="x")
            sys.exit("expected NOT_FOUND")
        except BottleneckError as error:
            print(f"as expected: {error.code.name}")
        client.delete_collection(args.collection)
    print("ok")


if __name__ == "__main__":
    main()

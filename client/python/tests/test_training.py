"""Training jobs (watch, cancel, resume), model versions and promotion."""
import grpc
import numpy as np
import pytest

from bottleneck_client import BottleneckError, Client
from conftest import NO_RETRY, synthetic_images


@pytest.fixture
def dataset(client, name):
    labels = np.arange(400) % 4
    client.create_collection(name, image=(8, 8, 1))
    client.upload_dataset(name, "train", images=synthetic_images(labels), labels=labels)
    return name


def test_train_reports_progress_and_returns_the_model(client, dataset):
    updates = []
    model = client.train(dataset, "train", pca=4, on_progress=updates.append)
    assert (model.collection, model.version, model.kind, model.code_size) == (dataset, 1, "pca", 4)
    assert not model.serving
    report = model.report
    assert report.validation_items == 40  # 10 % of 400 by default.
    assert 0 <= report.reconstruction_error == pytest.approx(report.pca_reconstruction_error)
    assert report.precision_at_10 > 0.9  # Four well separated labels.
    # WatchJob may skip updates of a job this short, never the final state.
    assert updates[-1].state == "SUCCEEDED"
    assert all(u.phase in ("", "evaluate") or u.phase.startswith("PCA") for u in updates)
    assert all(u.job_id == model.job_id for u in updates)
    job = client.get_job(model.job_id)
    assert (job.state, job.model_version, job.done) == ("SUCCEEDED", 1, True)


def test_train_dense_promote_waits_for_the_switch(client, dataset):
    promotions = []
    model = client.train(dataset, "train", dense=[16], code_size=3, activation="relu", epochs=3,
                         seed=1, promote=True, on_promotion=promotions.append)
    assert model.kind == "dense" and model.serving
    assert model.report.epochs_run == 3 and len(client.get_job(model.job_id).history) >= 3
    # The switch is done when train() returns: a search works at once.
    assert client.get_collection(dataset).stats.serving_model_version == model.version
    client.upsert(dataset, ["a"], images=synthetic_images([1]))
    assert [h.id for h in client.search(dataset, item_id="a", k=1)] == []
    assert len(client.search(dataset, image=synthetic_images([1])[0], k=1)) == 1


def test_conv_architecture(client, dataset):
    model = client.train(dataset, "train", conv=[4], kernel=3, pool=2, conv_dense=[8],
                         unpooling="switches", code_size=3, epochs=1, seed=1)
    assert model.kind == "conv"
    layer = model.spec.conv.encoder[0]
    assert (layer.filters, layer.kernel_size, layer.pool_size) == (4, 3, 2)
    assert list(model.spec.conv.dense_sizes) == [8]


def test_jobs_list_get_cancel_resume(client, dataset):
    job = client.start_training(dataset, "train", dense=[64, 64], code_size=3, epochs=10000,
                                description="long")
    assert job.state in ("QUEUED", "RUNNING") and job.description == "long"
    assert job.id in [j.id for j in client.list_jobs(dataset)]
    assert job.id in [j.id for j in client.list_jobs()]
    seen = []

    def cancel_when_running(progress):
        seen.append(progress.state)
        if progress.state == "RUNNING" and len(seen) == 2:
            client.cancel_job(job.id)

    final = client.watch_job(job.id, on_progress=cancel_when_running)
    assert final.state == "CANCELLED" and final.done
    assert client.cancel_job(job.id).state == "CANCELLED"  # A no-op on a finished job.
    with pytest.raises(BottleneckError) as error:
        client.resume_job(job.id)  # Only INTERRUPTED jobs resume.
    assert error.value.code == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(BottleneckError) as error:
        client.get_job("no-such-job")
    assert error.value.code == grpc.StatusCode.NOT_FOUND


def test_a_failed_job_raises_aborted(client, dataset):
    with pytest.raises(BottleneckError) as error:
        client.train(dataset, "train", dense=[16], code_size=3, epochs=5, optimizer="sgd",
                     learning_rate=10, momentum=0.99)
    assert error.value.code == grpc.StatusCode.ABORTED
    assert "diverged" in error.value.message and error.value.job
    assert client.get_job(error.value.job).state == "FAILED"


def test_a_cancelled_train_raises_cancelled(client, server, dataset):
    other = Client(server.address, retry=NO_RETRY)

    def cancel_running(progress):
        if progress.state == "RUNNING":
            other.cancel_job(progress.job_id)

    with pytest.raises(BottleneckError) as error:
        client.train(dataset, "train", dense=[64, 64], code_size=3, epochs=10000,
                     on_progress=cancel_running)
    assert error.value.code == grpc.StatusCode.CANCELLED
    other.close()


def test_bad_specs_are_refused_at_start(client, dataset):
    with pytest.raises(BottleneckError) as error:
        client.train(dataset, "train", lsa=4)  # LSA is for documents.
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(BottleneckError) as error:
        client.train(dataset, "no-such-dataset", pca=4)
    assert error.value.code == grpc.StatusCode.NOT_FOUND
    assert client.list_jobs(dataset) == []  # A refused request changes nothing.


def test_models_and_promotion(client, dataset):
    first = client.train(dataset, "train", pca=2, promote=True)
    second = client.train(dataset, "train", pca=4)
    assert [m.version for m in client.list_models(dataset)] == [2, 1]  # Newest first.
    assert client.get_model(dataset, 1).serving and not client.get_model(dataset, 2).serving
    client.upsert(dataset, [f"i{i}" for i in range(300)],
                  images=synthetic_images(np.arange(300) % 4))
    progress = []
    collection = client.promote(dataset, second.version, on_progress=progress.append)
    assert collection.stats.serving_model_version == 2 and collection.stats.promotion is None
    assert all(p.target_model_version == 2 and p.items_total in (0, 300) for p in progress)
    assert client.get_model(dataset, 2).serving
    assert client.promote(dataset, 2).stats.serving_model_version == 2  # Idempotent.
    started = client.promote(dataset, first.version, wait=False)
    assert started.stats.serving_model_version in (1, 2)
    assert client.promote(dataset, 1).stats.serving_model_version == 1  # Waits.
    with pytest.raises(BottleneckError) as error:
        client.promote(dataset, 9)
    assert error.value.code == grpc.StatusCode.NOT_FOUND
    with pytest.raises(BottleneckError) as error:
        client.get_model(dataset, 9)
    assert error.value.code == grpc.StatusCode.NOT_FOUND


def test_train_with_promote_without_waiting(client, dataset):
    model = client.train(dataset, "train", pca=3, promote=True, wait=False)
    assert model.version == 1
    # The server promotes on its own; promote() joins it (idempotent) and waits.
    assert client.promote(dataset, 1, timeout=60).stats.serving_model_version == 1

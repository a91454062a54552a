"""Bearer tokens (admin and query roles) and TLS against a server configured with them."""
import subprocess

import grpc
import numpy as np
import pytest

from bottleneck_client import BottleneckError, Client
from conftest import NO_RETRY, Server, synthetic_images

ADMIN, QUERY = "admin-secret-123", "query-secret-456"


@pytest.fixture(scope="module")
def token_server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tokens")
    (directory / "admin").write_text(ADMIN + "\n")
    (directory / "query").write_text(QUERY + "\n")
    s = Server(f"--admin-token-file={directory / 'admin'}",
               f"--query-token-file={directory / 'query'}")
    yield s
    s.stop()


def code_of(call):
    try:
        call()
    except BottleneckError as error:
        return error.code
    return grpc.StatusCode.OK


def test_admin_and_query_tokens(token_server):
    admin = Client(token_server.address, token=ADMIN, retry=NO_RETRY)
    query = Client(token_server.address, token=QUERY, retry=NO_RETRY)
    anonymous = Client(token_server.address, retry=NO_RETRY)
    wrong = Client(token_server.address, token="wrong", retry=NO_RETRY)
    labels = np.arange(100) % 4
    admin.create_collection("c", image=(8, 8, 1))
    admin.upload_dataset("c", "train", images=synthetic_images(labels), labels=labels)
    admin.train("c", "train", pca=4, promote=True)
    admin.upsert("c", ["a", "b"], images=synthetic_images([0, 1]))
    # A query token: queries and the read-only collection and model methods.
    assert [c.name for c in query.list_collections()] == ["c"]
    assert query.get_collection("c").stats.item_count == 2
    assert len(query.search("c", item_id="a", k=1)) == 1
    assert query.encode("c", images=synthetic_images([2])).shape == (1, 4)
    assert [m.version for m in query.list_models("c")] == [1]
    for call in (lambda: query.create_collection("q", image=(8, 8, 1)),
                 lambda: query.upsert("c", ["x"], images=synthetic_images([0])),
                 lambda: query.upload_dataset("c", "x", images=synthetic_images([0])),
                 lambda: query.train("c", "train", pca=2),
                 lambda: query.list_datasets("c"),
                 lambda: query.promote("c", 1),
                 lambda: query.delete_collection("c")):
        assert code_of(call) == grpc.StatusCode.PERMISSION_DENIED
    for client in (anonymous, wrong):
        assert code_of(client.list_collections) == grpc.StatusCode.UNAUTHENTICATED
        assert code_of(lambda: client.search("c", item_id="a")) == \
            grpc.StatusCode.UNAUTHENTICATED
    assert anonymous.health() == "SERVING"  # Health stays open for probes.
    assert admin.get_collection("c").stats.item_count == 2  # Nothing changed.
    assert ADMIN not in token_server.log() and QUERY not in token_server.log()
    for c in (admin, query, anonymous, wrong):
        c.close()


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tls")
    subprocess.run(["/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", directory / "key.pem", "-out", directory / "cert.pem", "-days",
                    "1", "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    s = Server(f"--tls-cert={directory / 'cert.pem'}", f"--tls-key={directory / 'key.pem'}")
    s.ca = directory / "cert.pem"
    yield s
    s.stop()


def test_tls_with_the_servers_ca(tls_server):
    with Client(tls_server.address, tls_ca=tls_server.ca, retry=NO_RETRY) as secure:
        secure.create_collection("t", image=(8, 8, 1))
        assert secure.health() == "SERVING"
    with Client(tls_server.address, tls_ca=tls_server.ca.read_bytes(), retry=NO_RETRY) as c:
        assert [x.name for x in c.list_collections()] == ["t"]
    # Plaintext, or TLS trusting only the system's roots, cannot talk to it.
    for client in (Client(tls_server.address, retry=NO_RETRY),
                   Client(tls_server.address, tls=True, retry=NO_RETRY)):
        assert code_of(client.list_collections) == grpc.StatusCode.UNAVAILABLE
        client.close()
    with pytest.raises(BottleneckError, match="cannot read"):
        Client(tls_server.address, tls_ca="/no/such/ca.pem")

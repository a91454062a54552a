"""Document collections: texts, word ids (lists and scipy.sparse), words, binary codes."""
import grpc
import numpy as np
import pytest

from bottleneck_client import BottleneckError, WordWeight

TOPICS = 4
WORDS_PER_TOPIC = 10
# Letters only: the tokenizer splits words at digits.
VOCABULARY = [f"topic{'abcd'[t]}word{'abcdefghij'[w]}" for t in range(TOPICS)
              for w in range(WORDS_PER_TOPIC)]


def topic_documents(count, seed=0):
    """(word id lists, labels): each document draws 12 words, mostly from its topic's ten."""
    rng = np.random.default_rng(seed)
    documents, labels = [], []
    for i in range(count):
        topic = i % TOPICS
        own = rng.integers(0, WORDS_PER_TOPIC, size=10) + topic * WORDS_PER_TOPIC
        noise = rng.integers(0, len(VOCABULARY), size=2)
        documents.append([int(w) for w in np.concatenate([own, noise])])
        labels.append(f"t{topic}")
    return documents, labels


def test_texts_word_ids_and_words(client, name):
    scipy_sparse = pytest.importorskip("scipy.sparse")
    client.create_collection(name, vocabulary=VOCABULARY, allow_raw_text=True)
    documents, labels = topic_documents(200)
    texts = [" ".join(VOCABULARY[w] for w in d) for d in documents]
    assert client.upload_dataset(name, "texts", texts=texts, labels=labels).example_count == 200
    matrix = scipy_sparse.lil_matrix((200, len(VOCABULARY)), dtype=np.float32)
    for i, d in enumerate(documents):
        for w in d:
            matrix[i, w] += 1
    dataset = client.upload_dataset(name, "ids", word_ids=matrix, labels=labels)
    assert dataset.example_count == 200
    model = client.train(name, "ids", lsa=8, promote=True)
    assert (model.kind, model.code_size) == ("lsa", 8)
    assert model.report.precision_at_10 > 0.8
    docs = [texts[0], {VOCABULARY[w]: 1 for w in documents[1]}, documents[2],
            (documents[3], [1.0] * len(documents[3])), {w: 2.0 for w in documents[4]}]
    client.upsert(name, [f"d{i}" for i in range(5)], docs=docs, labels=labels[:5])
    client.upsert(name, [f"m{i}" for i in range(40)], word_ids=matrix[:40], labels=labels[:40])
    hits = client.search(name, text="topiccwordb topiccwordd topiccwordf topiccwordh", k=5)
    assert [h.label for h in hits].count("t2") >= 4
    assert client.search(name, doc={"topicbwordb": 3, "topicbwordc": 1}, k=1)[0].label == "t1"
    codes = client.encode(name, texts=texts[:3])
    assert codes.shape == (3, 8) and codes.dtype == np.float32
    words = client.decode(name, codes[0], top_words=5)
    assert len(words) == 5 and all(isinstance(w, WordWeight) for w in words)
    assert words[0].word.startswith("topica")


def test_binary_codes(client, name):
    client.create_collection(name, vocabulary=VOCABULARY, binary=True)
    documents, labels = topic_documents(400, seed=1)
    client.upload_dataset(name, "train", word_ids=documents, labels=labels)
    model = client.train(name, "train", dense=[32], code_size=16, code_noise=4, epochs=20,
                         seed=1, promote=True)
    assert model.spec.dense.binary.noise_stddev == 4
    client.upsert(name, [f"d{i}" for i in range(40)], word_ids=documents[:40],
                  labels=labels[:40])
    codes = client.encode(name, word_ids=documents[:40])
    assert codes.dtype == np.bool_ and codes.shape == (40, 16)
    stored = client.get_item(name, "d3", include_code=True).code
    assert np.array_equal(stored, codes[3])
    hits = client.search(name, code=codes[3], k=3, exact=True)
    assert hits[0].distance == 0  # Hamming distance to itself.
    words = client.decode(name, codes[:2])
    assert len(words) == 2 and len(words[0]) == 20  # The server's default top words.


def test_document_errors(client, name):
    client.create_collection(name, vocabulary=VOCABULARY)
    with pytest.raises(BottleneckError) as error:
        client.upload_dataset(name, "ids", word_ids=[[len(VOCABULARY) + 5]])
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "examples[0]" in error.value.message
    with pytest.raises(BottleneckError, match="non-negative"):
        client.upload_dataset(name, "ids", word_ids=[([-3], [1])])
    with pytest.raises(BottleneckError) as error:
        client.upload_dataset(name, "img", images=np.zeros((1, 4, 4), np.uint8))
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert client.list_datasets(name) == []
